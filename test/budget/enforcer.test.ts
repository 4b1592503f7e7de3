// The enforcer's contract, run on EVERY backend (memory, one Redis, a primary found through Redis
// Sentinel, a Redis Cluster of three primaries with replicas): exact under concurrency, all-or-none across windows, true-ups, resets
// at the window boundary, alerts once per window, bounded snapshot.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisClusterAvailability, startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';
import { startRedisSentinel, type RedisSentinelHandle } from '../support/redis-sentinel.ts';
import { admitted, fakeClock, harness, rejected, reservation, type BackendKind, type Harness } from './helpers.ts';
import { redisAvailability, startRedis, type RedisHandle } from '../support/redis.ts';

const hasRedis = redisAvailability().available;
const hasCluster = redisClusterAvailability().available;
const backends: BackendKind[] = ['memory', ...(hasRedis ? (['redis', 'redis-sentinel'] as const) : []), ...(hasCluster ? (['redis-cluster'] as const) : [])];

let redis: RedisHandle | undefined;
let cluster: RedisClusterHandle | undefined;
let sentinel: RedisSentinelHandle | undefined;
beforeAll(async () => {
  [redis, cluster, sentinel] = await Promise.all([hasRedis ? startRedis() : undefined, hasCluster ? startRedisCluster() : undefined, hasRedis ? startRedisSentinel() : undefined]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop(), sentinel?.stop()]);
});

const A = { tenant: 'acme', user: 'bob', route: 'chat' };

describe.each(backends)('BudgetEnforcer on %s', (kind) => {
  const open: Harness[] = [];
  const make = async (budgets: Parameters<typeof harness>[1], opts: Parameters<typeof harness>[2] = {}): Promise<Harness> => {
    const h = await harness(kind, budgets, { ...opts, redisUrl: redis?.url, clusterNodes: cluster?.urls, ...(sentinel ? { sentinel: { name: sentinel.name, sentinels: sentinel.sentinels } } : {}) });
    open.push(h);
    return h;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.enforcer.close()));
  });

  it('admits exactly 50 of 200 concurrent reservations against a daily token budget that fits 50', async () => {
    const { enforcer } = await make({ tiers: { free: { userDailyTokens: 5_000 } }, defaultTier: 'free' });
    const results = await Promise.all(Array.from({ length: 200 }, () => enforcer.reserve({ ...A, tokens: 100 })));
    expect(results.filter(admitted)).toHaveLength(50);
    const r = rejected(results.find((x) => x.rejected) ?? results[0]!);
    expect(r).toMatchObject({ kind: 'budget', scope: 'user-daily-tokens', key: 'acme/bob', limit: 5_000, used: 5_000, requested: 100, permanent: false });
  });

  it('admits exactly 50 of 200 concurrent reservations against 50 requests per minute', async () => {
    const { enforcer } = await make({ rateLimits: [{ scope: 'user', requestsPerMinute: 50 }] });
    const results = await Promise.all(Array.from({ length: 200 }, () => enforcer.reserve({ ...A, tokens: 1 })));
    expect(results.filter(admitted)).toHaveLength(50);
    expect(rejected(results[199]!)).toMatchObject({ kind: 'rate-limit', scope: 'user-rpm', limit: 50 });
  });

  it('reserves in all windows or in none', async () => {
    const { enforcer } = await make({ tiers: { t: { tenantMonthlyTokens: 100 } }, defaultTier: 't', rateLimits: [{ scope: 'user', requestsPerMinute: 2 }] });
    // Rejected by the tenant budget: must not consume a request of the per-minute limit.
    expect(rejected(await enforcer.reserve({ ...A, tokens: 150 }))).toMatchObject({ scope: 'tenant-monthly-tokens', permanent: true });
    expect(admitted(await enforcer.reserve({ ...A, tokens: 10 }))).toBe(true);
    expect(admitted(await enforcer.reserve({ ...A, tokens: 10 }))).toBe(true);
    expect(rejected(await enforcer.reserve({ ...A, tokens: 10 }))).toMatchObject({ scope: 'user-rpm' });
    // And the rpm rejection did not take tenant tokens: 20 of 100 used.
    const snap = enforcer.snapshot().find((g) => g.scope === 'tenant-monthly-tokens');
    expect(snap).toMatchObject({ key: 'acme', used: 20, limit: 100, ratio: 0.2 });
  });

  it('true-up: reserve big, commit small frees headroom; commit more than reserved counts fully', async () => {
    const { enforcer } = await make({ tiers: { t: { userDailyTokens: 1_000 } }, defaultTier: 't' });
    const big = reservation(await enforcer.reserve({ ...A, tokens: 800 }));
    expect(rejected(await enforcer.reserve({ ...A, tokens: 300 }))).toMatchObject({ used: 800 });
    await big.commit({ tokens: 100 });
    const next = reservation(await enforcer.reserve({ ...A, tokens: 300 })); // 100 + 300
    await next.commit({ tokens: 850 }); // more than reserved: 100 + 850 = 950
    expect(rejected(await enforcer.reserve({ ...A, tokens: 60 }))).toMatchObject({ used: 950 });
    expect(admitted(await enforcer.reserve({ ...A, tokens: 50 }))).toBe(true);
    // commit is idempotent
    await next.commit({ tokens: 850 });
    expect(rejected(await enforcer.reserve({ ...A, tokens: 1 }))).toMatchObject({ used: 1_000 });
  });

  it('release gives the whole reservation back, requests included', async () => {
    const { enforcer } = await make({ tiers: { t: { userDailyTokens: 100 } }, defaultTier: 't', rateLimits: [{ scope: 'route', requestsPerMinute: 1 }] });
    const r = reservation(await enforcer.reserve({ ...A, tokens: 100 }));
    expect(rejected(await enforcer.reserve({ ...A, tokens: 1 })).scope).toBe('user-daily-tokens');
    await r.release();
    await r.commit({ tokens: 100 }); // after release: no effect
    expect(admitted(await enforcer.reserve({ ...A, tokens: 100 }))).toBe(true);
  });

  it('counts USD in micro-dollars from decimal strings and numbers; a commit without usd keeps the estimate', async () => {
    const { enforcer } = await make({ tiers: { t: { userDailyUsd: '0.01' } }, defaultTier: 't' });
    const a = reservation(await enforcer.reserve({ ...A, tokens: 1, usd: '0.004' }));
    const b = reservation(await enforcer.reserve({ ...A, tokens: 1, usd: 0.004 }));
    const r = rejected(await enforcer.reserve({ ...A, tokens: 1, usd: '0.0020001' }));
    expect(r).toMatchObject({ scope: 'user-daily-usd', unit: 'usd', limit: 0.01, used: 0.008, requested: 0.002001 }); // rounded up to the next micro-dollar
    expect(r.reason).toContain('$0.008 of $0.01');
    await a.commit({ tokens: 1, usd: '0.000125' });
    await b.commit({ tokens: 1 }); // keeps 0.004
    expect(admitted(await enforcer.reserve({ ...A, tokens: 1, usd: '0.005875' }))).toBe(true); // exactly 0.01
    // Exhausted: even a request of unknown price (usd 0) is refused.
    expect(rejected(await enforcer.reserve({ ...A, tokens: 1 })).scope).toBe('user-daily-usd');
  });

  it('separates users, tenants and routes; tenant overrides and null removes a limit', async () => {
    const { enforcer } = await make({
      tiers: { free: { userDailyTokens: 10 }, paid: { userDailyTokens: 100 } },
      tenants: { acme: { tier: 'paid' }, vip: { tier: 'free', userDailyTokens: null }, tight: { userDailyTokens: 5 } },
      defaultTier: 'free',
    });
    expect(admitted(await enforcer.reserve({ ...A, tokens: 100 }))).toBe(true);
    expect(admitted(await enforcer.reserve({ ...A, user: 'carol', tokens: 100 }))).toBe(true);
    expect(rejected(await enforcer.reserve({ ...A, tenant: 'other', tokens: 11 })).limit).toBe(10);
    expect(admitted(await enforcer.reserve({ ...A, tenant: 'vip', tokens: 1_000_000 }))).toBe(true);
    expect(rejected(await enforcer.reserve({ ...A, tenant: 'tight', tokens: 6 })).limit).toBe(5);
    // Names with the key separators do not collide.
    expect(admitted(await enforcer.reserve({ tenant: 'a:b', user: 'c', route: 'r', tokens: 10 }))).toBe(true);
    expect(admitted(await enforcer.reserve({ tenant: 'a', user: 'b:c', route: 'r', tokens: 10 }))).toBe(true);
    expect(enforcer.limitsFor('vip')).toEqual({ tier: 'free' });
  });

  it('resets the daily, monthly and per-minute windows exactly at the UTC boundary', async () => {
    const clock = fakeClock('2025-01-31T23:59:59.999Z');
    const { enforcer } = await make(
      { tiers: { t: { userDailyTokens: 10, tenantMonthlyTokens: 25 } }, defaultTier: 't', rateLimits: [{ scope: 'tenant', requestsPerMinute: 1 }] },
      { clock },
    );
    // Committed: a reservation left open would be given back when its lease ends (on Redis).
    await reservation(await enforcer.reserve({ ...A, tokens: 10 })).commit({ tokens: 10 });
    const day = rejected(await enforcer.reserve({ ...A, user: 'x', tokens: 1 }));
    expect(day).toMatchObject({ scope: 'tenant-rpm', retryAfterS: 1 });
    const d = rejected(await enforcer.reserve({ ...A, tokens: 1, now: clock.now }));
    expect(d.scope).toBe('user-daily-tokens');
    clock.advance(1); // 2025-02-01T00:00:00.000Z: new day, month and minute
    await reservation(await enforcer.reserve({ ...A, tokens: 10 })).commit({ tokens: 10 });
    clock.advance(60_000);
    await reservation(await enforcer.reserve({ ...A, user: 'y', tokens: 10 })).commit({ tokens: 10 });
    clock.advance(60_000);
    // Month total 20 of 25; user bob's day 10 of 10.
    expect(rejected(await enforcer.reserve({ ...A, tokens: 1 })).scope).toBe('user-daily-tokens');
    expect(rejected(await enforcer.reserve({ ...A, user: 'z', tokens: 6 }))).toMatchObject({ scope: 'tenant-monthly-tokens', retryAfterS: 28 * 86_400 - 120 });
    clock.set('2025-02-28T23:59:59.999Z');
    expect(rejected(await enforcer.reserve({ ...A, user: 'z', tokens: 6 })).scope).toBe('tenant-monthly-tokens');
    clock.advance(1);
    reservation(await enforcer.reserve({ ...A, user: 'z', tokens: 10 }));
  });

  it('per-minute limits reset on the minute, with retryAfter to the boundary', async () => {
    const clock = fakeClock('2025-03-14T12:00:30.000Z');
    const { enforcer } = await make({ rateLimits: [{ scope: 'route', requestsPerMinute: 2, tokensPerMinute: 1_000 }] }, { clock });
    reservation(await enforcer.reserve({ ...A, tokens: 10 }));
    reservation(await enforcer.reserve({ ...A, user: 'other', tenant: 'x', tokens: 10 }));
    expect(rejected(await enforcer.reserve({ ...A, tokens: 10 }))).toMatchObject({ scope: 'route-rpm', key: 'chat', retryAfterS: 30 });
    clock.set('2025-03-14T12:00:59.999Z');
    expect(rejected(await enforcer.reserve({ ...A, tokens: 10 })).retryAfterS).toBe(1);
    clock.advance(1);
    reservation(await enforcer.reserve({ ...A, tokens: 990 }));
    expect(rejected(await enforcer.reserve({ ...A, tokens: 11 })).scope).toBe('route-tpm');
  });

  it('fires the alert once per window and key when a budget reaches alertAt', async () => {
    const clock = fakeClock('2025-03-14T10:00:00.000Z');
    const h = await make({ tiers: { t: { userDailyTokens: 1_000, tenantMonthlyUsd: 1 } }, defaultTier: 't', alertAt: 0.8 }, { clock });
    const use = async (tokens: number, user = 'bob', usd = '0'): Promise<void> => {
      await reservation(await h.enforcer.reserve({ ...A, user, tokens: 100, usd: '0.01' })).commit({ tokens, usd });
    };
    await use(300);
    await use(300);
    expect(h.alerts).toHaveLength(0);
    await use(200); // 800 = 80 %
    expect(h.alerts).toEqual([expect.objectContaining({ scope: 'user-daily-tokens', key: 'acme/bob', tenant: 'acme', user: 'bob', used: 800, limit: 1_000, ratio: 0.8, unit: 'tokens' })]);
    await use(100);
    await use(50, 'bob');
    expect(h.alerts).toHaveLength(1);
    await use(900, 'carol'); // another key
    expect(h.alerts.map((a) => a.key)).toEqual(['acme/bob', 'acme/carol']);
    clock.set('2025-03-15T00:00:00.000Z'); // a new day: bob can alert again
    await use(850);
    expect(h.alerts.map((a) => a.key)).toEqual(['acme/bob', 'acme/carol', 'acme/bob']);
    // USD budget alerts too.
    await use(1, 'dan', '0.9');
    expect(h.alerts.at(-1)).toMatchObject({ scope: 'tenant-monthly-usd', key: 'acme', used: 0.9, limit: 1, unit: 'usd' });
  });

  it('a true-up after its window ended charges only the excess, to the current window', async () => {
    const clock = fakeClock('2025-03-14T23:59:00.000Z');
    const { enforcer } = await make({ tiers: { t: { userDailyTokens: 1_000 } }, defaultTier: 't' }, { clock });
    const r = reservation(await enforcer.reserve({ ...A, tokens: 500 }));
    clock.set('2025-03-15T00:01:00.000Z');
    await r.commit({ tokens: 700 }); // 200 more than reserved land in the new day
    expect(rejected(await enforcer.reserve({ ...A, tokens: 801 })).used).toBe(200);
    const s = reservation(await enforcer.reserve({ ...A, tokens: 800 }));
    clock.set('2025-03-16T00:00:00.000Z');
    await s.commit({ tokens: 10 }); // less than reserved, window over: nothing to do
    expect(admitted(await enforcer.reserve({ ...A, tokens: 1_000 }))).toBe(true);
  });

  it('snapshot reports budget ratios of recent keys with bounded cardinality', async () => {
    const { enforcer } = await make({ tiers: { t: { userDailyTokens: 100 } }, defaultTier: 't' }, { snapshotMaxKeys: 3 });
    for (let i = 0; i < 10; i++) await reservation(await enforcer.reserve({ ...A, user: `u${i}`, tokens: 10 * (i + 1) })).commit({ tokens: 5 * (i + 1) });
    const snap = enforcer.snapshot();
    expect(snap).toHaveLength(3);
    expect(snap.map((g) => g.key).sort()).toEqual(['acme/u7', 'acme/u8', 'acme/u9']);
    expect(snap.find((g) => g.key === 'acme/u9')).toMatchObject({ scope: 'user-daily-tokens', used: 50, limit: 100, ratio: 0.5 });
  });

  it('with no limits configured admits without touching the backend', async () => {
    const { enforcer } = await make({});
    const r = reservation(await enforcer.reserve({ ...A, tokens: 1e9 }));
    expect(r.enforced).toBe(true);
    await r.commit({ tokens: 1e9 });
    expect(enforcer.snapshot()).toEqual([]);
  });
});
