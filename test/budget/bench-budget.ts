// Added latency of budgets on the request path: one reserve + one commit, sequential, against a
// local redis-server (and the memory backend for comparison), with every kind of counter a
// request can touch (user-day tokens+USD, tenant-month tokens+USD, user/tenant/route rpm+tpm:
// 10 counters). Run: node --import tsx test/budget/bench-budget.ts [iterations]
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { BudgetsSchema, type BudgetsConfigInput } from '../../shared/config/budgets.ts';
import { createBudgetEnforcer } from '../../proxy/budget/enforcer.ts';
import { startRedis } from '../support/redis.ts';

export interface LatencyStats {
  iterations: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

function stats(samples: number[]): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  const round = (x: number): number => Math.round(x * 1_000) / 1_000;
  return { iterations: s.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), meanMs: round(s.reduce((a, b) => a + b, 0) / s.length), maxMs: round(s.at(-1) ?? 0) };
}

const HUGE = { tokens: 1e12, usd: '1000000000' };

/** A typical setup: user-day tokens, tenant-month USD, user requests per minute (3 counters). */
const TYPICAL: Omit<BudgetsConfigInput, 'backend'> = {
  tiers: { paid: { userDailyTokens: HUGE.tokens, tenantMonthlyUsd: HUGE.usd } },
  defaultTier: 'paid',
  rateLimits: [{ scope: 'user', requestsPerMinute: 1e9 }],
};

/** Everything at once: 4 budgets and rpm+tpm for user, tenant and route (10 counters). */
const EVERYTHING: Omit<BudgetsConfigInput, 'backend'> = {
  tiers: { paid: { userDailyTokens: HUGE.tokens, userDailyUsd: HUGE.usd, tenantMonthlyTokens: HUGE.tokens, tenantMonthlyUsd: HUGE.usd } },
  defaultTier: 'paid',
  rateLimits: [
    { scope: 'user', requestsPerMinute: 1e9, tokensPerMinute: 1e12 },
    { scope: 'tenant', requestsPerMinute: 1e9, tokensPerMinute: 1e12 },
    { scope: 'route', requestsPerMinute: 1e9, tokensPerMinute: 1e12 },
  ],
};

export interface BenchRow {
  name: string;
  /** reserve + commit, back to back. */
  total: LatencyStats;
  /** reserve alone: what a request waits for before it goes to the provider. */
  reserve: LatencyStats;
  /** commit alone: after the answer, off the request's critical path. */
  commit: LatencyStats;
}

async function measure(name: string, limits: Omit<BudgetsConfigInput, 'backend'>, backend: BudgetsConfigInput['backend'], iterations: number): Promise<BenchRow> {
  const enforcer = await createBudgetEnforcer(BudgetsSchema.parse({ ...limits, backend }));
  const total: number[] = [];
  const reserve: number[] = [];
  const commit: number[] = [];
  const warmup = 1_000;
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = performance.now();
    const r = await enforcer.reserve({ tenant: 'acme', user: `user-${i % 100}`, route: 'chat', tokens: 1_500, usd: '0.0123' });
    const t1 = performance.now();
    if (r.rejected) throw new Error(r.reason);
    await r.commit({ tokens: 900, usd: '0.0071' });
    const t2 = performance.now();
    if (i < warmup) continue; // connection, script cache, JIT
    total.push(t2 - t0);
    reserve.push(t1 - t0);
    commit.push(t2 - t1);
  }
  await enforcer.close();
  return { name, total: stats(total), reserve: stats(reserve), commit: stats(commit) };
}

async function pingBaseline(url: string, iterations: number): Promise<LatencyStats> {
  const redis = new Redis(url);
  for (let i = 0; i < 300; i++) await redis.ping();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await redis.ping();
    samples.push(performance.now() - t0);
  }
  redis.disconnect();
  return stats(samples);
}

export interface BenchResult {
  rows: BenchRow[];
  /** One Redis round trip (PING) from the same process: the floor of a reserve. */
  redisPing: LatencyStats;
}

export async function benchBudgets(iterations = 2_000, redisUrl?: string): Promise<BenchResult> {
  const own = redisUrl === undefined ? await startRedis() : undefined;
  const url = redisUrl ?? (own as { url: string }).url;
  const redis = (): BudgetsConfigInput['backend'] => ({ type: 'redis', url, keyPrefix: `bench:${randomUUID()}:`, onUnavailable: 'fail-closed', timeoutMs: 1_000 });
  try {
    const rows = [
      await measure('redis, typical (3 counters)', TYPICAL, redis(), iterations),
      await measure('redis, everything (10 counters)', EVERYTHING, redis(), iterations),
      await measure('memory, everything (10 counters)', EVERYTHING, { type: 'memory' }, iterations),
    ];
    return { rows, redisPing: await pingBaseline(url, iterations) };
  } finally {
    await own?.stop();
  }
}

export function formatBench(r: BenchResult): string {
  const f = (s: LatencyStats): string => `p50 ${s.p50Ms.toFixed(3)} / p99 ${s.p99Ms.toFixed(3)} ms`;
  return [
    ...r.rows.map((row) => `${row.name.padEnd(34)} reserve+commit ${f(row.total)}   (reserve ${f(row.reserve)}; commit ${f(row.commit)})   n=${row.total.iterations}`),
    `${'baseline: one redis PING'.padEnd(34)} ${f(r.redisPing)}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 2_000);
  console.log(formatBench(await benchBudgets(n)));
}
