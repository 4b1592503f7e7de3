// One way to open a Redis connection for the budgets and the shared cache, whatever the topology:
// one server (`url`), Redis Cluster (`cluster.nodes`) or a primary found through Sentinel
// (`sentinel`). Every connection fails fast: no offline queue (a command while disconnected is
// rejected at once), nothing re-sent after a reconnect, a per-command timeout; ioredis reconnects
// in the background, follows Sentinel to a new primary and Cluster to a promoted replica, so a
// failover recovers without a restart. The caller decides what a failure means (budgets:
// onUnavailable; cache: a miss).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnectionConfig } from '../shared/config/budgets.ts';

export type RedisClient = Redis | Cluster;

export interface FastFailOptions {
  /** ioredis' per-command timeout (ms). */
  commandTimeoutMs?: number | undefined;
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts (ms). */
  maxReconnectDelayMs?: number;
}

/** ioredis options of one connection: fail fast, never queue, reconnect in the background. */
export function fastFailOptions(o: FastFailOptions = {}): RedisOptions {
  const maxDelay = o.maxReconnectDelayMs ?? 1_000;
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: o.connectTimeoutMs ?? 1_000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), maxDelay),
    keepAlive: 10_000,
  };
  if (o.commandTimeoutMs !== undefined) options.commandTimeout = o.commandTimeoutMs;
  return options;
}

function hostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(text.slice(i + 1)) };
}

/** Opens (lazily) a client for the configured topology; call connect() or send a command to connect. */
export function createRedisClient(c: RedisConnectionConfig, o: FastFailOptions = {}): RedisClient {
  const base = fastFailOptions(o);
  if (c.cluster !== undefined) {
    const seeds = c.cluster.nodes.map((u) => new URL(u));
    const first = seeds[0];
    const redisOptions: RedisOptions = { ...base };
    delete redisOptions.lazyConnect;
    delete redisOptions.retryStrategy;
    if (first !== undefined) {
      if (first.username !== '') redisOptions.username = decodeURIComponent(first.username);
      if (first.password !== '') redisOptions.password = decodeURIComponent(first.password);
      if (first.protocol === 'rediss:') redisOptions.tls = {};
    }
    const options: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      redisOptions,
      // Redirections (MOVED/ASK) and a cluster still electing a new primary are retried briefly;
      // the caller's own timeout bounds the whole command.
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: Math.max(1_000, o.connectTimeoutMs ?? 1_000),
      clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), o.maxReconnectDelayMs ?? 1_000),
    };
    return new Cluster(
      seeds.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) })),
      options,
    );
  }
  if (c.sentinel !== undefined) {
    const s = c.sentinel;
    const options: RedisOptions = { ...base, name: s.name, sentinels: s.sentinels.map(hostPort), db: s.db };
    if (s.username !== undefined) options.username = s.username;
    if (s.password !== undefined) options.password = s.password;
    if (s.sentinelPassword !== undefined) options.sentinelPassword = s.sentinelPassword;
    if (s.tls) {
      options.tls = {};
      options.enableTLSForSentinelMode = true;
    }
    return new Redis(options);
  }
  return new Redis(c.url ?? 'redis://127.0.0.1:6379', base);
}

/** Every server of the connection (all cluster nodes, or the one server) — e.g. to load scripts everywhere. */
export function serversOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('all') : [client];
}

/**
 * Waits until the client is ready, at most `ms`. Resolves true when ready, false otherwise;
 * never rejects. A client that was never asked to connect is asked now.
 */
export function whenReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  if (client.status === 'wait') client.connect().catch(() => undefined);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(client.status === 'ready'), ms);
    timer.unref();
    client.on('ready', onReady);
  });
}
