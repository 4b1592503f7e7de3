// Exact-cache hit latency at a fixed rate (issue #5's target: a hit in ≤ 0.5 ms p50 at 500 req/s).
//   node --import tsx test/cache/bench-hit.ts [rate=500] [seconds=8]
// One fake upstream (0 ms delay) and one sidecar (exact cache `mode: all`, telemetry off, so the
// figure is the cache's and not the exporters'). The same open-loop generator as `npm run bench`
// sends, in interleaved rounds:
//   direct      the request to the fake provider itself: the floor of this machine's loopback,
//               HTTP parsing and load generator (a no-op upstream)
//   hit         the same request through the sidecar: after the first call, every one is a hit
//   hit-stream  the streaming form of it, replayed from the cache as SSE event by event
// and reports, per kind, the end-to-end p50/p99 and, for hits, the sidecar's own time to find and
// start serving the entry (its `x-llm-sidecar-overhead-ms` header: request received → entry ready
// to write). Every hit response must say `x-llm-sidecar-cache: hit`, or the run fails.
// The verdict is on the sidecar's own time (p50 ≤ 0.5 ms); the end-to-end figures include the
// generator's share of two shared cores, which is why `direct` is printed beside them.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { killAllChildren } from '../bench/children.ts';
import { createLoadPool, percentiles, runOpenLoop, type OpenLoopRequest, type OpenLoopRun } from '../bench/open-loop.ts';
import { startFakeProvider, startSidecar } from '../bench/sidecar.ts';

const rate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 8);
const ROUNDS = 4;
const TARGET_P50_MS = 0.5;

const PATH = '/v1/chat/completions';
const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
const body = (stream: boolean): Buffer =>
  Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }], ...(stream ? { stream: true } : {}) }));
const JSON_REQUEST: OpenLoopRequest = { path: PATH, headers: HEADERS, body: body(false) };
const STREAM_REQUEST: OpenLoopRequest = { path: PATH, headers: HEADERS, body: body(true) };

process.on('exit', () => killAllChildren());

interface Kind {
  name: 'direct' | 'hit' | 'hit-stream';
  origin: string;
  req: OpenLoopRequest;
  runs: OpenLoopRun[];
  sidecarMs: number[];
  notHit: number;
}

const fake = await startFakeProvider();
const sidecar = await startSidecar(
  'llm-sidecar proxy (cache)',
  [
    'providers:',
    `  openai: { type: openai, baseUrl: ${fake.origin}/v1 }`,
    'telemetry: { clickhouse: { mode: off } }',
    'cache: { mode: all }',
  ].join('\n'),
);
const kinds: Kind[] = [
  { name: 'direct', origin: fake.origin, req: JSON_REQUEST, runs: [], sidecarMs: [], notHit: 0 },
  { name: 'hit', origin: sidecar.origin, req: JSON_REQUEST, runs: [], sidecarMs: [], notHit: 0 },
  { name: 'hit-stream', origin: sidecar.origin, req: STREAM_REQUEST, runs: [], sidecarMs: [], notHit: 0 },
];

const pools = new Map(kinds.map((k) => [k.name, createLoadPool(k.origin, 64)]));
for (const k of kinds) {
  // Warm-up: JIT, connections, and the cache entry (the first call is a miss that fills it).
  await runOpenLoop(pools.get(k.name)!, k.req, { rate, durationS: 1 });
}
for (let round = 0; round < ROUNDS; round++) {
  for (const k of [...kinds.slice(round % kinds.length), ...kinds.slice(0, round % kinds.length)]) {
    const run = await runOpenLoop(pools.get(k.name)!, k.req, {
      rate,
      durationS: seconds / ROUNDS,
      onHeaders: (status, headers) => {
        if (k.name === 'direct' || status !== 200) return;
        if (headers['x-llm-sidecar-cache'] !== 'hit') k.notHit++;
        const own = Number(headers['x-llm-sidecar-overhead-ms']);
        if (Number.isFinite(own)) k.sidecarMs.push(own);
      },
    });
    k.runs.push(run);
    await sleep(200);
  }
}
for (const pool of pools.values()) await pool.destroy();
await sidecar.child.stop();
await fake.child.stop();
rmSync(sidecar.dir, { recursive: true, force: true });

const fmt = (v: number): string => v.toFixed(3);
const lines = [`cache hits at ${rate} req/s, ${seconds} s per kind in ${ROUNDS} interleaved rounds (node ${process.version})`];
let failed = false;
const directP50 = percentiles(Float64Array.from(kinds[0]!.runs.flatMap((r) => [...r.latencies]))).p50;
for (const k of kinds) {
  const e2e = percentiles(Float64Array.from(k.runs.flatMap((r) => [...r.latencies])));
  const bad = k.runs.reduce((n, r) => n + r.non2xx + r.errors + r.timedOut, 0);
  const samples = [...new Set(k.runs.flatMap((r) => r.errorSamples))].slice(0, 3);
  let line = `${k.name.padEnd(10)} end to end p50 ${fmt(e2e.p50)} ms, p99 ${fmt(e2e.p99)} ms (${e2e.count} ok, ${bad} failed${samples.length ? `: ${samples.join('; ')}` : ''})`;
  if (k.name !== 'direct') {
    const own = percentiles(Float64Array.from(k.sidecarMs));
    const pass = own.p50 <= TARGET_P50_MS;
    line += `; vs direct ${e2e.p50 - directP50 >= 0 ? '+' : ''}${fmt(e2e.p50 - directP50)} ms; sidecar's own time p50 ${fmt(own.p50)} ms, p99 ${fmt(own.p99)} ms → ${pass ? 'PASS' : 'MISS'} (≤ ${TARGET_P50_MS} ms)`;
    if (k.notHit > 0) {
      line += `; ${k.notHit} responses were NOT cache hits`;
      failed = true;
    }
  }
  if (bad > 0 || e2e.count === 0) failed = true;
  lines.push(line);
}
console.log(lines.join('\n'));
process.exitCode = failed ? 1 : 0;
