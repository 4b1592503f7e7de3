// A throwaway Redis Sentinel setup for tests, from Debian's redis-server alone (`--sentinel` mode):
// one primary, one replica, one sentinel (quorum 1) watching them as "mymaster" on loopback
// ports, with a short down-after so that a failover takes a few seconds. Skipped with a visible
// reason without redis-server, an error under CI=true (see redisAvailability).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAvailability, startRedis, type RedisHandle } from './redis.ts';

export const SENTINEL_MASTER = 'mymaster';

export interface RedisSentinelHandle {
  /** "host:port" of the sentinel, as the config takes it. */
  sentinels: string[];
  name: string;
  /** The port the sentinel currently names as primary. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary and resolves once the sentinel names another one. */
  failover(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`redis sentinel: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  const { path } = redisAvailability();
  if (path === undefined) throw new Error('redis-server not found');
  const servers: RedisHandle[] = [await startRedis()];
  const primary = servers[0]!;
  const replica = await startRedis();
  servers.push(replica);
  const dir = mkdtempSync(join(tmpdir(), 'llmsc-sentinel-'));
  let sentinel: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (sentinel && sentinel.exitCode === null && sentinel.signalCode === null) {
      const s = sentinel;
      await new Promise<void>((resolve) => {
        s.once('exit', () => resolve());
        s.kill('SIGKILL');
      });
    }
    await Promise.all(servers.map((s) => s.kill().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const probe = (port: number): Redis => {
      const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      return r;
    };
    const rep = probe(replica.port);
    await rep.connect();
    await rep.replicaof('127.0.0.1', primary.port);
    await until('replica did not sync', async () => (await rep.info('replication')).includes('master_link_status:up'), 10_000);
    rep.disconnect();
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 1`, `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`, `sentinel failover-timeout ${SENTINEL_MASTER} 3000`, ''].join('\n'),
    );
    sentinel = spawn(path, [conf, '--sentinel'], { cwd: dir, stdio: 'ignore' });
    const ask = async (): Promise<number> => {
      const s = probe(port);
      try {
        await s.connect();
        const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)) as [string, string] | null;
        return Number(addr?.[1] ?? 0);
      } finally {
        s.disconnect();
      }
    };
    // The sentinel must know the replica too, or it has nobody to promote.
    await until('sentinel did not start', async () => (await ask()) === primary.port, 10_000);
    await until('sentinel did not discover the replica', async () => {
      const s = probe(port);
      try {
        await s.connect();
        const replicas = (await s.call('SENTINEL', 'replicas', SENTINEL_MASTER)) as unknown[];
        return replicas.length > 0;
      } finally {
        s.disconnect();
      }
    }, 15_000);
    return {
      sentinels: [`127.0.0.1:${port}`],
      name: SENTINEL_MASTER,
      primaryPort: ask,
      async failover(timeoutMs = 20_000) {
        const old = await ask();
        const victim = servers.find((s) => s.port === old);
        if (victim === undefined) throw new Error(`unknown primary ${old}`);
        await victim.kill();
        await until('no new primary', async () => {
          const now = await ask();
          return now !== old && now !== 0;
        }, timeoutMs);
        return ask();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
