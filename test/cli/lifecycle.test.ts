// Lifecycle of the proxy process: reload on SIGHUP (good and bad file), and a stream in flight
// that completes across SIGTERM.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';

const BIN = join(import.meta.dirname, '../../bin/llm-sidecar');
let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake?.close();
});

function configText(alias: string): string {
  return `listen: { port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nproviders:\n  openai: { type: openai, baseUrl: "${fake.url}/v1" }\nroutes:\n  r: { models: [alias], targets: [{ provider: openai, model: ${alias} }] }\ntelemetry: { clickhouse: { mode: off } }\n`;
}

async function start(file: string): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'proxy', '--config', file], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LLM_SIDECAR_DRAIN_MS: '5000' } });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /proxy listening on (http:\/\/[\d.:]+)/.exec(err);
      if (m) {
        clearInterval(t);
        resolve(m[1]!);
      }
    }, 20);
    child.on('exit', () => reject(new Error(err)));
  });
  return { child, url, stderr: () => err };
}

async function modelFor(url: string): Promise<string> {
  const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"alias","messages":[{"role":"user","content":"x"}]}' });
  return ((await res.body.json()) as { model: string }).model;
}

it('reloads on SIGHUP; a bad file is refused with its reason and the old config keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reload-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, configText('gpt-4o-mini'));
  const p = await start(file);
  expect(await modelFor(p.url)).toBe('gpt-4o-mini');
  writeFileSync(file, configText('gpt-4.1'));
  p.child.kill('SIGHUP');
  await expect.poll(() => p.stderr()).toMatch(/configuration reloaded/);
  expect(await modelFor(p.url)).toBe('gpt-4.1');
  writeFileSync(file, 'routes:\n  r: { targets: [{ provider: nowhere }] }\n');
  p.child.kill('SIGHUP');
  // Logs are JSON lines on stderr (shared/log.ts): the reason is inside the line's message, quotes escaped.
  await expect.poll(() => p.stderr()).toMatch(/NOT reloaded[\s\S]*routes\.r\.targets\[0\]\.provider: unknown provider \\"nowhere\\"/);
  expect(await modelFor(p.url)).toBe('gpt-4.1');
  const exit = new Promise((r) => p.child.on('exit', r));
  p.child.kill('SIGTERM');
  expect(await exit).toBe(0);
});

it('a stream in flight completes across SIGTERM, then the process exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drain-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, configText('gpt-4o-mini'));
  const p = await start(file);
  const res = await request(`${p.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fake-fault': 'chunk-delay=30,words=30' },
    body: '{"model":"alias","stream":true,"messages":[{"role":"user","content":"x"}]}',
  });
  const exit = new Promise<number | null>((r) => p.child.on('exit', (code) => r(code)));
  let text = '';
  let signalled = false;
  for await (const chunk of res.body) {
    text += chunk.toString();
    if (!signalled) {
      signalled = true;
      p.child.kill('SIGTERM');
    }
  }
  expect(text).toContain('data: [DONE]');
  expect(text).toContain('word29');
  expect(await exit).toBe(0);
});
