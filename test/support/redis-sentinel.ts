// A throwaway Redis Sentinel setup for tests, from Debian's redis-server alone (`--sentinel` mode):
// one primary, one replica, one sentinel (quorum 1) watching them as "mymaster" on loopback
// ports, with a short down-after so that a failover takes a few seconds. Skipped with a visible
// reason without redis-server, an error under CI=true (see redisAvailability). All three processes
// come from the one launcher (startRedis in redis.ts); the sentinel is a redis-server started with
// its config file and `--sentinel`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAvailability, startRedis, type RedisHandle } from './redis.ts';
import { until } from './wait.ts';

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

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  if (!redisAvailability().available) throw new Error('redis-server not found');
  const servers: RedisHandle[] = [await startRedis()];
  const primary = servers[0]!;
  const replica = await startRedis();
  servers.push(replica);
  const dir = mkdtempSync(join(tmpdir(), 'llmsc-sentinel-'));
  let sentinel: RedisHandle | undefined;
  const stop = async (): Promise<void> => {
    await sentinel?.kill();
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
    await until('the replica has synced with the primary', async () => (await rep.info('replication')).includes('master_link_status:up'), { timeoutMs: 10_000, intervalMs: 50 });
    rep.disconnect();
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [`sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 1`, `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`, `sentinel failover-timeout ${SENTINEL_MASTER} 3000`, ''].join('\n'),
    );
    sentinel = await startRedis({ port, configFile: conf, dir, args: ['--sentinel'] });
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
    await until('the sentinel names the primary', async () => (await ask()) === primary.port, { timeoutMs: 10_000, intervalMs: 50 });
    await until('the sentinel has discovered the replica', async () => {
      const s = probe(port);
      try {
        await s.connect();
        const replicas = (await s.call('SENTINEL', 'replicas', SENTINEL_MASTER)) as unknown[];
        return replicas.length > 0;
      } finally {
        s.disconnect();
      }
    }, { timeoutMs: 15_000, intervalMs: 50 });
    return {
      sentinels: [`127.0.0.1:${port}`],
      name: SENTINEL_MASTER,
      primaryPort: ask,
      async failover(timeoutMs = 20_000) {
        const old = await ask();
        const victim = servers.find((s) => s.port === old);
        if (victim === undefined) throw new Error(`unknown primary ${old}`);
        await victim.kill();
        await until('the sentinel names a new primary', async () => {
          const now = await ask();
          return now !== old && now !== 0;
        }, { timeoutMs, intervalMs: 50 });
        return ask();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
