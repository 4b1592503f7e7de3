import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, parseConfigText } from '../../shared/config/load.ts';

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('applies the contract defaults', () => {
    const c = parseConfig({});
    expect(c.listen).toMatchObject({ host: '127.0.0.1', port: 4000 });
    expect(c.admin).toMatchObject({ host: '0.0.0.0', port: 4001 });
    expect(c.providers).toEqual({});
  });

  it('interpolates ${ENV} and ${ENV:-default} in values only', () => {
    const text = `
providers:
  openai: { type: openai, baseUrl: "\${OPENAI_BASE:-https://api.openai.com/v1}", apiKey: "\${OPENAI_KEY}" }
`;
    const c = parseConfigText(text, 'inline', { OPENAI_KEY: 'sk-live-123' });
    expect(c.providers.openai?.apiKey).toBe('sk-live-123');
    expect(c.providers.openai?.baseUrl).toBe('https://api.openai.com/v1');
  });

  it('reports every bad path at once, with reasons, and never the secret value', () => {
    const text = `
listen: { port: 99999 }
providers:
  openai: { type: openai-compatible, baseUrl: "not a url", apiKey: "\${MISSING_KEY}" }
  anthropic: { type: anthropic, baseUrl: "https://api.anthropic.com", apiKey: "sk-ant-secret-value", colour: blue }
routes:
  fast: { models: [fast], targets: [{ provider: nowhere, model: gpt-4o-mini }] }
`;
    const problems = problemsOf(() => parseConfigText(text, 'bad.yaml', {}));
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['listen.port', 'providers.openai.type', 'providers.openai.baseUrl', 'providers.openai.apiKey', 'providers.anthropic', 'routes.fast.targets[0].provider']),
    );
    expect(problems.find((p) => p.path === 'providers.openai.apiKey')?.message).toMatch(/MISSING_KEY is not set/);
    expect(problems.find((p) => p.path === 'routes.fast.targets[0].provider')?.message).toMatch(/unknown provider "nowhere"/);
    const all = new ConfigError('bad.yaml', problems).message;
    expect(all).not.toContain('sk-ant-secret-value');
  });

  it('trims a provider key read with a trailing newline, and refuses one with a control character or space inside (never echoing it)', () => {
    const c = parseConfigText('providers:\n  openai: { type: openai, baseUrl: "https://api.openai.com/v1", apiKey: "${KEY}" }\n', 'inline', { KEY: 'sk-live-123\n' });
    expect(c.providers.openai?.apiKey).toBe('sk-live-123');
    for (const bad of ['sk-live\r\n-123', 'sk live 123', 'sk-\u0000-123']) {
      const problems = problemsOf(() => parseConfigText('providers:\n  openai: { type: openai, baseUrl: "https://api.openai.com/v1", apiKey: "${KEY}" }\n', 'inline', { KEY: bad }));
      expect(problems.find((p) => p.path === 'providers.openai.apiKey')?.message).toMatch(/printable ASCII/);
      expect(JSON.stringify(problems)).not.toContain('live');
    }
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = problemsOf(() => parseConfigText('listen:\n  port: [1,\n', 'broken.yaml', {}));
    expect(problems[0]?.path).toMatch(/^line \d+, column \d+$/);
  });

  it('rejects unknown top-level keys (typos) and routes without targets', () => {
    const problems = problemsOf(() => parseConfig({ provders: {}, routes: { r: { models: ['x'], targets: [] } } }, 'x', {}));
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['', 'routes.r.targets']));
    expect(problems.find((p) => p.path === '')?.message).toMatch(/provders/);
  });

  it('loads from --config, else LLM_SIDECAR_CONFIG, and says when the file is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'listen: { port: 4100 }\n');
    expect((await loadConfig(file, {})).config.listen.port).toBe(4100);
    expect((await loadConfig(undefined, { LLM_SIDECAR_CONFIG: file })).config.listen.port).toBe(4100);
    await expect(loadConfig(join(dir, 'nope.yaml'), {})).rejects.toThrow(/file not found/);
  });
});
