// A Redis primary going away under traffic, through Redis Sentinel: the primary is SIGKILLed, the
// sentinel promotes the replica, and the enforcer (ioredis asks the sentinel again) follows it
// without a restart. During the failover each policy does what it says: fail-closed refuses with
// kind "unavailable" (503 LLM_SIDECAR_BUDGET_UNAVAILABLE in the proxy), fail-open admits unmetered;
// afterwards every reservation is enforced again on the new primary. (Cluster: failover.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { redisAvailability } from '../support/redis.ts';
import { until } from '../support/wait.ts';
import { startRedisSentinel, type RedisSentinelHandle } from '../support/redis-sentinel.ts';
import { harness, reservation, rejected, type Harness } from './helpers.ts';

const REDIS = redisAvailability();

describe.skipIf(!REDIS.available)('budgets through a Redis Sentinel failover', () => {
  // A failover leaves no replica behind: each test gets its own primary, replica and sentinel.
  let sentinel: RedisSentinelHandle | undefined;
  const open: Harness[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.enforcer.close()));
    await sentinel?.stop();
    sentinel = undefined;
  });

  it.each(['fail-closed', 'fail-open'] as const)('%s during the failover, enforcing again on the promoted replica without a restart', async (onUnavailable) => {
    sentinel = await startRedisSentinel();
    const h = await harness('redis-sentinel', { tiers: { t: { userDailyTokens: 1_000 } }, defaultTier: 't' }, { sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, onUnavailable, timeoutMs: 500 });
    open.push(h);
    const A = { tenant: `s-${onUnavailable}`, route: 'chat', tokens: 10 };
    const results: { rejected: boolean; kind?: string; enforced?: boolean }[] = [];
    let stop = false;
    let n = 0;
    const loop = (async () => {
      while (!stop) {
        const r = await h.enforcer.reserve({ ...A, user: `u${n++}` });
        results.push(r.rejected ? { rejected: true, kind: r.kind } : { rejected: false, enforced: r.enforced });
        if (!r.rejected) await r.commit({ tokens: 10 });
        await new Promise((res) => setImmediate(res));
      }
    })();
    try {
      await sentinel.failover();
      // Recovered: ten enforced admissions in a row after the new primary was named.
      await until('ten enforced admissions in a row', () => results.length > 10 && results.slice(-10).every((r) => !r.rejected && r.enforced), { timeoutMs: 20_000 });
    } finally {
      stop = true;
      await loop;
    }
    if (onUnavailable === 'fail-closed') {
      expect(results.filter((r) => r.rejected && r.kind !== 'unavailable')).toEqual([]);
      expect(results.some((r) => r.rejected)).toBe(true);
    } else {
      expect(results.filter((r) => r.rejected)).toEqual([]);
      expect(results.some((r) => r.enforced === false)).toBe(true);
    }
    // Enforced on the new primary: 1,000 tokens a day.
    const r = reservation(await h.enforcer.reserve({ ...A, user: 'after', tokens: 1_000 }));
    expect(r.enforced).toBe(true);
    expect(rejected(await h.enforcer.reserve({ ...A, user: 'after', tokens: 1 })).scope).toBe('user-daily-tokens');
  }, 60_000);
});
