// The faults soak (issue #16, "Done when"): a real `llm-sidecar proxy` process on its default store
// (embedded ClickHouse) in front of the fake provider, open-loop load at a fixed rate with a mix of
// injected faults (soak-scenarios.ts), and three verdicts at the end:
//   1. answers: every answer is one its scenario's fault is documented to produce; sidecar-made
//      5xx are counted by code, and any other outcome (a 5xx nobody injected, a stream that ends
//      cleanly without its end marker, a dropped connection) fails the run;
//   2. rows: each call that got an answer is in llm_calls exactly once (matched on its trace id,
//      which is also its x-request-id), read back through the sidecar's own read-only ClickHouse
//      endpoint (telemetry.clickhouse.serve) while it runs, and no row belongs to a call not sent;
//   3. memory: the sidecar's RSS sampled every few seconds is flat (least-squares slope after warm-up);
//      the embedded engine's tracked memory and its active / outdated parts are reported beside it.
// A script, not a test: it runs for minutes. Exit 0 when every check holds, 1 otherwise.
//
//   node --import tsx test/bench/soak.ts [--minutes 10] [--rate 200] [--max-rss-slope 5] [--cache-mb 8] [--keep]
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { Pool, request } from 'undici';
import { freePort, killAllChildren } from './children.ts';
import { percentiles } from './open-loop.ts';
import { memory } from './procstat.ts';
import { SCENARIOS, buildRequest, classify, scenarioPicker, type Scenario } from './soak-scenarios.ts';
import { startFakeProvider, startSidecar } from './sidecar.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    /** RSS growth after warm-up above this (MB per minute) fails the run. */
    'max-rss-slope': { type: 'string', default: '5' },
    /**
     * The response cache's bound (cache.store.maxBytes) in MiB. Small by default so that the cache is
     * full within the warm-up and the slope measures what is not bounded; 64 is the product default.
     */
    'cache-mb': { type: 'string', default: '8' },
    keep: { type: 'boolean', default: false },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const maxRssSlope = Number(args['max-rss-slope']);
const cacheMb = Number(args['cache-mb']);
if (!(minutes > 0) || !(rate > 0) || !(maxRssSlope > 0) || !(cacheMb > 0)) throw new Error('--minutes, --rate, --max-rss-slope and --cache-mb must be positive numbers');

const SERVICE = 'soak';
const RSS_EVERY_MS = 5_000;
/** The engine's tracked memory and parts, sampled this often. */
const ENGINE_EVERY_MS = 15_000;
/** RSS samples taken before this are warm-up (the engine's caches, the JIT): not in the slope. */
const RSS_WARMUP_MS = Math.min(60_000, (minutes * 60_000) / 4);
/** Responses still missing this long after the last send count as failures. */
const DRAIN_MS = 30_000;
/** Calls sent one at a time before the open loop starts (in the books like the others). */
const WARMUP_CALLS = 20;
/** Rows still missing once llm_calls stopped growing for this long count as lost. */
const ROWS_SETTLE_MS = 20_000;

const log = (msg: string): void => {
  process.stderr.write(`soak: ${msg}\n`);
};
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAllChildren();
    process.exit(130);
  });
}

// ─── Processes ───────────────────────────────────────────────────────────────────────────────────

const load0 = loadavg()[0] ?? 0;
const fake = await startFakeProvider();
const servePort = await freePort();
const sidecarConfig = [
  'providers:',
  `  openai: { type: openai, baseUrl: "${fake.origin}/v1" }`,
  `  anthropic: { type: anthropic, baseUrl: "${fake.origin}" }`,
  // Routes, because retries are a route's (a request no route matches is passed through once).
  // firstTokenMs: the "first token timeout once" scenario delays its first attempt past it. Not
  // tighter: on a loaded shared machine plain calls take seconds, and their timeouts would not be
  // the injected fault's outcome.
  'routes:',
  '  chat: { models: [gpt-4o-mini], targets: [{ provider: openai }], timeouts: { firstTokenMs: 5000 } }',
  '  claude: { models: [claude-haiku-4-5], targets: [{ provider: anthropic }] }',
  `cache: { mode: all, store: { type: memory, maxBytes: ${Math.round(cacheMb * 1024 * 1024)} } }`,
  'telemetry:',
  `  serviceName: ${SERVICE}`,
  `  clickhouse: { serve: { port: ${servePort} } }`,
].join('\n');
const sidecar = await startSidecar('sidecar', sidecarConfig, { drainMs: 10_000, readyTimeoutMs: 120_000 });
log(`sidecar pid ${sidecar.child.pid} at ${sidecar.origin} (dir ${sidecar.dir}), fake provider at ${fake.origin}; ${minutes} min at ${rate} req/s, response cache bound ${cacheMb} MiB, load average ${load0.toFixed(1)}`);

// ─── Memory ──────────────────────────────────────────────────────────────────────────────────────

interface RssSample {
  atMs: number;
  rssMb: number;
  anonMb: number;
}
const rss: RssSample[] = [];
const t0 = performance.now();
const sampleRss = (): void => {
  const m = memory(sidecar.child.pid);
  rss.push({ atMs: performance.now() - t0, rssMb: m.rssMb, anonMb: m.anonMb });
};
sampleRss();
const rssTimer = setInterval(sampleRss, RSS_EVERY_MS);

// What is inside RSS, sampled beside it: the embedded engine's own figures through the read-only
// endpoint (what ClickHouse's memory tracker counts, its active and merged-away parts not yet
// removed) and the JS heap from the sidecar's /metrics.
interface EngineSample {
  atMs: number;
  trackedMb: number;
  activeParts: number;
  outdatedParts: number;
  /** The sidecar's JS heap in use and V8's external memory (its admin /metrics), MB. */
  jsHeapMb: number;
  externalMb: number;
}
const adminPort = /admin: \{ host: 127\.0\.0\.1, port: (\d+) \}/.exec(readFileSync(join(sidecar.dir, 'sidecar.yaml'), 'utf8'))?.[1];
const jsMemory = async (): Promise<{ jsHeapMb: number; externalMb: number }> => {
  const text = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
  const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { jsHeapMb: metric('nodejs_heap_size_used_bytes'), externalMb: metric('nodejs_external_memory_bytes') };
};
const engine: EngineSample[] = [];
const ch = createClient({ url: `http://127.0.0.1:${servePort}`, database: 'otel' });
const sampleEngine = async (): Promise<void> => {
  const atMs = performance.now() - t0;
  try {
    const [row] = await (
      await ch.query({
        query:
          "SELECT (SELECT value FROM system.metrics WHERE metric = 'MemoryTracking') AS tracked, countIf(active) AS current, countIf(NOT active) AS outdated FROM system.parts WHERE database = 'otel'",
        format: 'JSONEachRow',
      })
    ).json<{ tracked: string; current: string; outdated: string }>();
    const js = await jsMemory().catch(() => ({ jsHeapMb: NaN, externalMb: NaN }));
    if (row) engine.push({ atMs, trackedMb: Number(row.tracked) / 1048576, activeParts: Number(row.current), outdatedParts: Number(row.outdated), ...js });
  } catch {
    // a sample missed under load is a gap in the series, not a failure
  }
};
void sampleEngine();
const engineTimer = setInterval(() => void sampleEngine(), ENGINE_EVERY_MS);

/** Least-squares slope in MB per minute. */
function slopePerMinute(samples: RssSample[], pick: (s: RssSample) => number): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mx = samples.reduce((a, s) => a + s.atMs, 0) / n;
  const my = samples.reduce((a, s) => a + pick(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.atMs - mx) * (pick(s) - my);
    den += (s.atMs - mx) ** 2;
  }
  return (num / den) * 60_000;
}

// ─── Load ────────────────────────────────────────────────────────────────────────────────────────

const pick = scenarioPicker(SCENARIOS);
// Not createLoadPool's 10 s timeouts: an answer that comes late is measured, not abandoned (an SDK waits minutes).
const pool = new Pool(sidecar.origin, { connections: 512, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 30_000 });
const total = Math.round(rate * minutes * 60);
const intervalMs = 1000 / rate;
/** Trace id → scenario, for every call sent. */
const sent = new Map<string, Scenario>();
/**
 * Trace ids of the calls that got an HTTP answer: each must be stored exactly once. A call whose
 * connection failed may never have reached the sidecar; it fails the run as an outcome instead.
 */
const gotAnswer = new Set<string>();
/** `scenario name` → outcome label → count. */
const outcomes = new Map<string, Map<string, number>>();
const latencies = new Float64Array(total + WARMUP_CALLS);
const samples = new Map<string, string>();
let answered = 0;
let inFlight = 0;
let onIdle: (() => void) | undefined;

const count = (s: Scenario, label: string): void => {
  const byLabel = outcomes.get(s.name) ?? new Map<string, number>();
  byLabel.set(label, (byLabel.get(label) ?? 0) + 1);
  outcomes.set(s.name, byLabel);
};

const send = (index: number, scheduledAt: number): void => {
  const s = pick(index);
  const id = randomBytes(16).toString('hex');
  sent.set(id, s);
  const req = buildRequest(s, id, index);
  inFlight++;
  pool
    .request({ method: 'POST', path: req.path, headers: req.headers, body: req.body })
    .then(async (res) => {
      gotAnswer.add(id);
      const body = await res.body.text();
      const label = classify(s, res.statusCode, res.headers, body);
      latencies[answered++] = performance.now() - scheduledAt;
      count(s, label);
      if (!s.allowed.includes(label) && !samples.has(`${s.name} → ${label}`)) samples.set(`${s.name} → ${label}`, `HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
    })
    .catch((err: unknown) => {
      const label = `transport:${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`;
      count(s, label);
      samples.set(`${s.name} → ${label}`, (err as Error).message);
    })
    .finally(() => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
};

// Warm-up: a few calls one after another, so the load starts on a sidecar that has answered before.
for (let i = 0; i < WARMUP_CALLS; i++) {
  send(total + i, performance.now());
  await new Promise<void>((resolve) => {
    onIdle = resolve;
  });
}
onIdle = undefined;

const loadStart = performance.now();
let next = 0;
let lastProgress = loadStart;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const now = performance.now();
    // Open loop: every send that is due goes out now, however late the timer woke up.
    while (next < total && loadStart + next * intervalMs <= now) {
      send(next, loadStart + next * intervalMs);
      next++;
    }
    if (now - lastProgress > 30_000) {
      lastProgress = now;
      const last = rss.at(-1);
      const e = engine.at(-1);
      log(
        `${next}/${total} sent, ${answered} answered, ${inFlight} in flight, sidecar RSS ${last?.rssMb.toFixed(0)} MB (anon ${last?.anonMb.toFixed(0)}), JS heap ${e?.jsHeapMb.toFixed(0)} MB, engine tracked ${e?.trackedMb.toFixed(0)} MB, parts ${e?.activeParts}+${e?.outdatedParts} outdated, load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
    if (next >= total) resolve();
    else setTimeout(tick, Math.max(0, loadStart + next * intervalMs - performance.now()));
  };
  tick();
});
const loadSeconds = (performance.now() - loadStart) / 1000;
await new Promise<void>((resolve) => {
  if (inFlight === 0) return resolve();
  const timer = setTimeout(resolve, DRAIN_MS);
  onIdle = () => {
    clearTimeout(timer);
    resolve();
  };
});
const unanswered = inFlight;
clearInterval(rssTimer);
clearInterval(engineTimer);
sampleRss();
await sampleEngine();
const loadEnd = loadavg()[0] ?? 0;
log(`load done: ${next} sent in ${loadSeconds.toFixed(0)} s, ${unanswered} unanswered; waiting for the rows`);

// ─── Rows ────────────────────────────────────────────────────────────────────────────────────────

const rowCount = async (): Promise<number> => {
  const [row] = await (await ch.query({ query: `SELECT count() AS n FROM llm_calls WHERE ServiceName = '${SERVICE}'`, format: 'JSONEachRow' })).json<{ n: string }>();
  return Number(row?.n ?? 0);
};
// The sidecar exports in batches after answering: wait until every row is in, or the count stops moving.
let rows = await rowCount();
let changedAt = performance.now();
while (rows < gotAnswer.size && performance.now() - changedAt < ROWS_SETTLE_MS) {
  await new Promise((r) => setTimeout(r, 1_000));
  const now = await rowCount();
  if (now !== rows) changedAt = performance.now();
  rows = now;
}
const perTrace = await (
  await ch.query({ query: `SELECT TraceId AS id, count() AS n FROM llm_calls WHERE ServiceName = '${SERVICE}' GROUP BY TraceId`, format: 'JSONEachRow' })
).json<{ id: string; n: string }>();
await ch.close();
const stored = new Map(perTrace.map((r) => [r.id, Number(r.n)]));
const lost = [...gotAnswer].filter((id) => !stored.has(id));
const doubled = [...stored.entries()].filter(([, n]) => n > 1);
const strangers = [...stored.keys()].filter((id) => !sent.has(id));

await sidecar.child.stop(15_000);
await fake.child.stop();
if (!args.keep) rmSync(sidecar.dir, { recursive: true, force: true });

// ─── Report ──────────────────────────────────────────────────────────────────────────────────────

const lines: string[] = [];
const out = (l = ''): void => {
  lines.push(l);
};
out(`soak ${new Date().toISOString()}: ${sent.size} calls (${WARMUP_CALLS} of them a sequential warm-up) at ${rate} req/s over ${loadSeconds.toFixed(0)} s (${minutes} min planned), node ${process.version}, load average ${load0.toFixed(1)} at start, ${loadEnd.toFixed(1)} at end`);
const lat = percentiles(latencies.subarray(0, answered));
out(`latency from the scheduled send (all answers, faults included): p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(0)} ms`);
out();
out('answers by scenario (outcome: count; ✗ = not documented for that fault):');
let unexpected = 0;
const sidecar5xx = new Map<string, { n: number; documented: boolean }>();
for (const s of SCENARIOS) {
  const byLabel = outcomes.get(s.name) ?? new Map<string, number>();
  const parts = [...byLabel.entries()].map(([label, n]) => {
    const ok = s.allowed.includes(label);
    if (!ok) unexpected += n;
    const code = /^(?:sidecar|event):(LLM_SIDECAR_[A-Z_]+|anthropic:[a-z_]+)$/.exec(label)?.[1];
    if (code) {
      const e = sidecar5xx.get(code) ?? { n: 0, documented: true };
      e.n += n;
      e.documented &&= ok;
      sidecar5xx.set(code, e);
    }
    return `${label} ${n}${ok ? '' : ' ✗'}`;
  });
  out(`  ${s.name.padEnd(46)} ${parts.join(', ') || '-'}`);
}
out();
out(`sidecar-made errors (5xx status or a stream's error event) by code: ${[...sidecar5xx.entries()].map(([c, e]) => `${c} ${e.n}${e.documented ? '' : ' (NOT documented for its fault)'}`).join(', ') || 'none'}`);
out(`unexpected outcomes: ${unexpected}${unanswered ? `, plus ${unanswered} unanswered after ${DRAIN_MS / 1000} s` : ''}`);
for (const [what, sample] of [...samples.entries()].slice(0, 8)) out(`  e.g. ${what}: ${sample}`);
out(`llm_calls: ${sent.size} calls sent, ${gotAnswer.size} answered (headers received), ${rows} rows, ${stored.size} distinct calls; ${lost.length} answered calls lost, ${doubled.length} doubled, ${strangers.length} rows of calls not sent`);
const warm = rss.filter((r) => r.atMs >= RSS_WARMUP_MS);
const slope = slopePerMinute(warm, (r) => r.rssMb);
const anonSlope = slopePerMinute(warm, (r) => r.anonMb);
const maxRss = Math.max(...rss.map((r) => r.rssMb));
out(
  `sidecar RSS (${rss.length} samples every ${RSS_EVERY_MS / 1000} s): first ${rss[0]?.rssMb.toFixed(0)} MB, after warm-up ${warm[0]?.rssMb.toFixed(0)} MB, last ${rss.at(-1)?.rssMb.toFixed(0)} MB, max ${maxRss.toFixed(0)} MB; ` +
    `slope after the first ${RSS_WARMUP_MS / 1000} s ${slope.toFixed(2)} MB/min (anonymous part ${anonSlope.toFixed(2)} MB/min; limit ${maxRssSlope})`,
);

// The series itself, one sample a minute: a plateau and a slow leak can have the same slope.
const perMinute = rss.filter((r, i) => i === 0 || Math.floor(r.atMs / 60_000) !== Math.floor((rss[i - 1] as RssSample).atMs / 60_000));
const lateHalf = warm.filter((r) => r.atMs >= ((warm[0]?.atMs ?? 0) + (rss.at(-1)?.atMs ?? 0)) / 2);
out(`  RSS once a minute: ${perMinute.map((r) => r.rssMb.toFixed(0)).join(', ')} MB; slope over the later half of the samples ${slopePerMinute(lateHalf, (r) => r.rssMb).toFixed(2)} MB/min`);
out(`  anonymous once a minute: ${perMinute.map((r) => r.anonMb.toFixed(0)).join(', ')} MB`);
const enginePerMinute = engine.filter((e, i) => i === 0 || Math.floor(e.atMs / 60_000) !== Math.floor((engine[i - 1] as EngineSample).atMs / 60_000));
out(
  `  JS heap used / external once a minute: ${enginePerMinute.map((e) => `${e.jsHeapMb.toFixed(0)}/${e.externalMb.toFixed(0)}`).join(', ')} MB`,
);
out(
  `  engine once a minute (tracked MB / active parts / outdated parts): ${enginePerMinute.map((e) => `${e.trackedMb.toFixed(0)}/${e.activeParts}/${e.outdatedParts}`).join(', ')}; ` +
    `max tracked ${Math.max(...engine.map((e) => e.trackedMb)).toFixed(0)} MB, max outdated parts ${Math.max(...engine.map((e) => e.outdatedParts))} (${engine.length} samples every ${ENGINE_EVERY_MS / 1000} s)`,
);

const failures: string[] = [];
if (unexpected > 0 || unanswered > 0) failures.push(`${unexpected + unanswered} answers not documented for their fault`);
if (lost.length > 0 || doubled.length > 0 || strangers.length > 0) failures.push(`llm_calls: ${lost.length} lost, ${doubled.length} doubled, ${strangers.length} strangers`);
if (!(slope <= maxRssSlope)) failures.push(`RSS slope ${slope.toFixed(2)} MB/min > ${maxRssSlope}`);
out();
out(failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
