// Two sidecar PROCESSES sharing one Redis enforce one limit, not limit × replicas.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../support/redis.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';

const BIN = join(import.meta.dirname, '../../bin/llm-sidecar');
let fake: FakeProvider;
let redis: RedisHandle;
const children: ChildProcess[] = [];

beforeAll(async () => {
  fake = await startFakeProvider();
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await fake?.close();
  await redis?.stop();
});

async function proxyProcess(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'replica-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    [
      'listen: { port: 0 }',
      'admin: { host: 127.0.0.1, port: 0 }',
      `providers: { openai: { type: openai, baseUrl: "${fake.url}/v1" } }`,
      'telemetry: { clickhouse: { mode: off } }',
      `budgets: { backend: { type: redis, url: "${redis.url}", onUnavailable: fail-closed, timeoutMs: 2000 }, rateLimits: [{ scope: tenant, requestsPerMinute: 40 }] }`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'proxy', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /proxy listening on (http:\/\/[\d.:]+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(err)));
  });
}

it('two proxy processes on one Redis admit exactly the limit between them', async () => {
  const [a, b] = await Promise.all([proxyProcess(), proxyProcess()]);
  const results = await Promise.all(
    Array.from({ length: 120 }, (_, i) =>
      request(`${i % 2 ? a : b}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-llm-sidecar-tenant': 'acme' },
        body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
      }).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      }),
    ),
  );
  expect(results.filter((s) => s === 200)).toHaveLength(40);
  expect(results.filter((s) => s === 429)).toHaveLength(80);
}, 30_000);
