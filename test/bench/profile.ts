// Where the sidecar's CPU goes, per telemetry mode (issue #18: "profile first, then choose"). Starts
// the fake provider and one `llm-sidecar proxy` under `node --cpu-prof` with the same telemetry
// setup as the bench target of that name, loads it like the bench does (saturation with autocannon,
// or an open loop at --rate), stops it, and prints:
//   - the process's CPU per request over the load, every thread (from /proc, as the bench counts it);
//   - the main thread's self time per request by area (proxy/…, shared/…, npm packages, GC) and the
//     top functions, from the samples taken during the load only (start-up and shutdown left out).
// The .cpuprofile files stay in --out for Chrome DevTools (Performance → load) or speedscope.
//
//   node --import tsx test/bench/profile.ts [--target proxy|proxy-otlp|proxy-server|proxy-embedded]
//        [--seconds 10] [--connections 50 | --rate 500] [--top 25] [--out DIR]
//
// Run it before and after a change, on a machine as quiet as you can get: the shares are stable
// under load, the µs per request are not. Worker threads (if any) write their own profile; each
// file is summarised.
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { killAllChildren, spawnNode } from './children.ts';
import { formatSummary, readProfile, summariseProfile } from './cpuprofile.ts';
import { createLoadPool, runOpenLoop } from './open-loop.ts';
import { cpuMicros } from './procstat.ts';
import { PROXY_TARGETS, PROXY_VARIANTS, type ProxyTargetName } from './report.ts';
import { saturate } from './saturate.ts';
import { startFakeProvider, startSidecar } from './sidecar.ts';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'proxy' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    rate: { type: 'string' },
    top: { type: 'string', default: '25' },
    out: { type: 'string' },
  },
});
const target = (PROXY_TARGETS as readonly string[]).includes(args.target) ? (args.target as ProxyTargetName) : undefined;
if (!target) throw new Error(`--target ${args.target}: one of ${PROXY_TARGETS.join(', ')} (the bench's sidecar targets)`);
const seconds = Number(args.seconds);
const warmupS = Number(args.warmup);
const connections = Number(args.connections);
const rate = args.rate === undefined ? undefined : Number(args.rate);
const out = resolve(args.out ?? mkdtempSync(join(tmpdir(), 'llm-sidecar-profile-')));
mkdirSync(out, { recursive: true });

const log = (m: string): void => {
  process.stderr.write(`profile: ${m}\n`);
};
process.on('exit', killAllChildren);

const PATH = '/v1/chat/completions';
const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-profile' };
const BODY = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the benchmark' }] }));
/** µs on the monotonic clock V8 stamps its samples with. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

const fake = await startFakeProvider();
let telemetry = PROXY_VARIANTS[target].telemetry;
if (target === 'proxy-otlp') {
  const receiver = spawnNode('otlp-receiver', ['--import', 'tsx', 'test/bench/otlp-receiver.ts', '--port', '0']);
  telemetry = telemetry.replace('${OTLP_ENDPOINT}', `${(await receiver.waitForOutput(/otlp-receiver listening on (http:\/\/\S+)/, 15_000))[1]}/v1/traces`);
}
if (target === 'proxy-server') {
  const server = spawnNode('clickhouse-endpoint', ['--import', 'tsx', 'test/bench/clickhouse-endpoint.ts']);
  telemetry = telemetry.replace('${CLICKHOUSE_URL}', (await server.waitForOutput(/clickhouse-endpoint listening on (http:\/\/\S+) stats/, 30_000))[1] as string);
}
const config = ['providers:', `  openai: { type: openai, baseUrl: http://127.0.0.1:${fake.port}/v1 }`, telemetry].join('\n');
const sidecar = await startSidecar(`llm-sidecar proxy (${target})`, config, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', out], readyTimeoutMs: 60_000, drainMs: 500 });
const pid = sidecar.child.pid;
log(`${target} ready (pid ${pid}); ${warmupS} s warm-up, then ${seconds} s ${rate ? `at ${rate} req/s` : `at saturation, ${connections} connections`}`);

const url = sidecar.origin + PATH;
const pool = createLoadPool(sidecar.origin, 64);
const load = async (durationS: number): Promise<{ requests: number; failed: number }> => {
  if (rate) {
    const r = await runOpenLoop(pool, { path: PATH, headers: HEADERS, body: BODY }, { rate, durationS });
    return { requests: r.ok + r.non2xx, failed: r.non2xx + r.errors + r.timedOut };
  }
  const r = await saturate(url, { headers: HEADERS, body: BODY }, { connections, durationS });
  return { requests: r.completed, failed: r.non2xx + r.errors };
};

await load(warmupS);
await sleep(PROXY_VARIANTS[target].exportDelayMs + 300); // the warm-up's exports leave the window
const window = { fromUs: nowUs(), toUs: 0 };
const cpuBefore = cpuMicros(pid);
const result = await load(seconds);
// Its batched exports after the load are the load's cost too.
await sleep(PROXY_VARIANTS[target].exportDelayMs + 300);
window.toUs = nowUs();
const cpuUs = cpuMicros(pid) - cpuBefore;
await pool.destroy();
await sidecar.child.stop(30_000); // the profile is written as the process exits
await fake.child.stop();
killAllChildren();

const n = Math.max(1, result.requests);
process.stdout.write(
  `${target}: ${PROXY_VARIANTS[target].label}\n` +
    `${result.requests} requests in ${seconds} s (${(result.requests / seconds).toFixed(0)} req/s${result.failed ? `, ${result.failed} failed` : ''}); ` +
    `process CPU ${(cpuUs / n).toFixed(0)} µs per request, all threads (/proc)\n`,
);
const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
if (!files.length) throw new Error(`no .cpuprofile in ${out}: did the sidecar exit cleanly?`);
let sampledUs = 0;
for (const file of files.sort()) {
  const summary = summariseProfile(readProfile(join(out, file)), { top: Number(args.top), window });
  sampledUs += summary.busyUs;
  if (summary.busyUs === 0) continue; // a thread idle during the load
  process.stdout.write(`\n${join(out, file)}\n${formatSummary(summary, n)}\n`);
}
// Samples are wall time: more of it than the process had CPU means it waited for a core.
if (sampledUs > cpuUs * 1.2) {
  process.stdout.write(`\nnote: the threads were sampled busy ${(sampledUs / 1e6).toFixed(1)} s but had ${(cpuUs / 1e6).toFixed(1)} s of CPU: the machine was oversubscribed, so read the shares, not the µs.\n`);
}
