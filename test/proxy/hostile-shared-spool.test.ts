// Two sidecars pointed at one spool directory (a copied config, two replicas on one shared volume,
// two `llm-sidecar proxy` started in the same working directory with the default ./.llm-sidecar/spool).
// Before: the second took the first's live span-journal files for a crashed run's leftovers,
// replayed and deleted them while the first still wrote into them (rows lost), and the two replayed
// and deleted each other's spool segments. Now the directory has one owner (owner.json, checked in
// shared/clickhouse/spool.ts): the second process refuses to start with a clear error; a process
// that finds the file of a crashed owner takes it over and recovers its data; a clean stop removes it.
// Real processes (`bin/llm-sidecar proxy`), ClickHouse unreachable so every row stays on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from '../bench/children.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { until } from '../support/wait.ts';

interface Sidecar {
  proc: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
  origin: string;
  admin: string;
}

let fake: FakeProvider;
let dir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  fake = await startFakeProvider();
  dir = mkdtempSync(join(tmpdir(), 'h6-shared-spool-'));
});

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `llm-sidecar proxy` in `dir` (so `./spool` is the same directory for every one), ClickHouse down. */
async function spawnSidecar(name: string): Promise<Sidecar> {
  const [port, adminPort, deadClickHouse] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `listen: { host: 127.0.0.1, port: ${port} }`,
      `admin: { host: 127.0.0.1, port: ${adminPort} }`,
      'providers:',
      `  openai: { type: openai, baseUrl: ${fake.url}/v1, apiKey: sk-shared-spool-test }`,
      'telemetry:',
      `  serviceName: ${name}`,
      `  clickhouse: { mode: server, url: http://127.0.0.1:${deadClickHouse} }`,
      '  spool: { dir: ./spool }',
      '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'bin/llm-sidecar'), 'proxy', '--config', file], { cwd: dir, env: { ...process.env, LLM_SIDECAR_DRAIN_MS: '500', LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  let output = '';
  proc.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  proc.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => output, exit, origin: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
}

async function ready(s: Sidecar): Promise<void> {
  await until(
    `the sidecar is ready (output so far: ${s.output().slice(-500)})`,
    async () => {
      if (s.proc.exitCode !== null) throw new Error(`exited with ${s.proc.exitCode}: ${s.output().slice(-2000)}`);
      const res = await request(`${s.admin}/readyz`);
      await res.body.dump();
      return res.statusCode === 200;
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  );
}

async function call(s: Sidecar, content: string): Promise<number> {
  const res = await request(`${s.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }) });
  await res.body.dump();
  return res.statusCode;
}

const spool = (): string => join(dir, 'spool');
/** Span rows waiting on disk: journal files and spool segments. */
const filesOnDisk = (): string[] => [
  ...(existsSync(join(spool(), 'journal')) ? readdirSync(join(spool(), 'journal')).map((n) => `journal/${n}`) : []),
  ...readdirSync(spool()).filter((n) => n.endsWith('.jsonl')),
];

it('a second sidecar on the same spool directory refuses to start, a crashed owner is taken over, a clean stop leaves no owner', async () => {
  const first = await spawnSidecar('first');
  await ready(first);
  expect(await call(first, 'before the second')).toBe(200);
  await until('the first sidecar journaled its rows', () => filesOnDisk().length > 0);

  const second = await spawnSidecar('second');
  const code = await Promise.race([second.exit, ready(second).then(() => 'started')]);
  expect(code, second.output().slice(-2000)).not.toBe('started');
  expect(code).not.toBe(0);
  expect(second.output()).toMatch(/spool directory .*spool is in use by another llm-sidecar \(pid \d+ on .*\).*give each its own telemetry\.spool\.dir/);
  // Nothing of the first one's was recovered (replayed or deleted) by the second.
  expect(second.output()).not.toMatch(/recovered|replaying/);
  expect(await call(first, 'after the second')).toBe(200);
  await until('the first sidecar journaled the next rows too', () => filesOnDisk().length > 0);

  // A crash leaves the owner file behind: the next sidecar takes it over at once and recovers the rows.
  first.proc.kill('SIGKILL');
  await first.exit;
  expect(existsSync(join(spool(), 'owner.json'))).toBe(true);
  const third = await spawnSidecar('third');
  await ready(third);
  await until('the third sidecar found the rows the first one left', () => /recovered|replaying/.test(third.output()));
  expect(await call(third, 'after the crash')).toBe(200);

  // A clean stop removes the owner file (and keeps the undelivered rows for the next start).
  third.proc.kill('SIGTERM');
  expect(await third.exit).toBe(0);
  expect(existsSync(join(spool(), 'owner.json'))).toBe(false);
  expect(filesOnDisk().length).toBeGreaterThan(0);
});
