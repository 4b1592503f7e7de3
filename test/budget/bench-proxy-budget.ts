// What budgets on Redis add to the sidecar's latency at a fixed rate (issue #6's target: ≤ 0.3 ms
// p50 at 500 req/s). node --import tsx test/budget/bench-proxy-budget.ts [rate=500] [seconds=8]
// One fake upstream (0 ms), a local redis-server, and two sidecars that differ only in budgets
// (both with telemetry off): `plain` has none; `budgets` reserves and trues up a user-day token
// budget, a tenant-month USD budget and a user requests-per-minute limit on Redis for every call
// (limits too high to refuse anything). The same open-loop generator as `npm run bench` sends the
// same request to each in interleaved rounds; the report is the difference of their p50s. Every
// response must be a 200, and Redis must hold the counters afterwards, or the run fails.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { killAllChildren } from '../bench/children.ts';
import { createLoadPool, percentiles, runOpenLoop, type OpenLoopRequest, type OpenLoopRun } from '../bench/open-loop.ts';
import { startFakeProvider, startSidecar } from '../bench/sidecar.ts';
import { startRedis } from '../support/redis.ts';

const rate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 8);
const ROUNDS = 4;
const TARGET_ADDED_P50_MS = 0.3;

const REQUEST: OpenLoopRequest = {
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench', 'x-llm-sidecar-tenant': 'acme', 'x-llm-sidecar-user': 'bench-user' },
  body: Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the budget benchmark' }] })),
};

process.on('exit', () => killAllChildren());

const fake = await startFakeProvider();
const redis = await startRedis();
const common = ['providers:', `  openai: { type: openai, baseUrl: ${fake.origin}/v1 }`, 'telemetry: { clickhouse: { mode: off } }'];
const plain = await startSidecar('llm-sidecar proxy (plain)', common.join('\n'));
const budgets = await startSidecar(
  'llm-sidecar proxy (budgets on Redis)',
  [
    ...common,
    'budgets:',
    // fail-closed with a long timeout: a refusal would mean Redis failed, not that the machine was busy.
    `  backend: { type: redis, url: "${redis.url}", onUnavailable: fail-closed, timeoutMs: 1000 }`,
    '  tiers: { paid: { userDailyTokens: 1000000000000, tenantMonthlyUsd: "1000000000" } }',
    '  defaultTier: paid',
    '  rateLimits: [{ scope: user, requestsPerMinute: 1000000000 }]',
  ].join('\n'),
);

interface Kind {
  name: 'plain' | 'budgets';
  origin: string;
  runs: OpenLoopRun[];
  /** The sidecar's own time per request (x-llm-sidecar-overhead-ms): the budget reserve is in it. */
  ownMs: number[];
}
const kinds: Kind[] = [
  { name: 'plain', origin: plain.origin, runs: [], ownMs: [] },
  { name: 'budgets', origin: budgets.origin, runs: [], ownMs: [] },
];
const pools = new Map(kinds.map((k) => [k.name, createLoadPool(k.origin, 64)]));
for (const k of kinds) await runOpenLoop(pools.get(k.name)!, REQUEST, { rate, durationS: 1 });
for (let round = 0; round < ROUNDS; round++) {
  for (const k of round % 2 ? [...kinds].reverse() : kinds) {
    const onHeaders = (status: number, headers: Record<string, string | string[] | undefined>): void => {
      const own = Number(headers['x-llm-sidecar-overhead-ms']);
      if (status === 200 && Number.isFinite(own)) k.ownMs.push(own);
    };
    k.runs.push(await runOpenLoop(pools.get(k.name)!, REQUEST, { rate, durationS: seconds / ROUNDS, onHeaders }));
    await sleep(200);
  }
}
for (const pool of pools.values()) await pool.destroy();

const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
await client.connect();
const keys = await client.dbsize();
client.disconnect();
for (const s of [plain, budgets]) {
  await s.child.stop();
  rmSync(s.dir, { recursive: true, force: true });
}
await redis.stop();
await fake.child.stop();

const fmt = (v: number): string => v.toFixed(3);
let failed = keys === 0;
const p50 = new Map<string, number>();
const lines = [`budgets on Redis at ${rate} req/s, ${seconds} s per sidecar in ${ROUNDS} interleaved rounds (node ${process.version})`];
for (const k of kinds) {
  const lat = percentiles(Float64Array.from(k.runs.flatMap((r) => [...r.latencies])));
  const bad = k.runs.reduce((n, r) => n + r.non2xx + r.errors + r.timedOut, 0);
  if (bad > 0 || lat.count === 0) failed = true;
  p50.set(k.name, lat.p50);
  const own = percentiles(Float64Array.from(k.ownMs));
  const samples = [...new Set(k.runs.flatMap((r) => r.errorSamples))].slice(0, 3);
  lines.push(`${k.name.padEnd(8)} p50 ${fmt(lat.p50)} ms, p90 ${fmt(lat.p90)} ms, p99 ${fmt(lat.p99)} ms (${lat.count} ok, ${bad} failed${samples.length ? `: ${samples.join('; ')}` : ''}); sidecar's own time p50 ${fmt(own.p50)} ms`);
}
const added = (p50.get('budgets') as number) - (p50.get('plain') as number);
lines.push(`added by budgets: p50 ${added >= 0 ? '+' : ''}${fmt(added)} ms → ${added <= TARGET_ADDED_P50_MS ? 'PASS' : 'MISS'} (≤ ${TARGET_ADDED_P50_MS} ms); Redis keys afterwards: ${keys}`);
console.log(lines.join('\n'));
process.exitCode = failed ? 1 : 0;
