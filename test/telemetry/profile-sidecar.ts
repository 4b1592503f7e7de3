// What telemetry costs the sidecar's process, measured where it is paid (issue #18): a script, not a
// test. Starts the fake provider and one `llm-sidecar proxy` per target, then drives the same JSON
// chat call at a fixed rate to each target in turn (slices, order rotated every round, as
// `npm run bench` does), so a neighbour's load spike lands on every target alike. Per target it
// reports the sidecar's CPU per request from /proc (user + system, every thread: the embedded
// ClickHouse's inserts and merges included, counted until the process is quiet again after its
// load), its RSS and anonymous memory, and with --cpu-prof the JS self time of the main thread by
// area (proxy/telemetry, shared/clickhouse, the OTel SDK, GC, …) and the hottest functions.
//
//   node --import tsx test/telemetry/profile-sidecar.ts --target off --target embedded [--rate 300]
//        [--seconds 6] [--rounds 4] [--cpu-prof DIR] [--target embedded@/path/to/other/checkout]
//
// A target is a telemetry mode (off | otlp | server | embedded), optionally `@` another checkout
// of the repo (same node_modules layout): interleaved A/B runs of two versions of the code.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { REPO_ROOT, freePort, killAllChildren, spawnNode, type Child } from '../bench/children.ts';
import { createLoadPool, runOpenLoop, type OpenLoopRequest } from '../bench/open-loop.ts';
import { cpuMicros, memory, type Memory } from '../bench/procstat.ts';
import { saturate } from '../bench/saturate.ts';
import { startFakeProvider } from '../bench/sidecar.ts';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', multiple: true, default: ['off', 'embedded'] },
    rate: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    /** open: fixed rate (as the bench's latency phase); saturate: autocannon, closed loop (as its throughput phase). */
    load: { type: 'string', default: 'saturate' },
    connections: { type: 'string', default: '50' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const warmupS = Number(args.warmup);
const saturating = args.load === 'saturate';
const connections = Number(args.connections);
const profDir = args['cpu-prof'] === undefined ? undefined : resolve(args['cpu-prof']);

type Mode = 'off' | 'otlp' | 'server' | 'embedded';
const MODES: Mode[] = ['off', 'otlp', 'server', 'embedded'];
const TELEMETRY: Record<Mode, string> = {
  off: 'telemetry: { clickhouse: { mode: off } }',
  otlp: 'telemetry: { clickhouse: { mode: off }, otlp: { endpoint: "${OTLP}" } }',
  server: 'telemetry: { clickhouse: { url: "${CLICKHOUSE}" } }',
  embedded: '',
};

const PATH = '/v1/chat/completions';
const REQUEST: OpenLoopRequest = {
  path: PATH,
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-profile' },
  body: Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the profile' }] })),
};
/** After its load, a target is done once it used under 5 % of a core for 300 ms (or after 6 s): its batched exports, inserts and merges are its cost. */
const QUIET_WINDOW_MS = 300;
const QUIET_SHARE = 0.05;
const MAX_QUIESCE_MS = 6_000;

const log = (m: string): void => {
  process.stderr.write(`profile: ${m}\n`);
};
process.on('exit', killAllChildren);

interface Target {
  label: string;
  mode: Mode;
  root: string;
  dir: string;
  child: Child;
  origin: string;
  requests: number;
  cpuUs: number;
  /** CPU by thread name (the engine's pools, libuv workers, the main thread), over the measured slices. */
  threads: Map<string, number>;
  memory?: Memory;
}

/** CPU ticks so far of each thread of `pid`, summed by thread name (digits folded: "QueryPipelineEx"…). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) || '?').replace(/\d+/g, '#');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(rest[11]) + Number(rest[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

const fake = await startFakeProvider();
const work = mkdtempSync(join(tmpdir(), 'llm-sidecar-profile-'));
let otlp: string | undefined;
let clickhouse: string | undefined;

async function startSidecarAt(label: string, mode: Mode, root: string): Promise<Target> {
  if (mode === 'otlp' && otlp === undefined) {
    const c = spawnNode('otlp-receiver', ['--import', 'tsx', 'test/bench/otlp-receiver.ts', '--port', '0']);
    otlp = `${(await c.waitForOutput(/otlp-receiver listening on (http:\/\/\S+)/, 15_000))[1]}/v1/traces`;
  }
  if (mode === 'server' && clickhouse === undefined) {
    const c = spawnNode('clickhouse-endpoint', ['--import', 'tsx', 'test/bench/clickhouse-endpoint.ts']);
    clickhouse = (await c.waitForOutput(/clickhouse-endpoint listening on (http:\/\/\S+) stats/, 30_000))[1];
  }
  const dir = join(work, label.replace(/[^a-z0-9]+/gi, '-'));
  mkdirSync(dir, { recursive: true });
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = [
    `listen: { host: 127.0.0.1, port: ${port} }`,
    `admin: { host: 127.0.0.1, port: ${adminPort} }`,
    'providers:',
    `  openai: { type: openai, baseUrl: "${fake.origin}/v1" }`,
    TELEMETRY[mode].replace('${OTLP}', otlp ?? '').replace('${CLICKHOUSE}', clickhouse ?? ''),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'sidecar.yaml'), config);
  const node = profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(profDir, label.replace(/[^a-z0-9]+/gi, '-'))];
  const child = spawnNode(label, [...node, join(root, 'bin/llm-sidecar'), 'proxy', '--config', join(dir, 'sidecar.yaml')], { cwd: dir, env: { LLM_SIDECAR_DRAIN_MS: '500' } });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await request(`http://127.0.0.1:${adminPort}/readyz`)
      .then(async (r) => (await r.body.dump(), r.statusCode === 200))
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${label} not ready:\n${child.tail()}`);
    await Promise.race([sleep(100), child.exited]);
  }
  return { label, mode, root, dir, child, origin: `http://127.0.0.1:${port}`, requests: 0, cpuUs: 0, threads: new Map() };
}

/** Waits until `pid` is quiet (its batched telemetry work done), returns when. */
async function quiesce(pid: number): Promise<void> {
  const end = Date.now() + MAX_QUIESCE_MS;
  for (let before = cpuMicros(pid); Date.now() < end; ) {
    await sleep(QUIET_WINDOW_MS);
    const now = cpuMicros(pid);
    if (now - before < QUIET_WINDOW_MS * 1000 * QUIET_SHARE) return;
    before = now;
  }
}

const targets: Target[] = [];
for (const spec of args.target) {
  const [mode, root] = spec.split('@') as [Mode, string | undefined];
  if (!MODES.includes(mode)) throw new Error(`--target ${spec}: mode must be one of ${MODES.join(', ')}`);
  targets.push(await startSidecarAt(root === undefined ? mode : spec, mode, root === undefined ? REPO_ROOT : resolve(root)));
  log(`started ${spec} (pid ${targets.at(-1)?.child.pid})`);
}

const pools = new Map(targets.map((t) => [t, createLoadPool(t.origin, 64)]));
for (const t of targets) {
  await runOpenLoop(pools.get(t) as ReturnType<typeof createLoadPool>, REQUEST, { rate, durationS: warmupS });
  await quiesce(t.child.pid);
}
for (let round = 0; round < rounds; round++) {
  const order = targets.map((_t, i) => targets[(i + round) % targets.length] as Target);
  for (const t of order) {
    const before = cpuMicros(t.child.pid);
    const ticksBefore = threadTicks(t.child.pid);
    let answered: number;
    let failed: number;
    if (saturating) {
      const r = await saturate(`${t.origin}${PATH}`, { headers: REQUEST.headers, body: REQUEST.body }, { connections, durationS: seconds });
      answered = r.completed;
      failed = r.errors + r.non2xx;
    } else {
      const r = await runOpenLoop(pools.get(t) as ReturnType<typeof createLoadPool>, REQUEST, { rate, durationS: seconds });
      answered = r.ok + r.non2xx;
      failed = r.errors + r.non2xx;
    }
    await quiesce(t.child.pid);
    const used = cpuMicros(t.child.pid) - before;
    t.cpuUs += used;
    t.requests += answered;
    for (const [name, ticks] of threadTicks(t.child.pid)) t.threads.set(name, (t.threads.get(name) ?? 0) + ticks - (ticksBefore.get(name) ?? 0));
    if (failed > 0) log(`${t.label}: ${failed} failed requests in round ${round + 1}`);
    log(`round ${round + 1} ${t.label}: ${answered} requests, ${(used / answered).toFixed(0)} µs/req`);
  }
}
for (const t of targets) t.memory = memory(t.child.pid);

const off = targets.find((t) => t.mode === 'off' && t.root === REPO_ROOT);
const perReq = (t: Target): number => t.cpuUs / t.requests;
process.stdout.write(`\n${saturating ? `saturation, ${connections} connections` : `${rate} req/s`}, ${rounds} rounds × ${seconds} s per target\n`);
process.stdout.write(`${'target'.padEnd(40)} ${'cpu µs/req'.padStart(11)} ${'vs off'.padStart(8)} ${'RSS MB'.padStart(8)} ${'anon MB'.padStart(8)}\n`);
for (const t of targets) {
  const vsOff = off && t !== off ? `+${(perReq(t) - perReq(off)).toFixed(0)}` : '';
  process.stdout.write(`${t.label.padEnd(40)} ${perReq(t).toFixed(0).padStart(11)} ${vsOff.padStart(8)} ${t.memory?.rssMb.toFixed(0).padStart(8)} ${t.memory?.anonMb.toFixed(0).padStart(8)}\n`);
}

for (const t of targets) {
  const all = [...t.threads.values()].reduce((a, b) => a + b, 0);
  const rows = [...t.threads.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 10);
  process.stdout.write(`${t.label} by thread: ${rows.map(([n, v]) => `${n} ${((100 * v) / all).toFixed(0)}%`).join(', ')}\n`);
}

await Promise.all(targets.map((t) => t.child.stop(20_000)));
await fake.child.stop();
if (profDir !== undefined) for (const t of targets) summariseProfiles(t.label, join(profDir, t.label.replace(/[^a-z0-9]+/gi, '-')));
rmSync(work, { recursive: true, force: true });
killAllChildren();

// ─── CPU profile: self time by area and by function ─────────────────────────────────────────────

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, fn: string): string {
  if (url === '') return fn === '(garbage collector)' ? 'GC' : fn === '(idle)' || fn === '(program)' ? fn : 'native/builtin';
  if (url.includes('/node_modules/')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return `npm ${m?.[1] ?? '?'}`;
  }
  if (url.startsWith('node:')) return 'node core';
  const m = /\/(proxy|shared|evaluator|cli)\/([^/]+)(?:\/([^/]+))?/.exec(url);
  if (m) return m[1] === 'proxy' && (m[2] === 'telemetry' || m[2] === 'pipeline') ? `${m[1]}/${m[2]}` : m[1] === 'shared' ? `shared/${m[2]}` : m[1] === 'proxy' ? 'proxy (rest)' : (m[1] as string);
  return 'other';
}

function summariseProfiles(label: string, dir: string): void {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return;
  }
  for (const file of files) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const byArea = new Map<string, number>();
    const byFn = new Map<string, number>();
    let total = 0;
    p.samples.forEach((id, i) => {
      const n = byId.get(id);
      const dt = p.timeDeltas[i] ?? 0;
      if (n === undefined || n.callFrame.functionName === '(idle)') return;
      total += dt;
      const a = area(n.callFrame.url, n.callFrame.functionName);
      byArea.set(a, (byArea.get(a) ?? 0) + dt);
      const f = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|proxy|shared)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      byFn.set(f, (byFn.get(f) ?? 0) + dt);
    });
    const top = (m: Map<string, number>, k: number): string =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([name, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`)
        .join('\n');
    process.stdout.write(`\n${label} (${file}): main-thread JS busy ${(total / 1e6).toFixed(1)} s\n by area:\n${top(byArea, 16)}\n top functions (self):\n${top(byFn, 25)}\n`);
  }
}
