// In-process store: an LRU bounded by BYTES (the UTF-8 size of each encoded entry), default 64 MiB,
// so memory stays flat however large answers are. Expired entries are kept for the stale window
// (they still count against the bound and are evicted like any other), then dropped when touched
// or when they reach the LRU's cold end. Entries are deep-frozen when stored: callers must not
// mutate what get() returns (they get the stored object, no copy per hit).
import { entryBytes, type CacheEntry } from './entry.ts';
import { DEFAULT_MAX_STALENESS_MS, isServableStale, type CacheStore } from './store.ts';

export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

export interface MemoryStoreOptions {
  /** Total size bound (default 64 MiB). */
  maxBytes?: number;
  /** How long past expiry entries are kept for getStale (default 24 h). */
  maxStalenessMs?: number;
  /** One entry may take at most this share of maxBytes (default 1/8): one huge answer cannot flush the cache. */
  maxEntryShare?: number;
  now?: () => number;
}

interface Slot {
  entry: CacheEntry;
  bytes: number;
  /** Retained until (ms since epoch). */
  until: number;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export class MemoryStore implements CacheStore {
  private readonly slots = new Map<string, Slot>();
  private total = 0;
  readonly maxBytes: number;
  private readonly maxStalenessMs: number;
  private readonly maxEntryBytes: number;
  private readonly now: () => number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    this.maxStalenessMs = opts.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
    this.maxEntryBytes = Math.floor(this.maxBytes * (opts.maxEntryShare ?? 1 / 8));
    this.now = opts.now ?? Date.now;
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.slots.size;
  }

  private lookup(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (this.now() >= slot.until) {
      this.drop(key, slot);
      return undefined;
    }
    // Most recently used goes to the hot end.
    this.slots.delete(key);
    this.slots.set(key, slot);
    return slot;
  }

  private drop(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.total -= slot.bytes;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const slot = this.lookup(key);
    return slot && this.now() < slot.entry.expiresAt ? slot.entry : undefined;
  }

  async getStale(key: string, maxStalenessMs: number): Promise<CacheEntry | undefined> {
    const slot = this.lookup(key);
    return slot && isServableStale(slot.entry, Math.min(maxStalenessMs, this.maxStalenessMs), this.now()) ? slot.entry : undefined;
  }

  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return; // nothing to retain: a no-op, as on the Redis store (the contract test)
    const bytes = entryBytes(entry) + key.length;
    const old = this.slots.get(key);
    if (old) this.drop(key, old);
    if (bytes > this.maxEntryBytes) return;
    this.slots.set(key, { entry: deepFreeze(structuredClone(entry)), bytes, until: this.now() + ttlMs + this.maxStalenessMs });
    this.total += bytes;
    for (const [k, slot] of this.slots) {
      if (this.total <= this.maxBytes) break;
      this.drop(k, slot);
    }
  }

  async close(): Promise<void> {
    this.slots.clear();
    this.total = 0;
  }
}
