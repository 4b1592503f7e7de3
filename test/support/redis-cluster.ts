// A throwaway Redis Cluster for tests, from Debian's redis-server and redis-cli (redis-tools, a
// dependency of redis-server): three primaries and three replicas on loopback ports, created with
// `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`, no persistence, a short
// cluster-node-timeout so that a failover (a primary stopped, its replica promoted) takes about a
// second. Without the binaries the cluster suites are skipped with a visible reason, except under
// CI=true, where that is an error: CI must never pass by skipping.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

const DIRS = ['/usr/bin', '/usr/local/bin', '/opt/homebrew/bin'];

function find(name: string): string | undefined {
  return DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
}

export interface ClusterAvailability {
  available: boolean;
  reason: string;
}

/** Whether a cluster can be started here. Throws under CI=true when a binary is missing. */
export function redisClusterAvailability(): ClusterAvailability {
  const missing = ['redis-server', 'redis-cli'].filter((n) => find(n) === undefined);
  if (missing.length === 0) return { available: true, reason: '' };
  const what = `${missing.join(' and ')} not found in ${DIRS.join(', ')} (apt-get install redis-server, which brings redis-tools)`;
  if (process.env.CI === 'true') throw new Error(`the Redis Cluster suites need ${what} under CI=true`);
  const reason = `SKIPPED: ${what}`;
  console.warn(reason);
  return { available: false, reason };
}

interface Node {
  port: number;
  child: ChildProcess;
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

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
  const server = find('redis-server');
  const cli = find('redis-cli');
  if (server === undefined || cli === undefined) throw new Error('redis-server / redis-cli not found');
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 1;
  const taken = new Set<number>();
  const dir = mkdtempSync(join(tmpdir(), 'llmsc-redis-cluster-'));
  const nodes: Node[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
            n.child.once('exit', () => resolve());
            n.child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = await clusterPort(taken);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0');
      const child = spawn(server, args, { cwd: dir, stdio: 'ignore' });
      nodes.push({ port, child });
    }
    for (const n of nodes) await until(`node ${n.port} did not start`, () => withClient(n.port, async (r) => (await r.ping()) === 'PONG'), 5_000);
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    const handle = makeHandle(nodes, stopAll);
    await handle.waitHealthy(20_000);
    // A replica that never finished its first sync is not eligible for a failover: wait for it.
    for (const n of nodes) {
      await until(
        `replica ${n.port} did not sync`,
        () => withClient(n.port, async (r) => { const info = await r.info('replication'); return info.includes('role:master') || info.includes('master_link_status:up'); }),
        20_000,
      );
    }
    return handle;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function makeHandle(nodes: Node[], stopAll: () => Promise<void>): RedisClusterHandle {
  const alive = (): Node[] => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
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
      await new Promise<void>((resolve) => {
        node.child.once('exit', () => resolve());
        node.child.kill('SIGKILL');
      });
      return port;
    },
    async waitHealthy(timeoutMs = 15_000) {
      const livePorts = (): Set<number> => new Set(alive().map((n) => n.port));
      await until(
        'not every slot is served by a live primary',
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
        timeoutMs,
      );
    },
    stop: stopAll,
  };
  return handle;
}
