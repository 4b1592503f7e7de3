// GET /metrics on the admin port: lint-clean for Prometheus (`promtool check metrics`), bounded
// whatever the clients send (label values from the config; identities only when switched on, with
// a cap), the default process and Node.js metrics, and OpenMetrics with trace-id exemplars when the
// scraper asks for it. promtool comes from Debian's `prometheus` package (.ci/run installs it); under
// CI=true its absence is a failure, elsewhere the lint test is skipped with the reason printed.
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { loadPriceTable } from '../../shared/pricing/price-table.ts';
import { acceptsOpenMetrics } from '../../shared/admin-server.ts';
import type { CallRecord } from '../../proxy/call-record.ts';
import { ProxyMetrics } from '../../proxy/metrics.ts';
import { startStack, type Stack } from '../stack.ts';

function promtoolAvailable(): boolean {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('promtool is required under CI=true (apt-get install prometheus; .ci/run does)');
  if (!found) console.warn('metrics.test.ts: promtool not found (apt-get install prometheus): the lint test is skipped');
  return found;
}
const PROMTOOL = promtoolAvailable();

/** `promtool check metrics` on an exposition: its complaints, one per line (none = clean). */
function promtoolProblems(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trim();
  if (r.status !== 0 && out === '') return [`promtool exited with ${r.status}`];
  return out === '' ? [] : out.split('\n');
}

const config = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    providers: { openai: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }, anthropic: { type: 'anthropic', baseUrl: 'http://127.0.0.1:9', apiKey: 'sk-ant-test' } },
    routes: { chat: { models: ['chat', 'fast-*'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] } },
    telemetry: { clickhouse: { mode: 'off' } },
    ...extra,
  });

let seq = 0;
/** A finished call as the proxy records it; `over` sets what a test varies. */
function call(over: Partial<CallRecord> = {}): CallRecord {
  seq++;
  return {
    requestId: `r${seq}`,
    startEpochMs: 0,
    operationStartEpochMs: 0,
    endEpochMs: 1,
    traceId: seq.toString(16).padStart(32, '0'),
    evalSampled: false,
    method: 'POST',
    path: '/v1/chat/completions',
    serverAddress: '127.0.0.1',
    serverPort: 9,
    requestParams: {},
    attemptDetails: [],
    dialect: 'openai',
    operation: 'chat',
    route: 'default',
    strategy: 'default',
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
    durationMs: 420,
    overheadMs: 0.8,
    attempts: 1,
    completed: true,
    clientAborted: false,
    usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0 },
    costUsd: '0.0000045',
    ...over,
  };
}

const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('bounded labels', () => {
  it('15,000 client-chosen model names, routes and providers outside the config: a handful of series, all "other"', async () => {
    const m = new ProxyMetrics({ config: config(), prices: loadPriceTable() });
    for (let i = 0; i < 15_000; i++) m.record(call({ upstreamModel: `made-up-${i}`, requestModel: `made-up-${i}`, route: i % 2 ? 'default' : `nope-${i}`, providerName: i % 3 ? 'openai' : `p-${i}` }));
    const text = await m.render();
    const requests = series(text, 'llm_sidecar_requests_total');
    expect(requests.length).toBeLessThanOrEqual(4);
    expect(requests.every((l) => l.includes('model="other"'))).toBe(true);
    expect(text).not.toMatch(/made-up|nope-|p-\d/);
    expect(text.length).toBeLessThan(40_000);
  });

  it('configured and priced models keep their names; a dated snapshot counts under its priced id', async () => {
    const m = new ProxyMetrics({ config: config(), prices: loadPriceTable() });
    m.record(call({ route: 'chat', upstreamModel: 'gpt-4o-mini' }));
    m.record(call({ providerName: 'anthropic', providerType: 'anthropic', upstreamModel: 'claude-haiku-4-5' }));
    m.record(call({ upstreamModel: 'gpt-4o-2024-08-06' }));
    m.record(call({ upstreamModel: 'gpt-4o-2024-08-06-evil' }));
    m.record(call({ route: 'chat', upstreamModel: 'fast-anything' }));
    const text = await m.render();
    expect(text).toContain('llm_sidecar_requests_total{route="chat",provider="openai",model="gpt-4o-mini",status="2xx"} 1');
    expect(text).toContain('model="claude-haiku-4-5"');
    expect(text).toMatch(/llm_sidecar_requests_total\{route="default",provider="openai",model="gpt-4o",status="2xx"\} 1/);
    // A pattern in a route's `models` is not a name; what it matched is "other".
    expect(text).toMatch(/llm_sidecar_requests_total\{route="chat",provider="openai",model="other",status="2xx"\} 1/);
    expect(text).toMatch(/llm_sidecar_requests_total\{route="default",provider="openai",model="other",status="2xx"\} 1/);
  });

  it('statuses are error codes, client_aborted or a status class', async () => {
    const m = new ProxyMetrics({ config: config() });
    m.record(call({ httpStatus: 429, errorCode: 'LLM_SIDECAR_RATE_LIMITED', usage: undefined, costUsd: undefined, providerName: '' }));
    m.record(call({ httpStatus: 200, clientAborted: true }));
    m.record(call({ httpStatus: 404 }));
    const text = await m.render();
    expect(text).toMatch(/provider="none",model="gpt-4o-mini",status="LLM_SIDECAR_RATE_LIMITED"\} 1/);
    expect(text).toMatch(/status="client_aborted"\} 1/);
    expect(text).toMatch(/status="4xx"\} 1/);
  });

  it('tenant and user are not labels by default (identities), nor budget keys', async () => {
    const m = new ProxyMetrics({ config: config() });
    m.budgetSnapshot = () => [
      { scope: 'user-daily-tokens', key: 'acme/alice', ratio: 0.5 },
      { scope: 'user-daily-tokens', key: 'acme/bob', ratio: 0.75 },
    ];
    m.record(call({ tenant: 'acme', user: 'alice' }));
    const text = await m.render();
    expect(text).not.toMatch(/alice|bob|acme|tenant=|user=/);
    expect(text).toContain('llm_sidecar_budget_used_ratio{scope="user-daily-tokens"} 0.75');
  });

  it('switched on: per-identity families for the first maxIdentities identities, then "other"; the per-model families stay identity-free', async () => {
    const m = new ProxyMetrics({ config: config({ admin: { metrics: { tenantLabel: true, userLabel: true, maxIdentities: 10 } } }) });
    m.budgetSnapshot = () => Array.from({ length: 150 }, (_, i) => ({ scope: 'user-daily-tokens', key: `acme/u${i}`, ratio: i / 1000 }));
    for (let i = 0; i < 500; i++) m.record(call({ tenant: 'acme', user: `u${i}` }));
    m.record(call({ tenant: 'acme', user: 'u3', httpStatus: 502, errorCode: 'LLM_SIDECAR_UPSTREAM_UNREACHABLE', usage: undefined, costUsd: undefined })); // admitted before the cap: keeps its labels
    const text = await m.render();
    expect(series(text, 'llm_sidecar_requests_total').every((l) => !l.includes('tenant='))).toBe(true);
    const requests = series(text, 'llm_sidecar_identity_requests_total');
    expect(requests).toHaveLength(12);
    expect(requests).toContain('llm_sidecar_identity_requests_total{tenant="acme",user="u3",outcome="ok"} 1');
    expect(requests).toContain('llm_sidecar_identity_requests_total{tenant="acme",user="u3",outcome="error"} 1');
    expect(requests).toContain('llm_sidecar_identity_requests_total{tenant="other",user="other",outcome="ok"} 490');
    expect(text).toContain('llm_sidecar_identity_tokens_total{tenant="other",user="other",type="input"} 4900');
    expect(text).toMatch(/^llm_sidecar_identity_cost_usd_total\{tenant="acme",user="u0"\} 0.0000045$/m);
    // Budget keys: the 100 most used by name, the rest as key="other" with their highest share.
    expect(series(text, 'llm_sidecar_budget_used_ratio')).toHaveLength(101);
    expect(text).toContain('llm_sidecar_budget_used_ratio{scope="user-daily-tokens",key="acme/u149"} 0.149');
    expect(text).toContain('llm_sidecar_budget_used_ratio{scope="user-daily-tokens",key="other"} 0.049');
  });

  it('a scrape yields to the event loop between metric families (requests wait for one family, not the exposition)', async () => {
    const m = new ProxyMetrics({ config: config() });
    m.record(call());
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await m.render();
    done = true;
    // One turn per family (~40 with the default process metrics).
    expect(ticks).toBeGreaterThan(20);
    expect(m.longestSliceMs).toBeGreaterThan(0);
  });

  it('every scrape shows the sums as they are now: only what changed is pushed, nothing is counted twice or cached', async () => {
    const m = new ProxyMetrics({ config: config({ admin: { metrics: { tenantLabel: true } } }) });
    const value = (text: string, line: RegExp) => Number(line.exec(text)?.[1]);
    const requests = /^llm_sidecar_requests_total\{route="default",provider="openai",model="gpt-4o-mini",status="2xx"\} (\S+)$/m;
    const costLine = /^llm_sidecar_cost_usd_total\{route="default",provider="openai",model="gpt-4o-mini"\} (\S+)$/m;
    const tenantTokens = /^llm_sidecar_identity_tokens_total\{tenant="acme",type="input"\} (\S+)$/m;
    const free = /^llm_sidecar_cost_usd_total\{route="default",provider="anthropic",model="claude-haiku-4-5"\} (\S+)$/m;
    let expectedCost = 0;
    for (let round = 1; round <= 4; round++) {
      // Rounds 2 and 4 record nothing: the scrape must neither add again what it pushed nor drop it.
      if (round % 2 === 1) {
        for (let i = 0; i < 3; i++) {
          m.record(call({ tenant: 'acme', costUsd: '0.0001' }));
          expectedCost += 0.0001;
        }
      }
      const text = await m.render();
      expect(value(text, requests), `round ${round}`).toBe(round <= 2 ? 3 : 6);
      expect(value(text, costLine)).toBeCloseTo(expectedCost, 12);
      expect(value(text, tenantTokens)).toBe(10 * (round <= 2 ? 3 : 6));
    }
    // A series whose sum is 0 is shown (a free model's cost), once it has a value.
    m.record(call({ providerName: 'anthropic', providerType: 'anthropic', upstreamModel: 'claude-haiku-4-5', costUsd: '0' }));
    expect(value(await m.render(), free)).toBe(0);
  });

  it('pushing many rows never holds the event loop in one go: requests run between slices', async () => {
    const routes = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`r${i}`, { models: [`m${i}`], targets: [{ provider: 'openai', model: `m${i}` }] }]));
    const m = new ProxyMetrics({ config: config({ routes, admin: { metrics: { tenantLabel: true, userLabel: true, maxIdentities: 500 } } }) });
    for (let i = 0; i < 300; i++) for (let j = 0; j < 3; j++) m.record(call({ route: `r${i}`, upstreamModel: `m${i}`, tenant: `t${i}`, user: `u${j}` }));
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    const families = m.registry.getMetricsAsArray().length;
    setImmediate(tick);
    const text = await m.render();
    done = true;
    expect(series(text, 'llm_sidecar_requests_total')).toHaveLength(300);
    // 900 identities: the first 500 (the largest cap allowed) get their own series, the rest one "other".
    expect(series(text, 'llm_sidecar_identity_requests_total')).toHaveLength(501);
    // One turn per family, plus at least one per push phase (models, identities); more when a phase's rows outlast a slice.
    expect(ticks).toBeGreaterThanOrEqual(families + 2);
    expect(m.longestSliceCpuMs).toBeGreaterThan(0);
  });

  it('a hot reload brings new routes into the label values', async () => {
    const m = new ProxyMetrics({ config: config() });
    m.record(call({ route: 'late' }));
    m.setConfig(config({ routes: { late: { models: ['late'], targets: [{ provider: 'openai' }] } } }));
    m.record(call({ route: 'late' }));
    const text = await m.render();
    expect(text).toMatch(/llm_sidecar_requests_total\{route="other",[^}]*\} 1/);
    expect(text).toMatch(/llm_sidecar_requests_total\{route="late",[^}]*\} 1/);
  });
});

describe('exposition over HTTP', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack((url) => ({
      providers: { openai: { type: 'openai', baseUrl: `${url}/v1` }, anthropic: { type: 'anthropic', baseUrl: url } },
      cache: { mode: 'all', ttlSeconds: 60 },
    }));
    const openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'k', maxRetries: 0 });
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }); // a cache hit
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-fault': 'status=500' } }).catch(() => undefined);
    await stack.recorder.waitFor(() => stack.recorder.calls.length >= 4);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const scrape = async (accept?: string) => {
    const r = await request(`${stack.sidecar.adminUrl}/metrics`, { headers: accept ? { accept } : {} });
    return { contentType: String(r.headers['content-type']), text: await r.body.text() };
  };

  it.skipIf(!PROMTOOL)('promtool check metrics finds nothing to complain about', async () => {
    const { contentType, text } = await scrape();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toMatch(/llm_sidecar_requests_total\{[^}]*\} \d/);
    expect(promtoolProblems(text)).toEqual([]);
    // The lint does bite: the old name in milliseconds is reported.
    expect(promtoolProblems('# HELP x_milliseconds A duration.\n# TYPE x_milliseconds gauge\nx_milliseconds 1\n').join('\n')).toMatch(/base unit|seconds/);
  });

  it('default process and Node.js metrics: CPU, memory, event-loop delay, GC, heap, handles', async () => {
    const { text } = await scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_active_handles', 'nodejs_active_resources']) {
      expect(text, name).toMatch(new RegExp(`^${name}[ {]`, 'm'));
    }
    // GC durations: a histogram by kind, with samples once a collection ran.
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
  });

  it('durations are in seconds: overhead and request duration histograms', async () => {
    const { text } = await scrape();
    expect(text).toMatch(/^llm_sidecar_overhead_seconds_count [1-9]/m);
    expect(text).toMatch(/^llm_sidecar_request_duration_seconds_bucket\{le="0.1",route="default",provider="openai"\} \d/m);
    expect(text).not.toContain('milliseconds');
  });

  it('OpenMetrics on request, with trace-id exemplars on the latency histograms; Prometheus text after it keeps `_total`', async () => {
    const om = await scrape('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
    expect(om.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.text.endsWith('# EOF\n')).toBe(true);
    expect(om.text).toMatch(new RegExp(`^llm_sidecar_request_duration_seconds_bucket\\{[^}]*\\} \\d+ # \\{trace_id="[0-9a-f]{32}"\\} [0-9.e-]+ \\d+`, 'm'));
    // Each bucket keeps its latest observation's trace id: one of the calls made.
    const exemplarIds = [...om.text.matchAll(/trace_id="([0-9a-f]{32})"/g)].map((m) => m[1]);
    expect(exemplarIds.length).toBeGreaterThan(0);
    const traceIds = new Set(stack.recorder.calls.map((c) => c.traceId));
    expect(exemplarIds.every((id) => traceIds.has(id as string))).toBe(true);
    expect(om.text).toMatch(/^# TYPE llm_sidecar_requests counter$/m);
    const prom = await scrape();
    expect(prom.text).toMatch(/^# TYPE llm_sidecar_requests_total counter$/m);
    expect(prom.text).not.toContain('trace_id=');
    if (PROMTOOL) expect(promtoolProblems(prom.text)).toEqual([]);
  });

  it('Accept negotiation', () => {
    expect(acceptsOpenMetrics(undefined)).toBe(false);
    expect(acceptsOpenMetrics('text/plain')).toBe(false);
    expect(acceptsOpenMetrics('application/openmetrics-text')).toBe(true);
    expect(acceptsOpenMetrics('Application/OpenMetrics-Text; version=0.0.1; q=0.75')).toBe(true);
    expect(acceptsOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
  });
});
