// Shared store on Redis: every sidecar on the same Redis sees every entry. Entries are JSON under
// `llmsc:cache:<key>` with PX = ttl + stale window (Redis drops them when they can no longer be
// served, even as stale).
//
// The cache must never fail or slow a request:
//   - every Redis failure is caught, reported through onError, and the call resolves as a miss
//     (get/getStale) or a no-op (set);
//   - commands time out after commandTimeoutMs (default 50 ms), so a hung Redis adds at most that;
//   - no offline queue: while disconnected, commands fail at once instead of waiting for a reconnect;
//   - lazyConnect: nothing connects at construction time; start() (or the first command) connects,
//     and ioredis reconnects in the background after a failure;
//   - a value that does not decode as an entry (corrupt, foreign, another version) is a miss.
import { Redis, type RedisOptions } from 'ioredis';
import { decodeEntry, encodeEntry, isFresh, type CacheEntry } from './entry.ts';
import { DEFAULT_MAX_STALENESS_MS, isServableStale, type CacheStore } from './store.ts';

export const CACHE_KEY_PREFIX = 'llmsc:cache:';

export type CacheErrorReporter = (err: Error, operation: string) => void;

export interface RedisStoreOptions {
  /** `redis://…`; ignored when `client` is given. */
  url?: string;
  /** Use this client (not closed by close()); the store's own is built from url otherwise. */
  client?: Redis;
  /** Per-command timeout (default 50 ms). */
  commandTimeoutMs?: number;
  /** How long past expiry entries are kept for getStale (default 24 h). */
  maxStalenessMs?: number;
  /** Called for every failure (the call itself resolves as a miss / no-op). */
  onError?: CacheErrorReporter;
  keyPrefix?: string;
  now?: () => number;
}

/** ioredis options for a cache connection: fail fast, never queue, reconnect in the background. */
export function fastFailRedisOptions(commandTimeoutMs = 50): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1_000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    keepAlive: 10_000,
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class RedisStore implements CacheStore {
  readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly maxStalenessMs: number;
  private readonly onError: CacheErrorReporter;
  private readonly now: () => number;
  private connecting: Promise<void> | undefined;
  private outage = false;
  private closed = false;

  constructor(opts: RedisStoreOptions) {
    this.owned = opts.client === undefined;
    this.redis = opts.client ?? new Redis(opts.url ?? 'redis://127.0.0.1:6379', fastFailRedisOptions(opts.commandTimeoutMs));
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
