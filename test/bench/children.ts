// The bench's child processes (fake upstream, bare forwarder, nginx, sidecar): spawned from the repo root
// unless told otherwise (`--import tsx` resolves from the working directory), their output drained
// (a full pipe would stall them mid-benchmark) and kept as a short tail for error messages, and
// killed however the bench ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TAIL_BYTES = 4_096;
const live = new Set<ChildProcess>();

export interface Child {
  name: string;
  pid: number;
  /** Last few KB of stdout + stderr, for error messages. */
  tail(): string;
  /** Resolves with the first match of `re` in stdout; rejects if the child exits or time runs out. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Rejects when the child exits: race it against readiness checks. */
  exited: Promise<never>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnNode(name: string, args: string[], opts: { env?: NodeJS.ProcessEnv; ipc?: boolean; cwd?: string } = {}): Child {
  return spawnChild(name, process.execPath, args, opts);
}

/** Any program (nginx, the native reference) as a child, with the same output handling and cleanup. */
export function spawnChild(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; ipc?: boolean; cwd?: string } = {}): Child {
  const proc = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  live.add(proc);
  let tail = '';
  let stdout = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  proc.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (stdout.length < TAIL_BYTES) stdout += chunk.toString('utf8');
  });
  proc.stderr?.on('data', keep);
  // An IPC channel whose peer died raises EPIPE here; the exit handling below covers it.
  proc.on('error', () => undefined);

  let exitCode: number | null | undefined;
  const exited = new Promise<never>((_resolve, reject) => {
    proc.on('exit', (code, signal) => {
      exitCode = code;
      live.delete(proc);
      // A signal means we (or someone) killed it: its output says nothing about why.
      reject(new Error(`${name} exited (${signal ?? `code ${code}`})${signal ? '' : headline(tail)}\noutput:\n${indent(tail)}`));
    });
  });
  exited.catch(() => undefined); // observed by whoever races it; never an unhandled rejection

  return {
    name,
    pid: proc.pid,
    tail: () => tail,
    exited,
    waitForOutput(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} did not print ${re} within ${timeoutMs} ms\noutput:\n${indent(tail)}`));
        }, timeoutMs);
        const check = (): void => {
          const m = re.exec(stdout);
          if (!m) return;
          cleanup();
          resolve(m);
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          proc.stdout?.off('data', check);
        };
        proc.stdout?.on('data', check);
        exited.catch((err: unknown) => {
          cleanup();
          reject(err as Error);
        });
        check();
      });
    },
    async stop(graceMs = 3_000) {
      if (exitCode !== undefined || !live.has(proc)) return;
      const done = exited.catch(() => undefined);
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Synchronous last resort (process 'exit', signals, crashes): SIGKILL every child still running. */
export function killAllChildren(): void {
  for (const proc of live) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** A port that was free a moment ago (the sidecar's config needs explicit ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The line of a crash's output most likely to say why, for one-line summaries. */
function headline(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /^(\w*Error\b|llm-sidecar:)/.test(l)) ?? lines.at(-1);
  return line ? `: ${line.slice(0, 200)}` : '';
}

export function indent(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed ? trimmed.replace(/^/gm, '  | ') : '  | (no output)';
}
