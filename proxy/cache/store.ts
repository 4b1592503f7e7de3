// Where entries live. Two implementations: memory-store.ts (one sidecar, bounded by bytes) and
// redis-store.ts (shared by every sidecar on one Redis).
//
// Freshness is the entry's own `expiresAt`. A store RETAINS an entry for ttlMs + its stale window
// (maxStalenessMs, a store option), so that after expiry it can still be served as a last resort
// when every provider fails (getStale). Every method resolves: a store failure is a miss or a no-op,
// never an error on the request path.
import type { CacheEntry } from './entry.ts';

export interface CacheStore {
  /** A fresh entry (now < expiresAt), else undefined. */
  get(key: string): Promise<CacheEntry | undefined>;
  /** An entry fresh or expired by at most maxStalenessMs (capped by what the store retains), else undefined. */
  getStale(key: string, maxStalenessMs: number): Promise<CacheEntry | undefined>;
  /** Stores the entry, retained for ttlMs plus the store's stale window. */
  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Default stale window: how long past expiry entries are kept for the stale-cache fallback. */
export const DEFAULT_MAX_STALENESS_MS = 24 * 60 * 60 * 1000;

export function isServableStale(entry: CacheEntry, maxStalenessMs: number, now = Date.now()): boolean {
  return now < entry.expiresAt + Math.max(0, maxStalenessMs);
}
