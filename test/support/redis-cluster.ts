// A throwaway Redis Cluster for tests, from Debian's redis-server and redis-cli (redis-tools, a
// dependency of redis-server): three primaries and three replicas on loopback ports, each started
// by the one launcher (startRedis in redis.ts) with cluster flags, joined with
// `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`, no persistence, a short
// cluster-node-timeout so that a failover (a primary stopped, its replica promoted) takes about a
// second. Without the binaries the cluster suites are skipped with a visible reason, except under
// CI=true, where that is an error: CI must never pass by skipping.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findRedisBinary, redisAvailability, startRedis, type RedisAvailability, type RedisHandle } from './redis.ts';
import { until } from './wait.ts';

const run = promisify(execFile);

/** Whether a cluster can be started here. Throws under CI=true when a binary is missing. */
export function redisClusterAvailability(): RedisAvailability {
  return redisAvailability(['redis-server', 'redis-cli']);
}

export interface RedisClusterHandle {
  /** Seed URLs (every node). */
  urls: string[];
  /** The primary that owns `key`'s slot now. */
  primaryOf(key: string): Promise<number>;
  /** SIGKILLs the primary owning `key`'s slot; resolves with its port. */
  killPrimaryOf(key: string): Promise<number>;
  /** Resolves when every slot is served by a live primary (after a failover). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

async function withClient<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await f(r);
  } finally {
    r.disconnect();
  }
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

export async function startRedisCluster(options: { primaries?: number; replicasPerPrimary?: number } = {}): Promise<RedisClusterHandle> {
  redisClusterAvailability();
  const cli = findRedisBinary('redis-cli');
  if (cli === undefined) throw new Error('redis-cli not found');
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 1;
  const taken = new Set<number>();
  const nodes: RedisHandle[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.kill()));
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = await clusterPort(taken);
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0'];
      nodes.push(await startRedis({ port, args }));
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    const handle = makeHandle(nodes, stopAll);
    await handle.waitHealthy(20_000);
    // A replica that never finished its first sync is not eligible for a failover: wait for it.
    for (const n of nodes) {
      await until(
        `cluster node ${n.port} is a primary or a synced replica`,
        () => withClient(n.port, async (r) => { const info = await r.info('replication'); return info.includes('role:master') || info.includes('master_link_status:up'); }),
        { timeoutMs: 20_000, intervalMs: 50 },
      );
    }
    return handle;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function makeHandle(nodes: RedisHandle[], stopAll: () => Promise<void>): RedisClusterHandle {
  const alive = (): RedisHandle[] => nodes.filter((n) => n.running());
  const slots = async (): Promise<SlotRange[]> => {
    for (const n of alive()) {
      try {
        return await withClient(n.port, async (r) => (await r.cluster('SLOTS')) as unknown as SlotRange[]);
      } catch {
        // next node
      }
    }
    throw new Error('no cluster node answers');
  };
  const handle: RedisClusterHandle = {
    urls: nodes.map((n) => `redis://127.0.0.1:${n.port}`),
    async primaryOf(key) {
      const slot = await withClient(alive()[0]!.port, (r) => r.cluster('KEYSLOT', key));
      const range = (await slots()).find(([from, to]) => slot >= from && slot <= to);
      if (range === undefined) throw new Error(`no primary serves slot ${slot}`);
      return range[2][1];
    },
    async killPrimaryOf(key) {
      const port = await handle.primaryOf(key);
      const node = nodes.find((n) => n.port === port);
      if (node === undefined) throw new Error(`unknown node ${port}`);
      await node.kill();
      return port;
    },
    async waitHealthy(timeoutMs = 15_000) {
      const livePorts = (): Set<number> => new Set(alive().map((n) => n.port));
      await until(
        'every slot is served by a live primary',
        async () => {
          const ports = livePorts();
          for (const n of alive()) {
            const info = await withClient(n.port, (r) => r.cluster('INFO'));
            if (!/cluster_state:ok/.test(info)) return false;
          }
          const ranges = await slots();
          const covered = ranges.reduce((s, [from, to]) => s + (to - from + 1), 0);
          return covered === 16_384 && ranges.every((r) => ports.has(r[2][1]));
        },
        { timeoutMs, intervalMs: 50 },
      );
    },
    stop: stopAll,
  };
  return handle;
}
