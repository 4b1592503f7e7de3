// Hostile or mistaken configuration (shared/config/load.ts). Before the fixes: a provider baseUrl
// with credentials, a query, a fragment, a backslash or a dot-segment was accepted and the proxy
// silently dropped those parts (user:pass@ never sent, ?api-version= never sent, /a/../b/v1 sent to
// /b/v1: measured with a recording upstream); `--config` naming a FIFO blocked start-up (and hot
// reload) for ever, a device such as /dev/zero was read until memory ran out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, MAX_CONFIG_BYTES, parseConfig, parseConfigText } from '../../shared/config/load.ts';

const base = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };
const withBaseUrl = (baseUrl: string) => () => parseConfig({ ...base, providers: { openai: { type: 'openai', baseUrl } } });

describe('provider base URLs in the one form the proxy can use', () => {
  it('refuses credentials, a query, a fragment, a backslash and dot-segments, naming the path', () => {
    const refused: [string, RegExp][] = [
      ['https://user:pass@api.openai.com/v1', /providers\.openai\.baseUrl: must not carry credentials/],
      ['https://:sk-secret@api.openai.com/v1', /must not carry credentials/],
      ['https://api.openai.com/v1?api-version=1', /must not have a query or a fragment/],
      ['https://api.openai.com/v1#x', /must not have a query or a fragment/],
      ['https://api.openai.com/v1?', /must not have a query or a fragment/],
      ['https://api.openai.com\\@evil.example/v1', /must not contain a backslash/],
      ['https://gw.example/tenant-a/../tenant-b/v1', /must not contain \. or \.\. segments/],
      ['https://gw.example/tenant-a/%2e%2e/tenant-b/v1', /must not contain \. or \.\. segments/],
      ['https://gw.example/./v1', /must not contain \. or \.\. segments/],
    ];
    for (const [url, message] of refused) {
      expect(withBaseUrl(url), url).toThrow(ConfigError);
      expect(withBaseUrl(url), url).toThrow(message);
    }
    // The secret of a userinfo is not echoed in the message.
    expect(withBaseUrl('https://:sk-secret@api.openai.com/v1')).not.toThrow(/sk-secret/);
  });

  it('accepts ordinary base URLs (ports, base paths, trailing slash, dots inside names)', () => {
    for (const url of ['https://api.openai.com/v1', 'http://127.0.0.1:8080/tenant-a/v1/', 'https://gw.example/v1.2/a..b', 'https://api.anthropic.com']) {
      expect(withBaseUrl(url)().providers.openai?.baseUrl, url).toBe(url);
    }
  });

  it('checks every baseUrl of the file (the semantic cache embedder too)', () => {
    expect(() => parseConfig({ ...base, cache: { embedder: { type: 'openai', baseUrl: 'https://u:p@emb.example/v1', model: 'm' } } })).toThrow(/cache\.embedder\.baseUrl: must not carry credentials/);
  });

  it('held: an environment value is not expanded again and cannot add YAML structure', () => {
    const config = parseConfigText('providers:\n  openai: {type: openai, baseUrl: "${GW}", apiKey: "${KEY}"}\n', 'env', { GW: 'https://gw.example/v1', KEY: 'sk-${HOME}' });
    expect(config.providers.openai?.apiKey).toBe('sk-${HOME}');
    // Interpolation runs after the YAML parse, on string values: an environment value cannot add keys.
    const inject = () => parseConfigText('providers:\n  openai: {type: openai, baseUrl: "https://gw.example/v1", apiKey: "${KEY}"}\n', 'env', { KEY: 'k"}\n  evil: {type: openai, baseUrl: "https://evil.example/v1"' });
    expect(inject).toThrow(/providers\.openai\.apiKey: must be printable ASCII/);
    expect(inject).not.toThrow(/evil/);
  });

  it('held: YAML alias bombs are refused by the parser', () => {
    const lol = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`)].join('\n');
    expect(() => parseConfigText(lol, 'lol')).toThrow(/resource exhaustion/);
  });
});

describe('the configuration file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-config-'));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'listen: {host: 127.0.0.1, port: 0}\n');

  it('refuses a FIFO without waiting for a writer, a device, a directory and an oversized file', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(loadConfig(fifo)).rejects.toThrow(/not a regular file/);
    await expect(loadConfig('/dev/zero')).rejects.toThrow(/not a regular file/);
    await expect(loadConfig(dir)).rejects.toThrow(ConfigError);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\nlisten: {port: 0}\n`);
    await expect(loadConfig(big)).rejects.toThrow(/a configuration is at most/);
  });

  it('held: follows symlinks (Kubernetes ConfigMap mounts) and reports a missing file', async () => {
    const link = join(dir, 'link.yaml');
    symlinkSync(good, link);
    expect((await loadConfig(link)).config.listen.host).toBe('127.0.0.1');
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/file not found/);
  });
});
