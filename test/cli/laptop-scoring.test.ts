// The laptop default scores: `llm-sidecar proxy` with the embedded store and evaluation.evaluators
// runs the evaluator in its own process (real processes, the real CLI), and a separate
// `llm-sidecar evaluator` on the data directory the proxy holds exits 2 naming the setting, with no
// stack trace.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';

const BIN = join(import.meta.dirname, '../../bin/llm-sidecar');
const hasChdb = await chdbAvailable();
let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake?.close();
});

it.skipIf(!hasChdb)('the proxy scores sampled calls in its process; a second evaluator on its data directory is told which option to use', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'laptop-'));
  const file = join(dir, 'sidecar.yaml');
  writeFileSync(
    file,
    `listen: { port: 0 }
admin: { host: 127.0.0.1, port: 0 }
providers:
  openai: { type: openai, baseUrl: "${fake.url}/v1" }
telemetry:
  clickhouse: { dataDir: "${join(dir, 'clickhouse')}" }
  spool: { dir: "${join(dir, 'spool')}" }
evaluation:
  sampleRate: 1
  evaluators:
    settleSeconds: 0
    pollIntervalMs: 200
    list: [{ builtin: completeness }]
`,
  );
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, 'proxy', '--config', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await expect.poll(() => err, { timeout: 30_000 }).toMatch(/proxy listening on http:\/\/[\d.:]+/);
    expect(err).toMatch(/scoring sampled calls in this process/);
    const url = /proxy listening on (http:\/\/[\d.:]+)/.exec(err)?.[1] as string;
    const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Where is my order?"}]}' });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    // The in-process evaluator logs each pass that wrote scores.
    await expect.poll(() => err, { timeout: 30_000 }).toMatch(/pass: completeness@\S+ \+1 scored/);

    const second = spawnSync(process.execPath, [BIN, 'evaluator', '--config', file], { encoding: 'utf8', timeout: 80_000 });
    expect(second.status, second.stderr).toBe(2);
    expect(second.stderr).toMatch(/held by another process, most likely a running `llm-sidecar proxy`/);
    expect(second.stderr).toMatch(/put this evaluation\.evaluators section in the proxy's configuration/);
    expect(second.stderr).toMatch(/telemetry\.clickhouse\.url/);
    expect(second.stderr).not.toMatch(/\n\s+at /);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);

  const store = await createEmbeddedStore({ dataDir: join(dir, 'clickhouse') });
  try {
    const rows = await store.query<{ Evaluator: string; ScoreLabel: string }>(`SELECT Evaluator, ScoreLabel FROM otel.llm_evaluations FINAL`);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.Evaluator).toBe('completeness');
  } finally {
    await store.close();
  }
}, 180_000);
