// The one redis-server launcher of the test support: a free loopback port, no persistence, its own
// temporary directory, ready when it answers PING, gone when stopped. The cluster and sentinel
// launchers (redis-cluster.ts, redis-sentinel.ts) and every Redis test and bench start their
// servers through startRedis. Without a redis-server binary the Redis tests are skipped with a
// visible reason (describe.skipIf(!REDIS.available) + the printed reason), except under CI=true,
// where a missing binary is an error: CI must never pass by skipping.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './wait.ts';

export interface RedisHandle {
  url: string;
  port: number;
  /** Its working directory (node config files, sentinel config). */
  dir: string;
  /** Whether the process is still running. */
  running(): boolean;
  /** Graceful shutdown (SIGTERM), waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: the "Redis died" case; waits for the exit. */
  kill(): Promise<void>;
}

const DIRS = ['/usr/bin', '/usr/local/bin', '/opt/homebrew/bin'];

/** A Redis binary (`redis-server`, `redis-cli`); $REDIS_SERVER overrides the server's path. */
export function findRedisBinary(name: 'redis-server' | 'redis-cli'): string | undefined {
  const fromEnv = name === 'redis-server' ? process.env.REDIS_SERVER : undefined;
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  return DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
}

export interface RedisAvailability {
  available: boolean;
  /** Why the Redis tests are skipped, when they are. */
  reason: string;
  path: string | undefined;
}

/**
 * Whether Redis tests needing `binaries` can run here. Throws under CI=true when one is missing;
 * otherwise prints the reason the suite is skipped.
 */
export function redisAvailability(binaries: ('redis-server' | 'redis-cli')[] = ['redis-server']): RedisAvailability {
  const path = findRedisBinary('redis-server');
  const missing = binaries.filter((b) => findRedisBinary(b) === undefined);
  if (missing.length === 0) return { available: true, reason: '', path };
  const what = `${missing.join(' and ')} not found in ${DIRS.join(', ')} (apt-get install redis-server, which brings redis-tools)`;
  if (process.env.CI === 'true') throw new Error(`the Redis tests need ${what} under CI=true`);
  const reason = `SKIPPED: ${what}`;
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

/** One PING over a raw socket (no client library: the launcher must not depend on the code under test). */
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

export interface StartRedisOptions {
  /** A fixed port: restarts a server on the port of a stopped or killed one. Default: a free one. */
  port?: number;
  /** A config file, passed first (sentinel mode needs one it can rewrite). */
  configFile?: string;
  /** More arguments after the common ones (`--cluster-enabled yes`, `--sentinel`, …). */
  args?: string[];
  /** Working directory; default a fresh temporary one, removed when the process exits. */
  dir?: string;
}

/** Starts a redis-server (or a sentinel, with `args: ['--sentinel']`) and resolves once it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const bin = findRedisBinary('redis-server');
  if (bin === undefined) {
    redisAvailability(); // throws under CI
    throw new Error('redis-server not found');
  }
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'llmsc-redis-'));
  const args = [...(options.configFile === undefined ? [] : [options.configFile])];
  args.push('--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, ...(options.args ?? []));
  const child = spawn(bin, args, { cwd: dir, stdio: 'ignore' });
  if (ownDir) child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  try {
    // Stops waiting early when the process died (a taken port, a bad argument): that is the error.
    await until(`redis-server on port ${port} answers PING`, async () => !running() || (await ping(port)), { timeoutMs: 5_000 });
    if (!running()) throw new Error(`redis-server on port ${port} exited with ${child.exitCode ?? child.signalCode} before answering PING`);
  } catch (err) {
    child.kill('SIGKILL');
    await exited(child);
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    running,
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
