// The CacheStore contract (proxy/cache/store.ts), run on EVERY store the proxy can be configured
// with: the in-process MemoryStore and the shared RedisStore on one Redis, on a primary found
// through Sentinel and on a Redis Cluster. Same shape as test/budget/enforcer.test.ts: one
// describe.each, an injected clock (no waiting for an entry to expire), the real servers.
// Store-specific behaviour stays beside it: memory-store.test.ts (the byte-bounded LRU) and
// redis-store.test.ts (key layout, corrupt values, semantic sync, Redis dying or hanging).
// Below the contract, the shared tier's own promise on each Redis topology: what one sidecar
// writes, another (even a brand-new one) reads.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jsonEntry, streamEntry, type CacheEntry } from '../../proxy/cache/entry.ts';
import { MemoryStore } from '../../proxy/cache/memory-store.ts';
import { RedisStore } from '../../proxy/cache/redis-store.ts';
import { SemanticIndex } from '../../proxy/cache/semantic-index.ts';
import { SemanticRedisSync } from '../../proxy/cache/semantic-sync.ts';
import type { CacheStore } from '../../proxy/cache/store.ts';
import type { RedisConnectionConfig } from '../../shared/config/budgets.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';
import { redisClusterAvailability, startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';
import { startRedisSentinel, type RedisSentinelHandle } from '../support/redis-sentinel.ts';
import { redisAvailability, startRedis, type RedisHandle } from '../support/redis.ts';
import { until } from '../support/wait.ts';

const REDIS = redisAvailability();
const CLUSTER = redisClusterAvailability();
type Topology = 'redis' | 'redis-sentinel' | 'redis-cluster';
const topologies: Topology[] = [...(REDIS.available ? (['redis', 'redis-sentinel'] as const) : []), ...(CLUSTER.available ? (['redis-cluster'] as const) : [])];
const stores = ['memory', ...topologies] as const;

let single: RedisHandle | undefined;
let cluster: RedisClusterHandle | undefined;
let sentinel: RedisSentinelHandle | undefined;
beforeAll(async () => {
  [single, cluster, sentinel] = await Promise.all([REDIS.available ? startRedis() : undefined, CLUSTER.available ? startRedisCluster() : undefined, REDIS.available ? startRedisSentinel() : undefined]);
}, 60_000);
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop(), sentinel?.stop()]);
});

function connection(topology: Topology): RedisConnectionConfig {
  if (topology === 'redis') return { url: (single as RedisHandle).url };
  if (topology === 'redis-sentinel') return { sentinel: { name: (sentinel as RedisSentinelHandle).name, sentinels: (sentinel as RedisSentinelHandle).sentinels, db: 0, tls: false } };
  return { cluster: { nodes: (cluster as RedisClusterHandle).urls } };
}

const WINDOW_MS = 10_000;

function entry(now: number, ttlMs: number, text = 'hello'): CacheEntry {
  return jsonEntry({ dialect: 'openai', operation: 'chat', model: 'gpt-4o-mini', usage: { ...ZERO_USAGE, inputTokens: 5, outputTokens: 2 }, ttlMs, now, body: JSON.stringify({ text }) });
}

describe.each(stores)('CacheStore contract on %s', (kind) => {
  const open: CacheStore[] = [];
  let now = Date.now();
  /** A store with a 10 s stale window on the test's clock; each Redis store under its own key prefix. */
  const make = async (): Promise<CacheStore> => {
    let store: CacheStore;
    if (kind === 'memory') store = new MemoryStore({ maxStalenessMs: WINDOW_MS, now: () => now });
    else {
      const redis = new RedisStore({ connection: connection(kind), keyPrefix: `contract:${randomUUID()}:`, maxStalenessMs: WINDOW_MS, now: () => now });
      await redis.start();
      store = redis;
    }
    open.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    now = Date.now();
  });

  it('serves a fresh entry; once expired only as stale, within both windows; past the store window never', async () => {
    const store = await make();
    await store.set('k', entry(now, 1_000), 1_000);
    expect((await store.get('k'))?.body).toBe('{"text":"hello"}');
    now += 1_500; // expired 500 ms ago
    expect(await store.get('k')).toBeUndefined();
    expect((await store.getStale('k', 5_000))?.body).toBe('{"text":"hello"}');
    expect(await store.getStale('k', 100)).toBeUndefined();
    now += 20_000; // past the store's own 10 s window, whatever the caller asks for
    expect(await store.getStale('k', 60_000)).toBeUndefined();
  });

  it('the expiry instant is exclusive: fresh until expiresAt, stale from it', async () => {
    const store = await make();
    const e = entry(now, 1_000);
    await store.set('edge', e, 1_000);
    now = e.expiresAt - 1;
    expect(await store.get('edge')).toBeDefined();
    now = e.expiresAt;
    expect(await store.get('edge')).toBeUndefined();
    expect(await store.getStale('edge', 1)).toBeDefined();
  });

  it('a missing key is a miss for get and getStale', async () => {
    const store = await make();
    expect(await store.get('absent')).toBeUndefined();
    expect(await store.getStale('absent', WINDOW_MS)).toBeUndefined();
  });

  it('gives back what was stored, JSON and stream entries alike', async () => {
    const store = await make();
    const json = entry(now, 60_000, 'ünïcødé ✓ "quoted" \\ back');
    const stream = streamEntry({ dialect: 'anthropic', operation: 'chat', model: 'claude-x', usage: { ...ZERO_USAGE, inputTokens: 3, outputTokens: 4 }, ttlMs: 60_000, now, events: [{ event: 'message_start', data: '{"a":1}' }, { data: '[DONE]' }] });
    await store.set('json', json, 60_000);
    await store.set('stream', stream, 60_000);
    expect(await store.get('json')).toEqual(json);
    expect(await store.get('stream')).toEqual(stream);
  });

  it('a second set of a key replaces the entry', async () => {
    const store = await make();
    await store.set('k', entry(now, 60_000, 'first'), 60_000);
    await store.set('k', entry(now, 60_000, 'second'), 60_000);
    expect((await store.get('k'))?.body).toBe('{"text":"second"}');
  });

  it('keys are opaque: hostile shapes neither collide nor fail', async () => {
    const store = await make();
    const keys = ['', ' ', 'a:b:c', '*', '{slot}tag', 'llmsc:cache:nested', 'ключ', '\u0000nul', 'x'.repeat(2_000)];
    for (const [i, k] of keys.entries()) await store.set(k, entry(now, 60_000, `v${i}`), 60_000);
    for (const [i, k] of keys.entries()) expect((await store.get(k))?.body, JSON.stringify(k.slice(0, 20))).toBe(`{"text":"v${i}"}`);
  });

  it('a non-positive TTL stores nothing', async () => {
    const store = await make();
    await store.set('zero', entry(now, 0), 0);
    await store.set('negative', entry(now, -5), -5);
    expect(await store.getStale('zero', WINDOW_MS)).toBeUndefined();
    expect(await store.getStale('negative', WINDOW_MS)).toBeUndefined();
  });

  it('a non-positive TTL leaves an existing entry of the key as it was (a no-op on every store)', async () => {
    const store = await make();
    await store.set('kept', entry(now, 60_000, 'first'), 60_000);
    await store.set('kept', entry(now, 0, 'second'), 0);
    expect((await store.get('kept'))?.body).toBe('{"text":"first"}');
  });
});

describe.skipIf(topologies.length === 0).each(topologies)('shared cache tier on %s', (topology) => {
  const open: RedisStore[] = [];
  /** One sidecar's store; sidecars of one test share `prefix` (each test its own, so tests never see each other). */
  const sidecar = (prefix: string): RedisStore => {
    const s = new RedisStore({ connection: connection(topology), keyPrefix: prefix });
    open.push(s);
    return s;
  };
  const newPrefix = (): string => `shared:${randomUUID()}:`;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('a freshly started sidecar finds, at its very first lookup, what another one wrote', async () => {
    const prefix = newPrefix();
    const writer = sidecar(prefix);
    await writer.start();
    const keys = Array.from({ length: 20 }, (_, i) => `fresh-${topology}-${i}`);
    for (const k of keys) await writer.set(k, entry(Date.now(), 60_000, k), 60_000);
    // Each reader is brand new and never told to start(): its first command is the lookup.
    for (const k of keys) {
      const reader = sidecar(prefix);
      expect(reader.started).toBe(false);
      expect((await reader.get(k))?.body).toBe(JSON.stringify({ text: k }));
      expect(reader.started).toBe(true);
    }
  });

  it('two sidecars see each other’s entries and stale entries', async () => {
    const prefix = newPrefix();
    const a = sidecar(prefix);
    const b = sidecar(prefix);
    await Promise.all([a.start(), b.start()]);
    await a.set('shared', entry(Date.now(), 60_000, 'from a'), 60_000);
    expect((await b.get('shared'))?.body).toBe('{"text":"from a"}');
    await b.set('shared', entry(Date.now(), 60_000, 'from b'), 60_000);
    expect((await a.get('shared'))?.body).toBe('{"text":"from b"}');
    await b.set('old', entry(Date.now() - 10, 1, 'old'), 1);
    expect(await a.get('old')).toBeUndefined();
    expect((await a.getStale('old', 60_000))?.body).toBe('{"text":"old"}');
  });

  it('semantic entries: a fresh index warms from the stream and follows it', async () => {
    const dims = 4;
    const v = (i: number): Float32Array => Float32Array.from({ length: dims }, (_, j) => (j === i % dims ? 1 : 0.01));
    const embedderId = `t-${topology}-${randomUUID()}`;
    const first = new SemanticRedisSync({ connection: connection(topology), embedderId });
    const second = new SemanticRedisSync({ connection: connection(topology), embedderId, blockMs: 200 });
    try {
      await first.publish({ contextDigest: 'c1', key: 'k1', text: 'q1', expiresAt: Date.now() + 60_000, vector: v(1) });
      const idx = new SemanticIndex({ dims });
      expect(await second.warm(idx)).toBe(1);
      second.start(idx);
      await first.publish({ contextDigest: 'c2', key: 'k2', text: 'q2', expiresAt: Date.now() + 60_000, vector: v(2) });
      await until('the second index has the entry published after it started', () => idx.lookup('c2', v(2), 0.99)?.key === 'k2');
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
