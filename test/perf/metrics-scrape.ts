// What one GET /metrics costs the sidecar's event loop at the label cap (issue #16: ≤ 5 ms).
// ProxyMetrics.scrape() pushes the sums to prom-client in ≤ 1 ms slices and renders one metric
// family at a time, yielding to the event loop after each: the longest of those holds is what a
// request would wait, and is measured here (ProxyMetrics.longestSliceMs, wall; longestSliceCpuMs,
// this process's CPU during it, i.e. without the time a loaded host gave to other processes),
// beside the whole scrape's wall and CPU time. Half the scrapes follow new calls on every series
// (all rows pushed again: the worst case), half follow none.
//
// Run: node --import tsx test/perf/metrics-scrape.ts [maxIdentities]
// Fills a ProxyMetrics past the cap with tenant and user labels on (twice as many identities as
// the cap admits, each seen with 3 outcomes and usage), every priced model on both providers with
// 3 outcomes, and 1,000 budget keys; then scrapes 50 times in each format and prints the timings.
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
/** One call on every series: identities until the cap is full (and as many again, which fold into tenant="other"), and every priced model under both providers. */
function touchEverySeries(): void {
  for (let i = 0; i < 2 * cap; i++) {
    const route = i % 2 ? 'chat' : 'search';
    for (const o of outcomes) metrics.record(call({ route, tenant: `tenant-${i % 50}`, user: `user-${i}`, ...o }));
  }
  for (const e of prices.entries()) for (const p of ['openai', 'anthropic'] as const) for (const o of outcomes) metrics.record(call({ route: 'default', providerName: p, providerType: e.provider === 'anthropic' ? 'anthropic' : 'openai', upstreamModel: e.model, ...o }));
}
touchEverySeries();
// Budget gauges at the enforcer's bound (DEFAULT_SNAPSHOT_KEYS, 1,000 kept), copied per scrape as
// BudgetEnforcer.snapshot() does. (Until 2026-12-02 this built 10,000 keys and their strings on
// every scrape, more than the enforcer keeps: that building, not the sidecar, was the longest hold.)
const gauges = Array.from({ length: 1_000 }, (_, i) => ({ scope: 'user-daily-tokens', key: `tenant-${i % 50}/user-${i}`, ratio: (i % 100) / 100 }));
metrics.budgetSnapshot = () => gauges.map((g) => ({ ...g }));

/** Wall time, and the CPU time this process spent (the shared CI machine's other load excluded). */
async function time(openMetrics: boolean): Promise<{ ms: number[]; cpu: number[]; slice: number[]; sliceCpu: number[]; bytes: number; lines: number }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  const slice: number[] = [];
  const sliceCpu: number[] = [];
  let body = '';
  for (let i = 0; i < 50; i++) {
    if (i % 2 === 0) touchEverySeries();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    body = (await metrics.scrape(openMetrics)).body;
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    slice.push(metrics.longestSliceMs);
    sliceCpu.push(metrics.longestSliceCpuMs);
    culprits.set(metrics.longestSliceName, (culprits.get(metrics.longestSliceName) ?? 0) + 1);
  }
  const sort = (a: number[]) => a.sort((x, y) => x - y);
  return { ms: sort(ms), cpu: sort(cpu), slice: sort(slice), sliceCpu: sort(sliceCpu), bytes: body.length, lines: body.split('\n').length };
}

// Warm-up (JIT, first allocation of every series), as in a sidecar that has been up a while.
for (let i = 0; i < 10; i++) await metrics.scrape(i % 2 === 0);

/** Which slice was the longest (in CPU), how many times. */
const culprits = new Map<string, number>();
const q = (a: number[], p: number): string => (a[Math.min(a.length - 1, Math.floor(p * a.length))] as number).toFixed(2);
for (const om of [false, true]) {
  const r = await time(om);
  console.log(`${om ? 'OpenMetrics' : 'Prometheus text'}: cap ${cap}, ${r.lines} lines, ${(r.bytes / 1024).toFixed(0)} KiB; longest event-loop hold wall p50 ${q(r.slice, 0.5)} ms, p90 ${q(r.slice, 0.9)} ms, its CPU p50 ${q(r.sliceCpu, 0.5)} ms, p90 ${q(r.sliceCpu, 0.9)} ms; whole scrape (yielding between families) wall p50 ${q(r.ms, 0.5)} ms, CPU p50 ${q(r.cpu, 0.5)} ms (node ${process.version}, load ${(await import('node:os')).loadavg()[0]?.toFixed(1)}); longest slices: ${[...culprits].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  culprits.clear();
}

