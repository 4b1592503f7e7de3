// The command line as users run it: `bin/llm-sidecar` right after `npm ci`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startFakeProvider } from '../../simulator/server.ts';

const BIN = join(import.meta.dirname, '../../bin/llm-sidecar');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
}

describe('llm-sidecar CLI', () => {
  it('prints help for the tool and for each command', () => {
    const top = run(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/Commands:[\s\S]*proxy[\s\S]*demo/);
    expect(run(['proxy', '--help']).stdout).toMatch(/baseURL http:\/\/127\.0\.0\.1:4000\/v1/);
  });

  it('refuses an invalid config with every bad path and no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: { port: -1 }\nproviders:\n  p: { type: azure, baseUrl: nope, apiKey: "${NOT_SET_ANYWHERE}" }\nroutes:\n  r: { targets: [{ provider: q }] }\n');
    const r = run(['proxy', '--config', file]);
    expect(r.status).toBe(2);
    for (const path of ['listen.port', 'providers.p.type', 'providers.p.baseUrl', 'providers.p.apiKey', 'routes.r.targets[0].provider']) expect(r.stderr).toContain(path);
    expect(r.stderr).toContain('NOT_SET_ANYWHERE is not set');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The evaluator's section is checked by every command, with the rest of the file.
    const judged = join(dir, 'judged.yaml');
    writeFileSync(judged, 'listen: { port: -1 }\nevaluation:\n  evaluators:\n    list: [{ builtin: helpfulness }, { builtin: helpfulness }]\n    replicas: { count: 2, index: 5 }\n');
    const e = run(['proxy', '--config', judged]);
    expect(e.status).toBe(2);
    for (const path of ['listen.port', 'evaluation.evaluators.list[0].judge', 'evaluation.evaluators.list[1]: evaluator "helpfulness" version', 'evaluation.evaluators.replicas.index']) expect(e.stderr).toContain(path);
    expect(e.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(judged, 'evaluation:\n  evaluators:\n    list: [{ builtin: nonsense }]\n');
    expect(run(['migrate', '--config', judged]).stderr).toMatch(/evaluation\.evaluators\.list\[0\]\.builtin: Invalid option/);
    const missing = run(['proxy'], { LLM_SIDECAR_CONFIG: join(dir, 'nope.yaml') });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml[\s\S]*file not found/);
  });

  it('shows a model\'s effective price and where it comes from', () => {
    const shipped = run(['prices', 'gpt-4o-2024-08-06', '--provider', 'openai']);
    expect(shipped.status).toBe(0);
    expect(shipped.stdout).toMatch(/^openai gpt-4o\n\s+source\s+prices\.json \(checked \d{4}-\d{2}-\d{2}\)/);
    expect(shipped.stdout).toMatch(/input\s+2\.50 USD \/ 1M tokens/);
    expect(run(['prices', 'o3-pro']).stdout).toMatch(/source\s+genai-prices \d/);
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(dir, 'prices.yaml');
    writeFileSync(file, 'pricing:\n  genaiPrices: false\n  models: [{ provider: openai, model: my-ft, input: "0.30", output: "1.20" }]\n');
    expect(run(['prices', 'my-ft', '--config', file]).stdout).toMatch(/source\s+pricing\.models in the config/);
    const off = run(['prices', 'o3-pro', '--config', file]);
    expect(off.status).toBe(1);
    expect(off.stdout).toMatch(/no price/);
    expect(run(['prices', 'gpt-4o', '--provider', 'azure']).status).toBe(2);
  }, 60_000);

  it('rejects unknown commands with the usage', () => {
    const r = run(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('serves traffic, then drains and exits 0 on SIGTERM', async () => {
    const fake = await startFakeProvider();
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, `listen: { port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nproviders:\n  openai: { type: openai, baseUrl: "${fake.url}/v1" }\ntelemetry: { clickhouse: { mode: off } }\n`);
    const child = spawn(process.execPath, [BIN, 'proxy', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /proxy listening on (http:\/\/[\d.:]+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(err)));
    });
    const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' });
    expect(res.statusCode).toBe(200);
    await res.body.json();
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(err).toMatch(/SIGTERM received, draining/);
    await fake.close();
  });
});

describe('llm-sidecar migrate', () => {
  it('applies the schema to the embedded store, and is idempotent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrate-'));
    const file = join(dir, 'm.yaml');
    writeFileSync(file, `telemetry: { clickhouse: { mode: embedded, dataDir: "${join(dir, 'ch')}" } }\n`);
    const first = run(['migrate', '--config', file]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/applied 001-otel-traces, .*llm-calls/);
    const second = run(['migrate', '--config', file]);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/applied nothing; already applied \d+/);
  });
});
