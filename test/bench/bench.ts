// `npm run bench`: how much the sidecar costs compared with calling the provider directly and with
// two reference proxies (a lean Node forwarder and nginx), in one run on one machine, so the ratios mean something even on a
// small shared box. Targets (the load generator is this process):
//   direct  load generator → fake upstream
//   bare    load generator → bare-passthrough.mjs → fake upstream (the leanest Node forwarder)
//   nginx   load generator → nginx (Debian's, nginx.ts; skipped when not installed) → fake upstream
//   proxy, proxy-otlp, proxy-server, proxy-embedded
//           load generator → `llm-sidecar proxy` → fake upstream, one sidecar per telemetry setup:
//             proxy           telemetry off (clickhouse mode off, no OTLP): no spans at all
//             proxy-otlp      spans by OTLP/HTTP to otlp-receiver.ts (its own process, whose CPU is
//                             reported beside the sidecar's), ClickHouse off
//             proxy-server    spans to a ClickHouse server over HTTP, as at scale: the stand-in is
//                             clickhouse-endpoint.ts (chdb behind ClickHouse's HTTP interface, its
//                             own process, CPU reported beside the sidecar's)
//             proxy-embedded  the default: spans into the embedded ClickHouse (chdb) in the
//                             sidecar's own process
//           each is compared with direct and with both references (bare, nginx) and held to
//           issue #18's goals for its mode (report.ts)
// Phases: open loop at a fixed rate (latency, CPU, RSS), streaming open loop (TTFB), saturation
// (throughput, CPU). Each phase warms every target up, then measures in ROUNDS: the phase's time
// is cut into slices and the targets take turns (order rotated each round), so a neighbour's load
// spike or a slow drift of the machine lands on all targets alike instead of on whichever was
// measured at that moment. Only the target of the current slice gets load; the others sit idle.
// After its load, a slice lasts until the target has done the work the load caused (the sidecar
// exports spans in batches after answering): that CPU is the target's, not the next target's.
// Report on stdout and in bench-results/latest.json; progress on stderr. Exit 0 when every target
// ran (MISS is a result, not a failure), 1 otherwise.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, constants as osConstants, cpus, loadavg, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Pool } from 'undici';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT, killAllChildren, spawnNode, type Child } from './children.ts';
import { findNginx, startNginx } from './nginx.ts';
import { createLoadPool, runOpenLoop, summarize, type OpenLoopRequest, type OpenLoopRun } from './open-loop.ts';
import { cpuMicros, memory, type Memory } from './procstat.ts';
import { PROXY_TARGETS, PROXY_VARIANTS, TARGETS, buildReport, type ProcessCost, type OtlpReceiverStats, type ProxyTargetName, type Settings, type TargetName, type TargetOutcome } from './report.ts';
import { saturate, summarizeSaturation, type SaturationRun } from './saturate.ts';
import { startFakeProvider, startSidecar } from './sidecar.ts';

const env = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const durationS = env('BENCH_DURATION_S', 8);
const settings: Settings = {
  durationS,
  warmupS: env('BENCH_WARMUP_S', 2),
  rate: env('BENCH_RATE', 500),
  streamRate: env('BENCH_STREAM_RATE', 200),
  streamDurationS: env('BENCH_STREAM_DURATION_S', Math.max(1, Math.round((durationS * 5) / 8))),
  connections: env('BENCH_CONNECTIONS', 50),
  rounds: Math.round(env('BENCH_ROUNDS', 4)),
  // Enough that the generator never queues at the planned rates (each request takes ~1 ms).
  openLoopConnections: 64,
  proxyExtraYaml: process.env.BENCH_PROXY_EXTRA_YAML || undefined,
};
/**
 * BENCH_TARGETS=direct,bare skips the others (e.g. while the proxy does not start yet).
 * BENCH_PROXY_EXTRA_YAML is appended to every sidecar's config (not `telemetry`: each variant sets
 * its own), e.g. BENCH_PROXY_EXTRA_YAML='cache: { mode: all }' BENCH_TARGETS=direct,bare,proxy npm run bench
 */
const selected = new Set(
  (process.env.BENCH_TARGETS ?? TARGETS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const SETTLE_MS = 300;
/** After its load, a target counts as done once it uses less than QUIET_CPU_SHARE of a core over a window. */
const QUIET_WINDOW_MS = 200;
const QUIET_CPU_SHARE = 0.1;
/** …or once this much time has passed after the settle (a process that never goes quiet). */
const MAX_QUIESCE_MS = 3_000;
const PATH = '/v1/chat/completions';
const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
const MESSAGES = [{ role: 'user', content: 'Say hello to the benchmark' }];
const JSON_REQUEST: OpenLoopRequest = { path: PATH, headers: HEADERS, body: Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES })) };
const STREAM_REQUEST: OpenLoopRequest = { path: PATH, headers: HEADERS, body: Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true })) };

const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`);
};

// ---- cleanup: the children die with the bench on exit, error or signal ---------------------------
// (Only a SIGKILLed bench cannot clean up; even then the bare forwarder exits with its IPC channel.)
let tempDir: string | undefined;
process.on('exit', () => {
  killAllChildren();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(128 + osConstants.signals[signal]); // the 'exit' handler kills the children
  });
}

// ---- the three ways to reach the fake upstream ------------------------------------------------
async function startBare(upstreamOrigin: string): Promise<{ child: Child; origin: string }> {
  // IPC only so that the forwarder notices the bench's death (it exits on 'disconnect').
  // Plain JavaScript, no loader: the reference pays for nothing it does not need.
  const child = spawnNode('bare-passthrough', ['test/bench/bare-passthrough.mjs', '--upstream', upstreamOrigin], { ipc: true });
  const m = await child.waitForOutput(/bare-passthrough listening on (http:\/\/\S+)/, 15_000);
  return { child, origin: m[1] as string };
}

/** The local OTLP receiver for proxy-otlp, started with the first sidecar that needs it. */
let receiver: { child: Child; origin: string } | undefined;
async function startReceiver(): Promise<{ child: Child; origin: string }> {
  if (receiver) return receiver;
  const child = spawnNode('otlp-receiver', ['--import', 'tsx', 'test/bench/otlp-receiver.ts', '--port', '0']);
  const m = await child.waitForOutput(/otlp-receiver listening on (http:\/\/\S+)/, 15_000);
  receiver = { child, origin: m[1] as string };
  return receiver;
}

/** The ClickHouse server stand-in for proxy-server (chdb behind the HTTP interface, its own process). */
let clickhouse: { child: Child; url: string; stats: string } | undefined;
async function startClickHouse(): Promise<{ child: Child; url: string; stats: string }> {
  if (clickhouse) return clickhouse;
  const child = spawnNode('clickhouse-endpoint', ['--import', 'tsx', 'test/bench/clickhouse-endpoint.ts']);
  const m = await child.waitForOutput(/clickhouse-endpoint listening on (http:\/\/\S+) stats on (http:\/\/\S+)/, 30_000);
  clickhouse = { child, url: m[1] as string, stats: m[2] as string };
  return clickhouse;
}

async function startProxy(fakePort: number, variant: ProxyTargetName): Promise<{ child: Child; origin: string }> {
  tempDir ??= mkdtempSync(join(tmpdir(), 'llm-sidecar-npm-bench-'));
  // One directory per variant: its own config file (a sidecar reloads when its file changes) and
  // its own on-disk state (the embedded ClickHouse locks its data directory); thrown away at exit.
  const dir = join(tempDir, variant);
  mkdirSync(dir, { recursive: true });
  let telemetry = PROXY_VARIANTS[variant].telemetry;
  if (variant === 'proxy-otlp') telemetry = telemetry.replace('${OTLP_ENDPOINT}', `${(await startReceiver()).origin}/v1/traces`);
  if (variant === 'proxy-server') telemetry = telemetry.replace('${CLICKHOUSE_URL}', (await startClickHouse()).url);
  const config = [
    'providers:',
    `  openai: { type: openai, baseUrl: http://127.0.0.1:${fakePort}/v1 }`,
    `  anthropic: { type: anthropic, baseUrl: http://127.0.0.1:${fakePort} }`,
    telemetry,
    settings.proxyExtraYaml ?? '',
  ].join('\n');
  return startSidecar(`llm-sidecar proxy (${variant})`, config, { dir, drainMs: 1000 });
}

const SMOKE_REQUESTS = [
  ['JSON', JSON_REQUEST, '"choices"'],
  ['streaming', STREAM_REQUEST, 'data: '],
] as const;

/** One JSON and one streaming request must succeed before any load: a broken target fails fast. */
async function smokeTest(origin: string): Promise<void> {
  for (const [kind, req, expect] of SMOKE_REQUESTS) {
    const res = await request(origin + PATH, { method: 'POST', headers: req.headers, body: req.body, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !text.includes(expect)) {
      throw new Error(`${kind} smoke request answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
  }
}

// ---- measurement bookkeeping ------------------------------------------------------------------------
interface Cost {
  target: number;
  upstream: number;
  generator: number;
  /** The OTLP receiver's (proxy-otlp) or the ClickHouse stand-in's (proxy-server) CPU. */
  receiver: number;
}

/** A phase's slices for one target, and the CPU they cost. */
interface Slices<R> {
  runs: R[];
  cost: Cost;
}

interface Target {
  name: TargetName;
  origin: string;
  child?: Child;
  /** Aborted when the target or the fake upstream dies: its running slice stops at once. */
  crashed: AbortController;
  error?: string;
  pool: Pool;
  idleRssMb?: number;
  /** Memory right after the target's last fixed-rate slice. */
  memAfterFixed?: Memory;
  fixed: Slices<OpenLoopRun>;
  stream: Slices<OpenLoopRun>;
  saturation: Slices<SaturationRun>;
  /** Requests answered (any status) over the whole run, warm-ups and smoke test included. */
  answered: number;
}

type Run = OpenLoopRun | SaturationRun;
const answered = (r: Run): number => ('completed' in r ? r.completed : r.ok + r.non2xx);
const isProxy = (name: TargetName): name is ProxyTargetName => (PROXY_TARGETS as readonly TargetName[]).includes(name);
/** The OTLP receiver works for proxy-otlp only, the ClickHouse stand-in for proxy-server only: their CPU is that target's. */
const receiverPidOf = (t: Target): number | undefined => (t.name === 'proxy-otlp' ? receiver?.child.pid : t.name === 'proxy-server' ? clickhouse?.child.pid : undefined);

const noSlices = <R>(): Slices<R> => ({ runs: [], cost: { target: 0, upstream: 0, generator: 0, receiver: 0 } });
const running = (targets: Target[]): Target[] => targets.filter((t) => t.error === undefined);

/** Runs `fn` on a target; a failure (or its process dying) takes it out of the remaining phases. */
async function guard(t: Target, what: string, fn: () => Promise<void>): Promise<void> {
  if (t.error !== undefined) return;
  try {
    await fn();
  } catch (err) {
    const reason: unknown = t.crashed.signal.aborted ? t.crashed.signal.reason : err;
    t.error = `${what}: ${reason instanceof Error ? reason.message : String(reason)}`;
    log(`${t.name}: FAILED: ${t.error}`);
  }
}

/**
 * After a target's load, waits until it has finished the work that the load caused: the sidecar
 * exports spans after the answers went out, in batches (PROXY_VARIANTS' exportDelayMs), and the
 * OTLP receiver then reads them. That work is so counted in the target's own slice, and kept out
 * of the next target's. Every target gets the same treatment (those without exports settle fast).
 */
async function settle(t: Target, signal: AbortSignal): Promise<void> {
  await sleep(SETTLE_MS + (isProxy(t.name) ? PROXY_VARIANTS[t.name].exportDelayMs : 0), undefined, { signal });
  const pids = [t.child?.pid, receiverPidOf(t)].filter((pid): pid is number => pid !== undefined);
  if (!pids.length) return;
  const cpu = (): number => pids.reduce((n, pid) => n + cpuMicros(pid), 0);
  const deadline = Date.now() + MAX_QUIESCE_MS;
  for (let last = cpu(); Date.now() < deadline; ) {
    await sleep(QUIET_WINDOW_MS, undefined, { signal });
    const now = cpu();
    if (now - last <= QUIET_WINDOW_MS * 1000 * QUIET_CPU_SHARE) return;
    last = now;
  }
  log(`${t.name}: still busy ${MAX_QUIESCE_MS} ms after its settle; going on`);
}

/**
 * Runs one slice, lets the target settle, and adds the CPU that the target, the OTLP receiver
 * (proxy-otlp), the fake upstream and this process spent meanwhile.
 */
async function slice<R extends Run>(t: Target, upstreamPid: number, into: Slices<R>, run: () => Promise<R>): Promise<void> {
  const receiverPid = receiverPidOf(t);
  const before = { target: t.child ? cpuMicros(t.child.pid) : 0, upstream: cpuMicros(upstreamPid), receiver: receiverPid ? cpuMicros(receiverPid) : 0, self: process.cpuUsage() };
  const result = await run();
  await settle(t, t.crashed.signal);
  const self = process.cpuUsage(before.self);
  into.cost.target += t.child ? cpuMicros(t.child.pid) - before.target : 0;
  into.cost.receiver += receiverPid ? cpuMicros(receiverPid) - before.receiver : 0;
  into.cost.upstream += cpuMicros(upstreamPid) - before.upstream;
  into.cost.generator += self.user + self.system;
  into.runs.push(result);
  t.answered += answered(result);
}

function perRequest(t: Target, cost: Cost, requests: number): ProcessCost {
  const n = Math.max(1, requests);
  return {
    cpuUsPerReq: t.child ? cost.target / n : undefined,
    upstreamCpuUsPerReq: cost.upstream / n,
    generatorCpuUsPerReq: cost.generator / n,
    ...(t.name === 'proxy-otlp' || t.name === 'proxy-server' ? { receiverCpuUsPerReq: cost.receiver / n } : {}),
  };
}

interface Phase<R extends Run> {
  label: string;
  /** Measured time per target, cut into `settings.rounds` slices. */
  totalS: number;
  warmup: (t: Target, signal: AbortSignal) => Promise<R>;
  /** One slice of load on `t`. */
  run: (t: Target, sliceS: number, signal: AbortSignal) => Promise<R>;
  /** Where `t`'s slices of this phase go. */
  slices: (t: Target) => Slices<R>;
}

/**
 * A phase: warm every target up, then `rounds` rounds in which each target in turn gets one
 * slice of the phase's time. The order rotates so that no target is always first after a pause.
 */
async function phase<R extends Run>(p: Phase<R>, targets: Target[], upstreamPid: number): Promise<void> {
  for (const t of running(targets)) {
    await guard(t, `${p.label} warm-up`, async () => {
      t.answered += answered(await p.warmup(t, t.crashed.signal));
      await settle(t, t.crashed.signal);
    });
  }
  const sliceS = p.totalS / settings.rounds;
  for (let round = 0; round < settings.rounds; round++) {
    const order = running(targets);
    const rotated = [...order.slice(round % Math.max(1, order.length)), ...order.slice(0, round % Math.max(1, order.length))];
    log(`${p.label}: round ${round + 1}/${settings.rounds} (${rotated.map((t) => t.name).join(', ')}; ${sliceS.toFixed(2)} s each)`);
    for (const t of rotated) {
      await guard(t, p.label, () => slice(t, upstreamPid, p.slices(t), () => p.run(t, sliceS, t.crashed.signal)));
    }
  }
}

// ---- the run ---------------------------------------------------------------------------------------
async function main(): Promise<number> {
  const startedAt = new Date().toISOString();
  // Other work on the machine skews every figure: record how busy it was when the run began.
  const loadAverage = loadavg()[0] ?? 0;
  const outcomes = Object.fromEntries(TARGETS.map((t) => [t, { status: 'skipped' }])) as Record<TargetName, TargetOutcome>;
  const unknown = [...selected].filter((name) => !(TARGETS as readonly string[]).includes(name));
  if (unknown.length) throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')} (known: ${TARGETS.join(', ')})`);
  if (settings.proxyExtraYaml !== undefined && /^telemetry\s*:/m.test(settings.proxyExtraYaml)) {
    throw new Error('BENCH_PROXY_EXTRA_YAML must not set `telemetry`: each sidecar variant sets its own');
  }
  log(`node ${process.version}; targets ${[...selected].join(', ')}; report follows on stdout`);

  const fake = await startFakeProvider();
  const upstreamPid = fake.child.pid;
  log(`fake upstream on ${fake.origin} (pid ${upstreamPid})`);

  const starters: Record<TargetName, () => Promise<{ child?: Child; origin: string }>> = {
    direct: () => Promise.resolve({ origin: fake.origin }),
    bare: () => startBare(fake.origin),
    nginx: () => {
      tempDir ??= mkdtempSync(join(tmpdir(), 'llm-sidecar-npm-bench-'));
      return startNginx(nginxBinary as string, fake.origin, join(tempDir, 'nginx'));
    },
    proxy: () => startProxy(fake.port, 'proxy'),
    'proxy-otlp': () => startProxy(fake.port, 'proxy-otlp'),
    'proxy-server': () => startProxy(fake.port, 'proxy-server'),
    'proxy-embedded': () => startProxy(fake.port, 'proxy-embedded'),
  };
  const nginxBinary = findNginx();
  let nginxVersion: string | undefined;
  if (selected.has('nginx') && nginxBinary) {
    // `nginx -v` prints on stderr: "nginx version: nginx/1.22.1"
    nginxVersion = /nginx\/\S+/.exec(spawnSync(nginxBinary, ['-v'], { encoding: 'utf8' }).stderr ?? '')?.[0];
  }
  const targets: Target[] = [];
  for (const name of TARGETS) {
    if (!selected.has(name)) continue;
    if (name === 'nginx' && !nginxBinary) {
      // A reference the machine lacks is a note, not a failure (the bench is not CI).
      log('nginx: not installed (apt-get install nginx, or NGINX_BIN=/path/to/nginx): skipping the native reference');
      outcomes.nginx = { status: 'skipped', reason: 'nginx not installed: apt-get install nginx, or NGINX_BIN' };
      continue;
    }
    try {
      log(`${name}: starting`);
      const { child, origin } = await starters[name]();
      const crashed = new AbortController();
      fake.child.exited.catch((err: unknown) => crashed.abort(err));
      child?.exited.catch((err: unknown) => crashed.abort(err));
      const t: Target = { name, origin, child, crashed, pool: createLoadPool(origin, settings.openLoopConnections), fixed: noSlices(), stream: noSlices(), saturation: noSlices(), answered: 0 };
      t.idleRssMb = child ? memory(child.pid).rssMb : undefined;
      await guard(t, 'smoke test', () => smokeTest(origin));
      if (t.error !== undefined) {
        // Broken from the start: nothing to measure, and it should not sit on the machine.
        outcomes[name] = { status: 'failed', error: t.error };
        await t.pool.destroy();
        await child?.stop();
        continue;
      }
      t.answered += SMOKE_REQUESTS.length;
      targets.push(t);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`${name}: FAILED to start: ${message}`);
      outcomes[name] = { status: 'failed', error: `start: ${message}` };
    }
  }

  const rate = settings.rate;
  await phase(
    {
      label: `open loop ${rate} req/s`,
      totalS: settings.durationS,
      warmup: (t, signal) => runOpenLoop(t.pool, JSON_REQUEST, { rate, durationS: settings.warmupS, signal }),
      run: async (t, sliceS, signal) => {
        const run = await runOpenLoop(t.pool, JSON_REQUEST, { rate, durationS: sliceS, signal });
        // Kept from the last slice: memory at the end of the fixed-rate load, before saturation.
        if (t.child) t.memAfterFixed = memory(t.child.pid);
        return run;
      },
      slices: (t) => t.fixed,
    },
    targets,
    upstreamPid,
  );
  const streamRate = settings.streamRate;
  await phase(
    {
      label: `streaming ${streamRate} req/s`,
      totalS: settings.streamDurationS,
      warmup: (t, signal) => runOpenLoop(t.pool, STREAM_REQUEST, { rate: streamRate, durationS: 1, signal }),
      run: (t, sliceS, signal) => runOpenLoop(t.pool, STREAM_REQUEST, { rate: streamRate, durationS: sliceS, signal }),
      slices: (t) => t.stream,
    },
    targets,
    upstreamPid,
  );
  for (const t of targets) await t.pool.destroy();
  const load = { headers: JSON_REQUEST.headers, body: JSON_REQUEST.body };
  const connections = settings.connections;
  await phase(
    {
      label: `saturation ${connections} connections`,
      totalS: settings.durationS,
      warmup: (t, signal) => saturate(t.origin + PATH, load, { connections, durationS: settings.warmupS, signal }),
      run: (t, sliceS, signal) => saturate(t.origin + PATH, load, { connections, durationS: sliceS, signal }),
      slices: (t) => t.saturation,
    },
    targets,
    upstreamPid,
  );

  for (const t of targets) {
    await t.child?.stop();
    if (t.error !== undefined) {
      outcomes[t.name] = { status: 'failed', error: t.error };
      continue;
    }
    const fixed = summarize(t.fixed.runs, settings.rate);
    const stream = summarize(t.stream.runs, settings.streamRate);
    const saturation = summarizeSaturation(t.saturation.runs, connections);
    outcomes[t.name] = {
      status: 'ok',
      result: {
        url: t.origin,
        idleRssMb: t.idleRssMb,
        fixed: { ...fixed, ...perRequest(t, t.fixed.cost, fixed.ok + fixed.non2xx), rssMb: t.memAfterFixed?.rssMb, anonMb: t.memAfterFixed?.anonMb, peakRssMb: t.memAfterFixed?.peakRssMb },
        stream: { ...stream, ...perRequest(t, t.stream.cost, stream.ok + stream.non2xx) },
        saturation: { ...saturation, ...perRequest(t, t.saturation.cost, saturation.completed) },
      },
    };
  }
  await fake.child.stop();
  // The sidecars are stopped (proxy-otlp flushed its last spans on the way out): the count is final.
  let otlpReceiver: OtlpReceiverStats | undefined;
  if (receiver) {
    try {
      const res = await request(`${receiver.origin}/stats`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
      if (res.statusCode !== 200) throw new Error(`GET /stats answered ${res.statusCode}`);
      const stats = (await res.body.json()) as Omit<OtlpReceiverStats, 'proxiedRequests'>;
      otlpReceiver = { ...stats, proxiedRequests: targets.find((t) => t.name === 'proxy-otlp')?.answered };
    } catch (err) {
      log(`otlp receiver: no stats (${err instanceof Error ? err.message : String(err)})`);
    }
    await receiver.child.stop();
  }
  let serverRows: number | undefined;
  if (clickhouse) {
    try {
      const res = await request(clickhouse.stats, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      if (res.statusCode !== 200) throw new Error(`GET ${clickhouse.stats} answered ${res.statusCode}: ${await res.body.text()}`);
      serverRows = ((await res.body.json()) as { otelTraces: number }).otelTraces;
    } catch (err) {
      log(`clickhouse stand-in: no row count (${err instanceof Error ? err.message : String(err)})`);
    }
    await clickhouse.child.stop();
  }

  const cpu = cpus();
  const { json, text } = buildReport({
    startedAt,
    finishedAt: new Date().toISOString(),
    node: process.version,
    cpu: { model: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length },
    platform: `${platform()} ${arch()}`,
    loadAverage,
    settings,
    serverRows,
    nginxVersion,
    targets: outcomes,
    otlpReceiver,
  });
  const outDir = join(REPO_ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(text + `\nresults: bench-results/latest.json\n`);
  return Object.values(outcomes).some((o) => o.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
