// The vector index behind the semantic cache: last-user-text embeddings → exact-cache keys.
//
// Partitioned by CONTEXT DIGEST (semantic-request.ts: scope, dialect, model, system prompt, every
// turn but the last user turn, tools, and every other answer-relevant parameter). Only entries of
// the same partition are ever compared, so a hit always has the same context, tenant and key
// scope; only the last user question may differ (and then only by a paraphrase: guard.ts).
//
// Storage per partition: up to FLAT_LIMIT entries are scanned exactly (a dot product per entry:
// conversations make many tiny partitions, for which a graph would only cost memory); a partition
// that grows past it moves into an hnswlib HNSW graph (inner product over unit vectors = cosine;
// M 16, efConstruction 100, ef 64), grown by doubling.
//
// Bounded: at most maxEntries over all partitions. When full, the OLDEST entry (by insertion;
// re-adding a key makes it new again) is evicted first; expired entries are evicted before that as
// they reach the old end. Eviction in a graph is hnswlib's markDelete; the label goes to a free
// list and the next insertion in that partition reuses the slot (addPoint with replaceDeleted), so
// a graph never grows past the live entries it had at its peak. An emptied partition is dropped.
import hnswlib from 'hnswlib-node';
import { normalize } from './embedder.ts';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

export const DEFAULT_SEMANTIC_THRESHOLD = 0.95;
export const DEFAULT_MAX_SEMANTIC_ENTRIES = 50_000;
/** Partitions up to this size are scanned exactly. */
export const FLAT_LIMIT = 256;
/** Candidates examined per lookup (the guard may reject the best one and accept the next). */
const K = 8;

export interface SemanticCandidate {
  /** The exact-cache key of the answer. */
  key: string;
  /** Cosine similarity with the query, 0..1. */
  similarity: number;
  /** The last user text the entry was made for (for the near-miss guard). */
  text: string;
}

interface Item {
  seq: number;
  partition: Partition;
  label: number;
  key: string;
  text: string;
  expiresAt: number;
  /** Kept while the partition is flat (and for snapshots). */
  vector: Float32Array | undefined;
}

interface Partition {
  digest: string;
  items: Map<number, Item>;
  graph: Hnsw | undefined;
  free: number[];
  nextLabel: number;
}

export interface SemanticIndexOptions {
  dims: number;
  maxEntries?: number;
  now?: () => number;
}

export class SemanticIndex {
  readonly dims: number;
  readonly maxEntries: number;
  private readonly now: () => number;
  private readonly partitions = new Map<string, Partition>();
  /** Every live item, oldest first. */
  private readonly order = new Map<number, Item>();
  /** (digest, key) → item: one entry per key per partition. */
  private readonly byKey = new Map<string, Item>();
  private seq = 0;

  constructor(opts: SemanticIndexOptions) {
    this.dims = opts.dims;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_SEMANTIC_ENTRIES;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.order.size;
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  /** Adds (or replaces) the entry for `key` in the partition `contextDigest`. */
  add(contextDigest: string, vector: ArrayLike<number>, key: string, lastUserText: string, expiresAt = Number.POSITIVE_INFINITY): void {
    if (vector.length !== this.dims) throw new Error(`vector has ${vector.length} dimensions, the index ${this.dims}`);
    const v = normalize(vector);
    const old = this.byKey.get(`${contextDigest}\u0000${key}`);
    if (old) this.remove(old);
    this.evictFor(1);
    let p = this.partitions.get(contextDigest);
    if (!p) {
      p = { digest: contextDigest, items: new Map(), graph: undefined, free: [], nextLabel: 0 };
      this.partitions.set(contextDigest, p);
    }
    const item: Item = { seq: ++this.seq, partition: p, label: -1, key, text: lastUserText, expiresAt, vector: v };
    this.insert(p, item);
    this.order.set(item.seq, item);
    this.byKey.set(`${contextDigest}\u0000${key}`, item);
  }

  /** Up to k entries of the partition with similarity ≥ threshold, best first (expired ones skipped). */
  candidates(contextDigest: string, vector: ArrayLike<number>, threshold = DEFAULT_SEMANTIC_THRESHOLD, k = K): SemanticCandidate[] {
    const p = this.partitions.get(contextDigest);
    if (!p || vector.length !== this.dims) return [];
    const q = normalize(vector);
    const now = this.now();
    const out: SemanticCandidate[] = [];
    if (p.graph) {
      const n = Math.min(k + 4, p.graph.getMaxElements());
      const res = p.graph.searchKnn(Array.from(q), n);
      res.neighbors.forEach((label, i) => {
        const item = p.items.get(label);
        const similarity = 1 - (res.distances[i] as number);
        if (item && item.expiresAt > now && similarity >= threshold) out.push({ key: item.key, similarity, text: item.text });
      });
    } else {
      for (const item of p.items.values()) {
        if (item.expiresAt <= now || !item.vector) continue;
        const similarity = dot(q, item.vector);
        if (similarity >= threshold) out.push({ key: item.key, similarity, text: item.text });
      }
    }
    out.sort((a, b) => b.similarity - a.similarity);
    return out.slice(0, k);
  }

  /** The best entry at or above threshold that `accept` (the near-miss guard) agrees with. */
  lookup(contextDigest: string, vector: ArrayLike<number>, threshold = DEFAULT_SEMANTIC_THRESHOLD, accept?: (c: SemanticCandidate) => boolean): SemanticCandidate | undefined {
    for (const c of this.candidates(contextDigest, vector, threshold)) if (!accept || accept(c)) return c;
    return undefined;
  }

  /** Removes every entry for `key` (e.g. its exact entry is gone). */
  removeKey(key: string): void {
    for (const item of [...this.byKey.values()]) if (item.key === key) this.remove(item);
  }

  clear(): void {
    this.partitions.clear();
    this.order.clear();
    this.byKey.clear();
  }

  private insert(p: Partition, item: Item): void {
    if (!p.graph && p.items.size >= FLAT_LIMIT) this.promote(p);
    if (p.graph) {
      const g = p.graph;
      const reuse = p.free.pop();
      if (reuse !== undefined) {
        item.label = reuse;
        g.addPoint(Array.from(item.vector as Float32Array), reuse, true);
      } else {
        if (g.getCurrentCount() >= g.getMaxElements()) g.resizeIndex(g.getMaxElements() * 2);
        item.label = p.nextLabel++;
        g.addPoint(Array.from(item.vector as Float32Array), item.label);
      }
      item.vector = undefined;
    } else {
      item.label = p.nextLabel++;
    }
    p.items.set(item.label, item);
  }

  /** A flat partition outgrew exact scans: build its graph from the vectors it kept. */
  private promote(p: Partition): void {
    const g = new HierarchicalNSW('ip', this.dims);
    g.initIndex({ maxElements: FLAT_LIMIT * 4, m: 16, efConstruction: 100, randomSeed: 100, allowReplaceDeleted: true });
    g.setEf(64);
    const items = [...p.items.values()];
    p.items.clear();
    p.nextLabel = 0;
    p.free = [];
    for (const item of items) {
      item.label = p.nextLabel++;
      g.addPoint(Array.from(item.vector as Float32Array), item.label);
      item.vector = undefined;
      p.items.set(item.label, item);
    }
    p.graph = g;
  }

  private remove(item: Item): void {
    const p = item.partition;
    if (p.items.get(item.label) === item) {
      p.items.delete(item.label);
      if (p.graph) {
        p.graph.markDelete(item.label);
        p.free.push(item.label);
      }
    }
    this.order.delete(item.seq);
    this.byKey.delete(`${p.digest}\u0000${item.key}`);
    if (p.items.size === 0) this.partitions.delete(p.digest);
  }

  /** Makes room for n entries: expired ones at the old end first, then the oldest. */
  private evictFor(n: number): void {
    const now = this.now();
    for (const item of this.order.values()) {
      if (item.expiresAt > now) break;
      this.remove(item);
    }
    while (this.order.size + n > this.maxEntries) {
      const oldest = this.order.values().next().value as Item | undefined;
      if (!oldest) break;
      this.remove(oldest);
    }
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
