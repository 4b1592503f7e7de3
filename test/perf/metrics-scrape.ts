// What one GET /metrics costs the sidecar's event loop at the label cap (issue #16: ≤ 5 ms).
// ProxyMetrics.scrape() renders one metric family at a time and yields between families, so the
// event loop is held for at most the largest family: that stall is what a request would see, and
// is measured here (ProxyMetrics.longestSliceMs), beside the whole scrape's wall and CPU time.
//
// Run: node --import tsx test/perf/metrics-scrape.ts [maxIdentities]
// Fills a ProxyMetrics past the cap with tenant and user labels on (twice as many identities as
// the cap admits, each seen with 3 outcomes and usage), every priced model on both providers with
// 3 outcomes, and 10,000 budget keys; then scrapes 50 times in each format and prints the timings.
import { parseConfig } from '../../shared/config/load.ts';
import { loadPriceTable } from '../../shared/pricing/price-table.ts';
import type { CallRecord } from '../../proxy/call-record.ts';
import { ProxyMetrics } from '../../proxy/metrics.ts';

/** 0: tenant and user labels off (the default). */
const cap = Number(process.argv[2] ?? 200);
const config = parseConfig({
  providers: { openai: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }, anthropic: { type: 'anthropic', baseUrl: 'http://127.0.0.1:9', apiKey: 'k' } },
  routes: {
    chat: { models: ['chat'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] },
    search: { models: ['search'], targets: [{ provider: 'openai', model: 'gpt-4o' }] },
  },
  admin: { metrics: cap > 0 ? { tenantLabel: true, userLabel: true, maxIdentities: cap } : {} },
  telemetry: { clickhouse: { mode: 'off' } },
});
const prices = loadPriceTable();
const metrics = new ProxyMetrics({ config, prices });

let n = 0;
function call(over: Partial<CallRecord>): CallRecord {
  n++;
  return {
    requestId: `r${n}`,
    startEpochMs: 0,
    operationStartEpochMs: 0,
    endEpochMs: 1,
    traceId: n.toString(16).padStart(32, '0'),
    evalSampled: false,
    method: 'POST',
    path: '/v1/chat/completions',
    serverAddress: '127.0.0.1',
    serverPort: 9,
    requestParams: {},
    attemptDetails: [],
    dialect: 'openai',
    operation: 'chat',
    route: 'chat',
    strategy: 'failover',
    decision: '',
    events: [],
    fallbackIndex: 0,
    providerName: 'openai',
    providerType: 'openai',
    requestModel: 'gpt-4o-mini',
    upstreamModel: 'gpt-4o-mini',
    stream: false,
    httpStatus: 200,
    cacheStatus: 'miss',
    durationMs: 100 + (n % 5000),
    overheadMs: (n % 7) / 10,
    attempts: 1 + (n % 2),
    completed: true,
    clientAborted: false,
    usage: { inputTokens: 100, outputTokens: 50, cacheReadTokens: 10, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 5 },
    costUsd: '0.000123',
    ...over,
  };
}

const outcomes: Partial<CallRecord>[] = [{}, { httpStatus: 404 }, { httpStatus: 429, errorCode: 'LLM_SIDECAR_RATE_LIMITED' }];
// Identities until the cap is full (and as many again, which fold into tenant="other").
for (let i = 0; i < 2 * cap; i++) {
  const route = i % 2 ? 'chat' : 'search';
  for (const o of outcomes) metrics.record(call({ route, tenant: `tenant-${i % 50}`, user: `user-${i}`, ...o }));
}
// Every priced model under both providers and the default route (without identities: the same cap is full).
for (const e of prices.entries()) for (const p of ['openai', 'anthropic'] as const) for (const o of outcomes) metrics.record(call({ route: 'default', providerName: p, providerType: e.provider === 'anthropic' ? 'anthropic' : 'openai', upstreamModel: e.model, ...o }));
metrics.budgetSnapshot = () => Array.from({ length: 10_000 }, (_, i) => ({ scope: 'user-daily-tokens', key: `tenant-${i % 50}/user-${i}`, ratio: (i % 100) / 100 }));

/** Wall time, and the CPU time this process spent (the shared CI machine's other load excluded). */
async function time(openMetrics: boolean): Promise<{ ms: number[]; cpu: number[]; slice: number[]; bytes: number; lines: number }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  const slice: number[] = [];
  let body = '';
  for (let i = 0; i < 50; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    body = (await metrics.scrape(openMetrics)).body;
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    slice.push(metrics.longestSliceMs);
  }
  return { ms: ms.sort((a, b) => a - b), cpu: cpu.sort((a, b) => a - b), slice: slice.sort((a, b) => a - b), bytes: body.length, lines: body.split('\n').length };
}

const q = (a: number[], p: number): string => (a[Math.min(a.length - 1, Math.floor(p * a.length))] as number).toFixed(2);
for (const om of [false, true]) {
  const r = await time(om);
  console.log(`${om ? 'OpenMetrics' : 'Prometheus text'}: cap ${cap}, ${r.lines} lines, ${(r.bytes / 1024).toFixed(0)} KiB; longest event-loop hold (one family) p50 ${q(r.slice, 0.5)} ms, p90 ${q(r.slice, 0.9)} ms; whole scrape (yielding between families) wall p50 ${q(r.ms, 0.5)} ms, CPU p50 ${q(r.cpu, 0.5)} ms (node ${process.version}, load ${(await import('node:os')).loadavg()[0]?.toFixed(1)})`);
}

