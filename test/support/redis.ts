// A throwaway redis-server for tests: a free port, no persistence, its own temporary directory,
// gone when stopped. Without a redis-server binary the Redis tests are skipped with a visible
// reason (describe.skipIf(!REDIS.available) + the printed reason), except under CI=true, where a
// missing binary is an error: CI must never pass by skipping.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisHandle {
  url: string;
  port: number;
  /** Graceful shutdown (SIGTERM), waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: the "Redis died" case. */
  kill(): Promise<void>;
}

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/opt/homebrew/bin/redis-server'];

function findRedisServer(): string | undefined {
  const fromEnv = process.env.REDIS_SERVER;
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  return CANDIDATES.find((p) => existsSync(p));
}

export interface RedisAvailability {
  available: boolean;
  /** Why the Redis tests are skipped, when they are. */
  reason: string;
  path: string | undefined;
}

/** Whether Redis tests can run here. Throws under CI=true when redis-server is missing. */
export function redisAvailability(): RedisAvailability {
  const path = findRedisServer();
  if (path !== undefined) return { available: true, reason: '', path };
  if (process.env.CI === 'true') throw new Error(`redis-server is required under CI=true (looked in ${CANDIDATES.join(', ')}; apt-get install redis-server)`);
  const reason = `SKIPPED: redis-server not found (looked in ${CANDIDATES.join(', ')}); install it to run the Redis tests`;
  console.warn(reason);
  return { available: false, reason, path };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(200, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a redis-server; `port` restarts one on the port of a stopped or killed one. */
export async function startRedis(options: { port?: number } = {}): Promise<RedisHandle> {
  const bin = findRedisServer();
  if (bin === undefined) {
    redisAvailability(); // throws under CI
    throw new Error('redis-server not found');
  }
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'llmsc-redis-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir], { cwd: dir, stdio: 'ignore' });
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  child.once('exit', cleanup);
  const deadline = Date.now() + 5_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not start within 5 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
