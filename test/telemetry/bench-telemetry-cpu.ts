// The CPU a call's telemetry costs the sidecar's process, alone (issue #18): the real pieces the
// proxy wires (setupTelemetryExport → createTracing → SpanRecorder) fed with realistic CallRecords
// at a steady rate, as a proxy at that rate would feed them, and nothing else in the process. A
// script, not a test. Measures the process's CPU (every thread: JS, the embedded ClickHouse's
// inserts, views and merges, the OTLP exporter's serialisation) per call, minus the same loop with
// telemetry off, and the memory it ends with.
//
//   node --import tsx test/telemetry/bench-telemetry-cpu.ts --mode embedded|server|otlp|off [--rate 1000] [--seconds 20]
//   DUMP_ENGINE_MEMORY=1 … also prints the engine's own memory metrics and the largest anonymous mappings.
//
// The proxy's own request work is absent, so the numbers are the telemetry's share only, steadier
// on a loaded machine than a whole sidecar under load; `test/telemetry/profile-sidecar.ts` measures
// the whole sidecar. server: a ClickHouse HTTP endpoint over chdb in a child process (its CPU is
// not ours); otlp: test/bench/otlp-receiver.ts in a child process.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { CallRecord } from '../../proxy/call-record.ts';
import { SpanRecorder } from '../../proxy/telemetry/span-recorder.ts';
import { setupTelemetryExport } from '../../proxy/telemetry/storage.ts';
import { ConfigSchema } from '../../shared/config/schema.ts';
import { createTracing } from '../../shared/telemetry/tracing.ts';
import { Redactor } from '../../shared/telemetry/redact.ts';
import { killAllChildren, spawnNode } from '../bench/children.ts';
import { cpuMicros, memory } from '../bench/procstat.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'embedded' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    /** Print memory (RSS, anonymous, JS heap, the engine's tracked memory) every this many seconds. */
    'memory-every': { type: 'string' },
  },
});
const mode = args.mode as 'embedded' | 'server' | 'otlp' | 'off';
const rate = Number(args.rate);
const seconds = Number(args.seconds);
process.on('exit', killAllChildren);

const dir = mkdtempSync(join(tmpdir(), 'llm-sidecar-telemetry-cpu-'));
let telemetryYaml: Record<string, unknown> = { clickhouse: { mode: 'off' } };
if (mode === 'embedded') telemetryYaml = { clickhouse: { dataDir: join(dir, 'chdb') }, spool: { dir: join(dir, 'spool') } };
if (mode === 'server') {
  const c = spawnNode('clickhouse-endpoint', ['--import', 'tsx', 'test/bench/clickhouse-endpoint.ts']);
  const url = (await c.waitForOutput(/clickhouse-endpoint listening on (http:\/\/\S+) stats/, 60_000))[1];
  telemetryYaml = { clickhouse: { url }, spool: { dir: join(dir, 'spool') } };
}
if (mode === 'otlp') {
  const c = spawnNode('otlp-receiver', ['--import', 'tsx', 'test/bench/otlp-receiver.ts', '--port', '0']);
  const origin = (await c.waitForOutput(/otlp-receiver listening on (http:\/\/\S+)/, 15_000))[1];
  telemetryYaml = { clickhouse: { mode: 'off' }, otlp: { endpoint: `${origin}/v1/traces` } };
}
const config = ConfigSchema.parse({ providers: { openai: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } }, telemetry: telemetryYaml });
const telemetry = await setupTelemetryExport(config.telemetry, () => undefined);
await telemetry.migrated;
const tracing = createTracing({ serviceName: 'bench', exporters: telemetry.exporters, env: {} });
const recorder = mode === 'off' ? undefined : new SpanRecorder({ sink: tracing, redactor: new Redactor([], true) });

let n = 0;
/** A plain successful chat call with one attempt, as the bench's load makes. */
function call(): CallRecord {
  n++;
  const now = Date.now();
  return {
    requestId: `req-${n}-${now}`,
    startEpochMs: now - 3,
    operationStartEpochMs: now - 2.5,
    endEpochMs: now,
    traceId: (n * 2654435761).toString(16).padStart(32, '0').slice(-32),
    evalSampled: false,
    method: 'POST',
    path: '/v1/chat/completions',
    serverAddress: '127.0.0.1',
    serverPort: 40123,
    requestParams: {},
    attemptDetails: [{ startEpochMs: now - 2.4, endEpochMs: now - 0.2, statusCode: 200, providerName: 'openai', model: 'gpt-4o-mini', serverAddress: '127.0.0.1', serverPort: 40123 }],
    dialect: 'openai',
    operation: 'chat',
    route: 'default',
    strategy: 'failover',
    decision: 'passthrough',
    events: [],
    fallbackIndex: 0,
    providerName: 'openai',
    providerType: 'openai',
    requestModel: 'gpt-4o-mini',
    upstreamModel: 'gpt-4o-mini',
    responseModel: 'gpt-4o-mini-2024-07-18',
    responseId: `chatcmpl-${n}`,
    finishReasons: ['stop'],
    stream: false,
    httpStatus: 200,
    upstreamStatus: 200,
    cacheStatus: 'miss',
    durationMs: 3,
    overheadMs: 0.6,
    attempts: 1,
    completed: true,
    clientAborted: false,
    usage: { inputTokens: 12, outputTokens: 9, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0 },
    costUsd: '0.0000072',
  };
}

/** CPU ticks by thread name over the run (the engine's pools, libuv workers, the main thread). */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+/g, '#');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(rest[11]) + Number(rest[12]));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

const memoryEveryS = args['memory-every'] === undefined ? undefined : Number(args['memory-every']);
let sampling: NodeJS.Timeout | undefined;
function startMemorySamples(): void {
  if (memoryEveryS === undefined) return;
  const t0 = performance.now();
  sampling = setInterval(() => {
    const m = memory(process.pid);
    const heap = process.memoryUsage();
    const engine = telemetry.store?.query<{ v: string }>("SELECT toString(value) AS v FROM system.metrics WHERE metric = 'MemoryTracking'").catch(() => [] as { v: string }[]) ?? Promise.resolve([] as { v: string }[]);
    void engine.then((rows) =>
      console.log(
        `  t=${((performance.now() - t0) / 1000).toFixed(0)} s: RSS ${m.rssMb.toFixed(0)} MB, anon ${m.anonMb.toFixed(0)} MB, JS heap ${(heap.heapTotal / 1048576).toFixed(0)} MB (used ${(heap.heapUsed / 1048576).toFixed(0)}), external ${(heap.external / 1048576).toFixed(0)} MB, engine tracked ${rows[0] ? (Number(rows[0].v) / 1048576).toFixed(0) : '-'} MB`,
      ),
    );
  }, memoryEveryS * 1000);
}

async function run(durationS: number): Promise<{ calls: number; cpuUs: number; threads: Map<string, number> }> {
  const tickMs = 10;
  const t0 = performance.now();
  const cpu0 = cpuMicros(process.pid);
  const threads0 = threadTicks();
  let sent = 0;
  const total = Math.round(rate * durationS);
  while (sent < total) {
    const due = Math.min(total, Math.round(((performance.now() - t0) / 1000) * rate));
    for (; sent < due; sent++) recorder?.record(call());
    await sleep(tickMs);
  }
  await tracing.forceFlush();
  // The engine's background work the inserts caused (merges) is the telemetry's too: wait until quiet.
  for (let before = cpuMicros(process.pid), i = 0; i < 40; i++) {
    await sleep(500);
    const now = cpuMicros(process.pid);
    if (now - before < 500 * 1000 * 0.03) break;
    before = now;
  }
  const threads = new Map<string, number>();
  for (const [k, v] of threadTicks()) threads.set(k, v - (threads0.get(k) ?? 0));
  return { calls: sent, cpuUs: cpuMicros(process.pid) - cpu0, threads };
}

await run(Math.min(5, seconds / 4)); // warm-up: JIT, first parts, first merges
startMemorySamples();
const r = await run(seconds);
clearInterval(sampling);
const mem = memory(process.pid);
const all = [...r.threads.values()].reduce((a, b) => a + b, 0) || 1;
const byThread = [...r.threads.entries()]
  .filter(([, v]) => v > 0)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 8)
  .map(([k, v]) => `${k} ${((100 * v) / all).toFixed(0)}%`)
  .join(', ');
const stats = telemetry.stats();
console.log(
  `${mode}: ${rate} calls/s for ${seconds} s: ${(r.cpuUs / r.calls).toFixed(1)} µs CPU/call; RSS ${mem.rssMb.toFixed(0)} MB, anon ${mem.anonMb.toFixed(0)} MB, peak RSS ${mem.peakRssMb.toFixed(0)} MB; ${byThread}` +
    (stats ? `; exported ${stats.exported}, spooled ${stats.spooled}, dropped ${stats.dropped}` : ''),
);
if (process.env.DUMP_ENGINE_MEMORY && telemetry.store) {
  const rows: { metric: string; value: string }[] = [];
  console.log(rows.map((r) => `${r.metric}=${r.value}`).join('  '));
  const m = await telemetry.store.query<{ metric: string; v: string }>("SELECT metric, toString(value) AS v FROM system.metrics WHERE value != 0 AND (metric ILIKE '%Thread%' OR metric ILIKE 'Memory%' OR metric ILIKE '%Cache%') ORDER BY metric");
  console.log(m.map((r) => `${r.metric}=${r.v}`).join('  '));
  console.log(`threads: ${readdirSync(`/proc/${process.pid}/task`).length}`);
}
{
  const mu = process.memoryUsage();
  console.log(`node: heapTotal ${(mu.heapTotal / 1048576).toFixed(0)} MB, heapUsed ${(mu.heapUsed / 1048576).toFixed(0)} MB, external ${(mu.external / 1048576).toFixed(0)} MB, arrayBuffers ${(mu.arrayBuffers / 1048576).toFixed(0)} MB`);
}
if (process.env.DUMP_ENGINE_MEMORY) {
  // The largest anonymous mappings (the engine's arenas, thread stacks, the JS heap).
  const maps = readFileSync(`/proc/${process.pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const anon = maps
    .map((m) => ({ head: m.split('\n')[0] ?? '', anon: Number(/^Anonymous:\s+(\d+)/m.exec(m)?.[1] ?? 0) }))
    .filter((m) => m.anon > 0);
  const total = anon.reduce((a, m) => a + m.anon, 0);
  const big = anon.filter((m) => m.anon >= 4096).sort((a, b) => b.anon - a.anon);
  console.log(`anon mappings: ${anon.length}, ${(total / 1024).toFixed(0)} MB; ≥4 MB: ${big.length}, ${(big.reduce((a, m) => a + m.anon, 0) / 1024).toFixed(0)} MB; small (<4 MB) total ${((total - big.reduce((a, m) => a + m.anon, 0)) / 1024).toFixed(0)} MB`);
  for (const m of big.slice(0, 12)) console.log(`  ${(m.anon / 1024).toFixed(1)} MB ${m.head}`);
}
await tracing.shutdown();
await telemetry.close();
rmSync(dir, { recursive: true, force: true });
killAllChildren();
