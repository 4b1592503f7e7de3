// What only the in-process store does: a byte-bounded LRU with deep-frozen entries. The behaviour
// every store shares (freshness, stale window, round trip, keys) is the contract suite in
// store-contract.test.ts, run on this store and on Redis.
import { describe, expect, it } from 'vitest';
import { jsonEntry, type CacheEntry } from '../../proxy/cache/entry.ts';
import { MemoryStore } from '../../proxy/cache/memory-store.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';

function entry(now: number, ttlMs: number, bodyChars = 100): CacheEntry {
  return jsonEntry({ dialect: 'openai', operation: 'chat', model: 'm', usage: ZERO_USAGE, ttlMs, now, body: JSON.stringify({ t: 'x'.repeat(bodyChars) }) });
}

describe('MemoryStore', () => {
  it('forgets an entry past its stale window: its bytes are released', async () => {
    let now = 1_000;
    const store = new MemoryStore({ maxStalenessMs: 10_000, now: () => now });
    await store.set('k', entry(now, 1_000), 1_000);
    expect(store.size).toBe(1);
    now += 1_500;
    expect(await store.getStale('k', 5_000)).toBeDefined();
    expect(store.size).toBe(1); // kept through the stale window
    now += 20_000;
    expect(await store.getStale('k', 60_000)).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
  });

  it('is bounded by bytes, evicting the least recently used', async () => {
    const now = 0;
    const store = new MemoryStore({ maxBytes: 10_000, now: () => now, maxEntryShare: 1 });
    for (let i = 0; i < 30; i++) {
      await store.set(`k${i}`, entry(now, 1e6, 900), 1e6);
      // k0 stays hot.
      await store.get('k0');
    }
    expect(store.bytes).toBeLessThanOrEqual(10_000);
    expect(store.size).toBeLessThan(30);
    expect(await store.get('k0')).toBeDefined();
    expect(await store.get('k1')).toBeUndefined();
    expect(await store.get('k29')).toBeDefined();
  });

  it('skips an entry too large for its share; replaces on re-set; returns frozen entries', async () => {
    const store = new MemoryStore({ maxBytes: 8_000 });
    await store.set('big', entry(Date.now(), 1e6, 2_000), 1e6);
    expect(store.size).toBe(0);
    await store.set('k', entry(Date.now(), 1e6, 10), 1e6);
    const before = store.bytes;
    await store.set('k', entry(Date.now(), 1e6, 20), 1e6);
    expect(store.size).toBe(1);
    expect(store.bytes).toBe(before + 10);
    const got = await store.get('k');
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.isFrozen(got?.usage)).toBe(true);
  });
});
