// Shared store on Redis (one server, Sentinel or Cluster): every sidecar on the same Redis sees
// every entry. Entries are JSON under `llmsc:cache:<key>` with PX = ttl + stale window (Redis
// drops them when they can no longer be served, even as stale). Every command touches one key, so
// on Redis Cluster entries spread over all slots (no hash tag needed).
//
// The cache must never fail or slow a request more than a bounded amount:
//   - every Redis failure is caught, reported through onError, and the call resolves as a miss
//     (get/getStale) or a no-op (set);
//   - commands time out after commandTimeoutMs (default 250 ms, see DEFAULT_CACHE_TIMEOUT_MS), so
//     a hung Redis adds at most that;
//   - no offline queue: once connected, a lost connection fails commands at once instead of
//     waiting for a reconnect;
//   - the first connection is awaited: start() (the sidecar calls it before it reports ready)
//     connects, and a lookup made while the very first connection is still being set up waits for
//     it (at most connectWaitMs) instead of missing — a freshly started sidecar finds what the
//     others wrote from its first request on;
//   - a value that does not decode as an entry (corrupt, foreign, another version) is a miss.
import type { RedisOptions } from 'ioredis';
import type { RedisConnectionConfig } from '../../shared/config/budgets.ts';
import { createRedisClient, fastFailOptions, whenReady, type RedisClient } from '../redis-client.ts';
import { decodeEntry, encodeEntry, isFresh, type CacheEntry } from './entry.ts';
import { DEFAULT_MAX_STALENESS_MS, isServableStale, type CacheStore } from './store.ts';

export const CACHE_KEY_PREFIX = 'llmsc:cache:';

export type CacheErrorReporter = (err: Error, operation: string) => void;

/**
 * Per-command limit of the cache. A round trip is ~0.1–2 ms, but under a burst the answer waits
 * for the sidecar's busy event loop; a false miss costs a provider call (hundreds of ms to
 * seconds), so the limit is generous, and it still bounds what a hung Redis adds to a request.
 */
export const DEFAULT_CACHE_TIMEOUT_MS = 250;

export interface RedisStoreOptions {
  /** `redis://…`; ignored when `connection` or `client` is given. */
  url?: string;
  /** One server, Cluster or Sentinel (the `cache.store` config); wins over url. */
  connection?: RedisConnectionConfig;
  /** Use this client (not closed by close()); the store's own is built from connection/url otherwise. */
  client?: RedisClient;
  /** Per-command timeout (default DEFAULT_CACHE_TIMEOUT_MS). */
  commandTimeoutMs?: number;
  /** How long a command waits for the very first connection (default 1 s). */
  connectWaitMs?: number;
  /** How long past expiry entries are kept for getStale (default 24 h). */
  maxStalenessMs?: number;
  /** Called for every failure (the call itself resolves as a miss / no-op). */
  onError?: CacheErrorReporter;
  keyPrefix?: string;
  now?: () => number;
}

/** ioredis options for a cache connection: fail fast, never queue, reconnect in the background. */
export function fastFailRedisOptions(commandTimeoutMs = DEFAULT_CACHE_TIMEOUT_MS): RedisOptions {
  return fastFailOptions({ commandTimeoutMs });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class RedisStore implements CacheStore {
  readonly redis: RedisClient;
  private readonly owned: boolean;
  private readonly connectWaitMs: number;
  private everReady = false;
  private firstWait: Promise<boolean> | undefined;
  private readonly prefix: string;
  private readonly maxStalenessMs: number;
  private readonly onError: CacheErrorReporter;
  private readonly now: () => number;
  private connecting: Promise<void> | undefined;
  private outage = false;
  private closed = false;

  constructor(opts: RedisStoreOptions) {
    this.owned = opts.client === undefined;
    this.redis = opts.client ?? createRedisClient(opts.connection ?? { url: opts.url ?? 'redis://127.0.0.1:6379' }, { commandTimeoutMs: opts.commandTimeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS });
    this.connectWaitMs = opts.connectWaitMs ?? 1_000;
    this.everReady = this.redis.status === 'ready';
    this.redis.on('ready', () => {
      this.everReady = true;
    });
    this.prefix = opts.keyPrefix ?? CACHE_KEY_PREFIX;
    this.maxStalenessMs = opts.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
    this.onError = opts.onError ?? (() => undefined);
    this.now = opts.now ?? Date.now;
    if (this.owned) {
      // Connection errors are reported once per outage (ioredis retries every second or so).
      this.redis.on('error', (err: unknown) => {
        if (this.outage) return;
        this.outage = true;
        this.report(err, 'connection');
      });
      this.redis.on('ready', () => {
        this.outage = false;
      });
    }
  }

  /** Starts connecting; resolves when connected or after waitMs, whichever is first. Never rejects. */
  async start(waitMs = 1_000): Promise<void> {
    this.ensureConnecting();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.connecting,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Connected at least once (what /readyz waits for). */
  get started(): boolean {
    return this.everReady || this.redis.status === 'ready';
  }

  /** Before the first connection, wait for it (bounded); after that, never wait: fail fast. */
  private async firstConnection(): Promise<void> {
    if (this.everReady || this.redis.status === 'ready') return;
    // One shared wait (not a listener per lookup while Redis is still away).
    this.firstWait ??= whenReady(this.redis, this.connectWaitMs).finally(() => (this.firstWait = undefined));
    await this.firstWait;
  }

  private ensureConnecting(): void {
    if (this.redis.status === 'wait' && !this.closed) {
      this.connecting = this.redis.connect().catch((err: unknown) => this.report(err, 'connect'));
    }
  }

  private report(err: unknown, operation: string): void {
    try {
      this.onError(asError(err), operation);
    } catch {
      // A throwing reporter must not turn a cache failure into a request failure.
    }
  }

  private async read(key: string, op: string): Promise<CacheEntry | undefined> {
    if (this.closed) return undefined;
    this.ensureConnecting();
    try {
      await this.firstConnection();
      return decodeEntry(await this.redis.get(this.prefix + key));
    } catch (err) {
      this.report(err, op);
      return undefined;
    }
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const entry = await this.read(key, 'get');
    return entry && isFresh(entry, this.now()) ? entry : undefined;
  }

  async getStale(key: string, maxStalenessMs: number): Promise<CacheEntry | undefined> {
    const entry = await this.read(key, 'getStale');
    return entry && isServableStale(entry, Math.min(maxStalenessMs, this.maxStalenessMs), this.now()) ? entry : undefined;
  }

  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    if (this.closed || ttlMs <= 0) return;
    this.ensureConnecting();
    try {
      await this.firstConnection();
      await this.redis.set(this.prefix + key, encodeEntry(entry), 'PX', Math.ceil(ttlMs + this.maxStalenessMs));
    } catch (err) {
      this.report(err, 'set');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.owned) return;
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}
