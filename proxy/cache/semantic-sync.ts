// Sharing the semantic index between sidecars through Redis.
//
// One Redis Stream per embedder, `llmsc:sem:<embedderId>` (vectors of different embedders are not
// comparable), holds every semantic entry as it was added: fields d (context digest), k (exact
// key), t (last user text), x (expiresAt, ms), v (the vector, base64 little-endian float32),
// o (the sidecar that added it). The stream is both the snapshot and the change feed:
//   - warm(): a sidecar starting with an empty index reads the stream from the beginning, page by
//     page, and indexes every entry not yet expired;
//   - start(): then follows it (XREAD BLOCK from the last id read, on its own connection), and
//     indexes what other sidecars add while it runs (its own entries are already in its index);
//   - publish(): XADD with MAXLEN ~ maxEntries, so the stream stays as bounded as an index.
// Every Redis failure is reported through onError and is otherwise ignored: the follower retries
// with backoff, publish is a no-op, warm() indexes what it could read.
import { randomUUID } from 'node:crypto';
import type { RedisConnectionConfig } from '../../shared/config/budgets.ts';
import { createRedisClient, type RedisClient } from '../redis-client.ts';
import { DEFAULT_CACHE_TIMEOUT_MS } from './redis-store.ts';
import type { SemanticPublisher } from './semantic-cache.ts';
import type { SemanticIndex } from './semantic-index.ts';

export const SEMANTIC_STREAM_PREFIX = 'llmsc:sem:';

export interface SemanticSyncOptions {
  /** `redis://…`; ignored when `connection` is given. */
  url?: string;
  /** One server, Cluster or Sentinel (the `cache.store` config). Each stream is one key, so any slot works. */
  connection?: RedisConnectionConfig;
  /** Names the vector space, e.g. `use-lite-512` or `openai:text-embedding-3-small:512`. */
  embedderId: string;
  /** Stream bound (default 50 000, like the index). */
  maxEntries?: number;
  onError?: (err: Error, operation: string) => void;
  /** Per-command timeout of the publishing connection (default DEFAULT_CACHE_TIMEOUT_MS). */
  commandTimeoutMs?: number;
  /** How long one XREAD blocks (default 1 s; also how quickly stop() returns). */
  blockMs?: number;
  now?: () => number;
}

type Fields = Record<string, string>;

function toFields(flat: string[]): Fields {
  const out: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decodeVector(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float32Array(buf.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export class SemanticRedisSync implements SemanticPublisher {
  readonly streamKey: string;
  readonly instanceId = randomUUID();
  private readonly redis: RedisClient;
  private follower: RedisClient | undefined;
  private lastId = '0-0';
  private warmed = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private outage = false;
  private readonly opts: SemanticSyncOptions;
  private readonly now: () => number;

  constructor(opts: SemanticSyncOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.streamKey = `${SEMANTIC_STREAM_PREFIX}${opts.embedderId}`;
    this.redis = this.client(opts.commandTimeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS);
    this.redis.on('error', (err: unknown) => this.reportOnce(err, 'connection'));
    this.redis.on('ready', () => {
      this.outage = false;
    });
  }

  private report(err: unknown, op: string): void {
    try {
      this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), op);
    } catch {
      // ignore
    }
  }

  private reportOnce(err: unknown, op: string): void {
    if (this.outage) return;
    this.outage = true;
    this.report(err, op);
  }

  private client(commandTimeoutMs: number | undefined): RedisClient {
    return createRedisClient(this.opts.connection ?? { url: this.opts.url ?? 'redis://127.0.0.1:6379' }, { commandTimeoutMs });
  }

  private async connected(redis: RedisClient): Promise<void> {
    if (redis.status === 'wait') await redis.connect();
  }

  /** Indexes every live entry of the stream; returns how many were added. Never rejects. */
  async warm(index: SemanticIndex, pageSize = 500): Promise<number> {
    let added = 0;
    // Its own connection, with a longer timeout than the request-path commands: a page can be MBs.
    const bulk = this.client(10_000);
    bulk.on('error', () => undefined);
    try {
      await this.connected(bulk);
      let start = '-';
      for (;;) {
        const page = (await bulk.xrange(this.streamKey, start, '+', 'COUNT', pageSize)) as [string, string[]][];
        for (const [id, flat] of page) {
          if (this.apply(index, toFields(flat), false)) added++;
          this.lastId = id;
          // Graph insertion costs up to ~1 ms an entry: let requests through while warming.
          if (added % 16 === 0) await new Promise((r) => setImmediate(r));
        }
        if (page.length < pageSize) break;
        start = `(${this.lastId}`;
      }
    } catch (err) {
      this.report(err, 'warm');
    } finally {
      bulk.disconnect();
    }
    this.warmed = true;
    return added;
  }

  private apply(index: SemanticIndex, f: Fields, skipOwn: boolean): boolean {
    if (skipOwn && f.o === this.instanceId) return false;
    const expiresAt = Number(f.x);
    if (f.d === undefined || f.k === undefined || f.t === undefined || f.v === undefined || !(expiresAt > this.now())) return false;
    const vector = decodeVector(f.v);
    if (vector.length !== index.dims) return false;
    index.add(f.d, vector, f.k, f.t, expiresAt);
    return true;
  }

  /** Follows the stream from where warm() stopped (or from now), indexing other sidecars' entries. */
  start(index: SemanticIndex): void {
    if (this.running) return;
    this.running = true;
    const follower = (this.follower = this.client(undefined));
    follower.on('error', (err: unknown) => this.reportOnce(err, 'follow'));
    this.loop = this.follow(index, follower);
  }

  private async follow(index: SemanticIndex, follower: RedisClient): Promise<void> {
    let backoff = 100;
    // Not warmed: follow from the current end of the stream.
    let pinned = this.warmed;
    while (this.running) {
      try {
        await this.connected(follower);
        if (!pinned) {
          const last = (await follower.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as [string, string[]][];
          this.lastId = last[0]?.[0] ?? '0-0';
          pinned = true;
        }
        const res = (await follower.xread('COUNT', 500, 'BLOCK', this.opts.blockMs ?? 1_000, 'STREAMS', this.streamKey, this.lastId)) as [string, [string, string[]][]][] | null;
        backoff = 100;
        for (const [, entries] of res ?? []) {
          for (const [id, flat] of entries) {
            this.apply(index, toFields(flat), true);
            this.lastId = id;
          }
        }
      } catch (err) {
        if (!this.running) break;
        this.reportOnce(err, 'follow');
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  async publish(entry: { contextDigest: string; key: string; text: string; expiresAt: number; vector: Float32Array }): Promise<void> {
    try {
      await this.connected(this.redis);
      await this.redis.xadd(
        this.streamKey,
        'MAXLEN',
        '~',
        this.opts.maxEntries ?? 50_000,
        '*',
        'd', entry.contextDigest,
        'k', entry.key,
        't', entry.text,
        'x', String(entry.expiresAt),
        'v', encodeVector(entry.vector),
        'o', this.instanceId,
      );
    } catch (err) {
      this.report(err, 'publish');
    }
  }

  async close(): Promise<void> {
    this.running = false;
    this.follower?.disconnect();
    await this.loop;
    this.redis.disconnect();
  }
}
