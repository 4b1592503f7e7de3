// What only the shared tier on a real redis-server does: its key layout and PX, corrupt values as
// misses, the semantic index warmed from Redis and kept up to date, and Redis dying or hanging
// mid-test (every call still resolves, as a miss or a no-op, with onError told). The behaviour
// every store shares is the contract suite in store-contract.test.ts (memory, one Redis, Sentinel,
// Cluster), which also holds the cross-sidecar tests on each Redis topology.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { jsonEntry, type CacheEntry } from '../../proxy/cache/entry.ts';
import { CACHE_KEY_PREFIX, RedisStore } from '../../proxy/cache/redis-store.ts';
import { SemanticIndex } from '../../proxy/cache/semantic-index.ts';
import { SemanticRedisSync } from '../../proxy/cache/semantic-sync.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';
import { redisAvailability, startRedis, type RedisHandle } from '../support/redis.ts';
import { until } from '../support/wait.ts';

const REDIS = redisAvailability();

function entry(ttlMs: number, text = 'hello', now = Date.now()): CacheEntry {
  return jsonEntry({ dialect: 'openai', operation: 'chat', model: 'gpt-4o-mini', usage: { ...ZERO_USAGE, inputTokens: 5, outputTokens: 2 }, ttlMs, now, body: JSON.stringify({ text }) });
}

describe.skipIf(!REDIS.available)(`RedisStore ${REDIS.reason}`, () => {
  let redis: RedisHandle;
  const stores: RedisStore[] = [];
  const store = async (opts: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): Promise<RedisStore> => {
    const s = new RedisStore({ url: redis.url, ...opts });
    stores.push(s);
    await s.start();
    return s;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    await redis?.stop();
  });

  it('set/get under llmsc:cache:, with PX = ttl + stale window; expired entries only as stale', async () => {
    const s = await store({ maxStalenessMs: 5_000 });
    await s.set('k1', entry(60_000), 60_000);
    expect(await s.get('k1')).toEqual(entry(60_000, 'hello', (await s.get('k1'))?.createdAt));
    const raw = new Redis(redis.url);
    const pttl = await raw.pttl(`${CACHE_KEY_PREFIX}k1`);
    expect(pttl).toBeGreaterThan(60_000);
    expect(pttl).toBeLessThanOrEqual(65_000);
    // Expired (but within the stale window): a miss for get, served by getStale.
    await s.set('k2', entry(1, 'old', Date.now() - 10), 1);
    expect(await s.get('k2')).toBeUndefined();
    expect((await s.getStale('k2', 1_000))?.body).toBe('{"text":"old"}');
    expect(await s.getStale('k2', 0)).toBeUndefined();
    // Corrupt values are misses.
    await raw.set(`${CACHE_KEY_PREFIX}bad`, '{"v":1,"kind":');
    await raw.set(`${CACHE_KEY_PREFIX}foreign`, JSON.stringify({ v: 9 }));
    expect(await s.get('bad')).toBeUndefined();
    expect(await s.get('foreign')).toBeUndefined();
    expect(await s.get('absent')).toBeUndefined();
    raw.disconnect();
  });

  it('semantic entries: a fresh index warms from Redis at start, then learns what other sidecars add', async () => {
    const dims = 8;
    const v = (i: number): Float32Array => Float32Array.from({ length: dims }, (_, j) => (j === i % dims ? 1 : 0.01 * j));
    const first = new SemanticRedisSync({ url: redis.url, embedderId: 'test-8' });
    const idxA = new SemanticIndex({ dims });
    for (let i = 0; i < 5; i++) {
      idxA.add(`ctx${i}`, v(i), `key${i}`, `question ${i}`, Date.now() + 60_000);
      await first.publish({ contextDigest: `ctx${i}`, key: `key${i}`, text: `question ${i}`, expiresAt: Date.now() + 60_000, vector: v(i) });
    }
    // An expired entry is not warmed.
    await first.publish({ contextDigest: 'ctx-old', key: 'old', text: 'old', expiresAt: Date.now() - 1, vector: v(0) });

    const second = new SemanticRedisSync({ url: redis.url, embedderId: 'test-8', blockMs: 200 });
    const idxB = new SemanticIndex({ dims });
    expect(await second.warm(idxB)).toBe(5);
    expect(idxB.lookup('ctx3', v(3), 0.99)).toMatchObject({ key: 'key3', text: 'question 3' });
    expect(idxB.lookup('ctx-old', v(0), 0.5)).toBeUndefined();
    second.start(idxB);
    first.start(idxA);
    await first.publish({ contextDigest: 'ctx-new', key: 'key-new', text: 'new question', expiresAt: Date.now() + 60_000, vector: v(6) });
    await until('the second index has the entry the first published', () => idxB.lookup('ctx-new', v(6), 0.99)?.key === 'key-new');
    // The publisher does not re-add its own entries from the feed (it indexed them itself). The
    // feed is ordered: once the first has read a later entry from the second sidecar, it has
    // passed its own.
    await second.publish({ contextDigest: 'ctx-later', key: 'key-later', text: 'later question', expiresAt: Date.now() + 60_000, vector: v(7) });
    await until('the first index has the entry the second published after it', () => idxA.lookup('ctx-later', v(7), 0.99)?.key === 'key-later');
    expect(idxA.lookup('ctx-new', v(6), 0.99)).toBeUndefined();
    expect(idxA.size).toBe(6);
    // Another embedder's stream is another vector space: not mixed in.
    const other = new SemanticRedisSync({ url: redis.url, embedderId: 'other-8' });
    expect(await other.warm(new SemanticIndex({ dims }))).toBe(0);
    await Promise.all([first.close(), second.close(), other.close()]);
  });

  it('Redis stopped mid-test: get/set/getStale resolve (while it is down) as miss/no-op and onError is called; back when Redis is', async () => {
    const own = await startRedis();
    const errors: string[] = [];
    const s = new RedisStore({ url: own.url, commandTimeoutMs: 50, onError: (e, op) => errors.push(`${op}: ${e.message}`) });
    stores.push(s);
    await s.start();
    await s.set('k', entry(60_000), 60_000);
    expect(await s.get('k')).toBeDefined();
    await own.kill();
    // Awaited before Redis comes back: a command queued until reconnection would hang here.
    for (let i = 0; i < 5; i++) {
      expect(await s.get('k')).toBeUndefined();
      expect(await s.getStale('k', 1_000)).toBeUndefined();
      await s.set('k2', entry(1_000), 1_000);
    }
    expect(errors.some((e) => e.startsWith('get:'))).toBe(true);
    expect(errors.some((e) => e.startsWith('set:'))).toBe(true);
    // The sync helpers fail the same way: reported, never thrown.
    const syncErrors: string[] = [];
    const sync = new SemanticRedisSync({ url: own.url, embedderId: 'x', onError: (_e, op) => syncErrors.push(op) });
    await sync.publish({ contextDigest: 'c', key: 'k', text: 't', expiresAt: Date.now() + 1000, vector: new Float32Array(8) });
    expect(await sync.warm(new SemanticIndex({ dims: 8 }))).toBe(0);
    expect(syncErrors).toEqual(expect.arrayContaining(['publish', 'warm']));
    await sync.close();
    // Redis comes back on the same port: the store reconnects by itself.
    const again = await startRedis({ port: own.port });
    await until('the store has reconnected by itself', () => s.ready, { timeoutMs: 5_000 });
    await s.set('k3', entry(60_000), 60_000);
    expect(await s.get('k3')).toBeDefined();
    await again.stop();
  });

  it('a hung Redis (SIGSTOP) costs the command timeout: the lookup ends as a miss while Redis is still stopped', async () => {
    const own = await startRedis();
    const errors: string[] = [];
    const s = new RedisStore({ url: own.url, commandTimeoutMs: 50, onError: (e) => errors.push(e.message) });
    stores.push(s);
    await s.start();
    await s.set('k', entry(60_000), 60_000);
    const probe = new Redis(own.url);
    const pid = (await probe.info('server')).match(/process_id:(\d+)/)?.[1];
    probe.disconnect();
    process.kill(Number(pid), 'SIGSTOP');
    try {
      // Redis never answers while stopped: only the store's own command timeout can end this.
      expect(await s.get('k')).toBeUndefined();
      expect(errors.some((e) => /timed out/i.test(e))).toBe(true);
    } finally {
      process.kill(Number(pid), 'SIGCONT');
      await own.kill();
    }
  });
});
