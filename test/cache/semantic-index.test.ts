import { describe, expect, it } from 'vitest';
import { FLAT_LIMIT, SemanticIndex } from '../../proxy/cache/semantic-index.ts';

const DIMS = 16;

/** A deterministic pseudo-random unit-ish vector. */
function vec(seed: number): Float32Array {
  const v = new Float32Array(DIMS);
  let h = seed * 2654435761;
  for (let i = 0; i < DIMS; i++) {
    h = (h ^ (h >>> 13)) * 1274126177;
    v[i] = ((h >>> 0) % 2000) / 1000 - 1;
  }
  return v;
}

/** v moved a little towards w. */
function near(v: Float32Array, amount = 0.05, seed = 999): Float32Array {
  const w = vec(seed);
  return v.map((x, i) => x + amount * (w[i] as number));
}

describe('SemanticIndex', () => {
  it('finds the nearest entry of the same partition above the threshold, never another partition', () => {
    const idx = new SemanticIndex({ dims: DIMS });
    idx.add('ctx-a', vec(1), 'key1', 'q1');
    idx.add('ctx-a', vec(2), 'key2', 'q2');
    idx.add('ctx-b', vec(3), 'key3', 'q3');
    expect(idx.lookup('ctx-a', near(vec(1)), 0.95)).toMatchObject({ key: 'key1', text: 'q1' });
    expect(idx.lookup('ctx-a', vec(1), 0.95)?.similarity).toBeCloseTo(1, 5);
    expect(idx.lookup('ctx-a', vec(3), 0.95)).toBeUndefined();
    expect(idx.lookup('ctx-b', vec(1), 0.95)).toBeUndefined();
    expect(idx.lookup('ctx-c', vec(1), 0)).toBeUndefined();
    // The accept callback (the guard) can refuse the best candidate and take the next one.
    idx.add('ctx-a', near(vec(1), 0.1, 5), 'key1b', 'q1b');
    expect(idx.lookup('ctx-a', vec(1), 0.9, (c) => c.key !== 'key1')?.key).toBe('key1b');
  });

  it('re-adding a key replaces it; expired entries are not returned', () => {
    let now = 0;
    const idx = new SemanticIndex({ dims: DIMS, now: () => now });
    idx.add('c', vec(1), 'k', 'old', 100);
    idx.add('c', vec(2), 'k', 'new', 100);
    expect(idx.size).toBe(1);
    expect(idx.lookup('c', vec(1), 0.95)).toBeUndefined();
    expect(idx.lookup('c', vec(2), 0.95)?.text).toBe('new');
    now = 200;
    expect(idx.lookup('c', vec(2), 0.95)).toBeUndefined();
    idx.removeKey('k');
    expect(idx.size).toBe(0);
    expect(idx.partitionCount).toBe(0);
  });

  it('is bounded: the oldest entries are evicted first, across partitions', () => {
    const idx = new SemanticIndex({ dims: DIMS, maxEntries: 100 });
    for (let i = 0; i < 250; i++) idx.add(`ctx-${i % 3}`, vec(i), `k${i}`, `q${i}`);
    expect(idx.size).toBe(100);
    expect(idx.lookup(`ctx-${0}`, vec(0), 0.99)).toBeUndefined();
    expect(idx.lookup(`ctx-${249 % 3}`, vec(249), 0.99)?.key).toBe('k249');
  });

  it('a large partition moves into an HNSW graph, keeps its answers, and reuses deleted slots when evicting', () => {
    const n = FLAT_LIMIT * 3;
    const idx = new SemanticIndex({ dims: DIMS, maxEntries: n });
    for (let i = 0; i < n; i++) idx.add('big', vec(i), `k${i}`, `q${i}`);
    let found = 0;
    for (let i = 0; i < n; i += 7) if (idx.lookup('big', near(vec(i), 0.02), 0.97)?.key === `k${i}`) found++;
    expect(found / Math.ceil(n / 7)).toBeGreaterThan(0.95);
    // Full: each new entry evicts the oldest (markDelete) and takes its slot.
    for (let i = n; i < n + 200; i++) idx.add('big', vec(i), `k${i}`, `q${i}`);
    expect(idx.size).toBe(n);
    expect(idx.lookup('big', vec(0), 0.99)).toBeUndefined();
    expect(idx.lookup('big', vec(n + 199), 0.99)?.key).toBe(`k${n + 199}`);
    expect(idx.lookup('big', vec(n - 1), 0.99)?.key).toBe(`k${n - 1}`);
  });

  it('rejects vectors of the wrong size on add, and misses on lookup', () => {
    const idx = new SemanticIndex({ dims: DIMS });
    expect(() => idx.add('c', new Float32Array(3), 'k', 'q')).toThrow();
    expect(idx.lookup('c', new Float32Array(3), 0)).toBeUndefined();
  });
});
