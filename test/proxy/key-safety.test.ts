// The key-safety guarantees one by one (docs/security.md): the edge check on request targets, the
// URL builder's last line of defence, the config rule on credentials (load and hot reload), the key
// masker, and the time limits on slow clients.
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/config/load.ts';
import { SidecarError } from '../../shared/errors.ts';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import { checkRequestTarget } from '../../proxy/request-target.ts';
import { SecretMasker } from '../../proxy/secret-mask.ts';
import { upstreamUrl } from '../../proxy/upstream.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.ts';

describe('request targets at the edge', () => {
  it.each([
    ['/v1/chat/completions', '/v1/chat/completions', ''],
    ['/v1/models?limit=2&after=a%2Fb', '/v1/models', '?limit=2&after=a%2Fb'],
    ['/v1/files/file-%41bc', '/v1/files/file-Abc', ''],
    ['/v1/files/a%20b', '/v1/files/a%20b', ''],
    ['/v1/files/%252e%252e', '/v1/files/%252e%252e', ''],
    ['/v1/files/..x/x..', '/v1/files/..x/x..', ''],
    ["/v1/a:b@c!$&'()*+,;=", "/v1/a:b@c!$&'()*+,;=", ''],
  ])('serves %s', (raw, path, search) => {
    expect(checkRequestTarget(raw)).toEqual({ path, search });
  });

  it.each([
    'http://evil.example/v1/models',
    'https://127.0.0.1/v1/models',
    '//evil.example/v1/models',
    'evil.example:443',
    '*',
    '',
    '/v1/../x',
    '/v1/./x',
    '/v1/..',
    '/..',
    '/v1/%2e%2e/x',
    '/v1/%2E./x',
    '/v1/.%2e',
    '/v1/%2e',
    '/v1/a%2fb',
    '/v1/a%2Fb',
    '/v1/a%5cb',
    '/v1/a\\b',
    '/v1/a%00',
    '/v1/a%0a',
    '/v1/a%7f',
    '/v1/a%g0',
    '/v1/a%',
    '/v1/a b',
    '/v1/a#b',
    '/v1/a?b#c',
    '/v1/a?b\r\nc',
    '/v1/\u00e9',
    '/v1/{x}',
  ])('refuses %j with LLM_SIDECAR_BAD_REQUEST_TARGET', (raw) => {
    expect(() => checkRequestTarget(raw)).toThrowError(expect.objectContaining({ code: 'LLM_SIDECAR_BAD_REQUEST_TARGET', status: 400 }) as Error);
  });
});

describe('upstream URLs', () => {
  const gw = { origin: 'https://gw.example.com', basePath: '/tenant-a/v1' };

  it('joins the base path without doubling /v1', () => {
    expect(upstreamUrl(gw, '/v1/chat/completions?x=1')).toBe('/tenant-a/v1/chat/completions?x=1');
    expect(upstreamUrl(gw, '/v1/models')).toBe('/tenant-a/v1/models');
    expect(upstreamUrl({ origin: 'https://api.anthropic.com', basePath: '' }, '/v1/messages')).toBe('/v1/messages');
  });

  // The assertion is the last line of defence: it holds even for paths the edge check would refuse.
  it.each(['/v1/../../admin', '/v1/%2e%2e/%2e%2e/admin', '/v1/..\\..\\admin'])('throws on %j instead of leaving the base path', (path) => {
    expect(() => upstreamUrl(gw, path)).toThrow(SidecarError);
  });

  it('throws on a path that would name another host', () => {
    expect(() => upstreamUrl({ origin: 'https://api.anthropic.com', basePath: '' }, '//evil.example/x')).toThrow(SidecarError);
  });

  it('a pool target remembers only paths that passed the assertion', () => {
    const pooled = { ...gw, paths: new Map<string, string>() };
    expect(upstreamUrl(pooled, '/v1/models')).toBe('/tenant-a/v1/models');
    expect(() => upstreamUrl(pooled, '/v1/../../admin')).toThrow(SidecarError);
    expect(() => upstreamUrl(pooled, '/v1/../../admin')).toThrow(SidecarError);
    expect([...pooled.paths.keys()]).toEqual(['/v1/models']);
  });

  it('throws for a base path that the result would not stay under', () => {
    expect(() => upstreamUrl({ origin: 'https://gw.example.com', basePath: '/tenant-a' }, '/../tenant-b/x')).toThrow(/base URL/);
  });
});

describe('credentials follow the provider (config)', () => {
  const providers = {
    oa: { type: 'openai', baseUrl: 'https://api.openai.com/v1' },
    an: { type: 'anthropic', baseUrl: 'https://api.anthropic.com' },
    gw: { type: 'openai', baseUrl: 'https://gw.example.com/v1' },
    anKeyed: { type: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKey: 'sk-ant-configured-xxxxxxxx' },
  };

  it('refuses a fallback to another vendor without its own key, naming the route and target', () => {
    const load = () => parseConfig({ providers, routes: { chat: { targets: [{ provider: 'oa' }, { provider: 'an' }] } } });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/routes\.chat\.targets\[1\]: route "chat" could send the app's own credentials to provider "an"/);
  });

  it('refuses a fallback to another host of the same API without its own key', () => {
    expect(() => parseConfig({ providers, routes: { chat: { targets: [{ provider: 'oa' }, { provider: 'gw' }] } } })).toThrow(/provider "gw"/);
  });

  it('follows nested routes', () => {
    expect(() => parseConfig({ providers, routes: { inner: { targets: [{ provider: 'an' }] }, outer: { targets: [{ provider: 'oa' }, { route: 'inner' }] } } })).toThrow(
      /routes\.outer\.targets\[1\]: .*provider "an" \(through route "inner"\)/,
    );
  });

  it('accepts keyless targets of the addressed provider and keyed targets anywhere', () => {
    expect(() =>
      parseConfig({
        providers,
        routes: {
          chat: { targets: [{ provider: 'oa', model: 'gpt-4o' }, { provider: 'oa', model: 'gpt-4o-mini' }, { provider: 'anKeyed' }] },
          claude: { targets: [{ provider: 'an' }] },
        },
      }),
    ).not.toThrow();
  });
});

describe('a running sidecar', () => {
  let up: RecordingUpstream;
  let sidecar: RunningSidecar;
  const base = () => ({
    listen: { host: '127.0.0.1', port: 0, headersTimeoutMs: 400, bodyTimeoutMs: 400 },
    admin: { host: '127.0.0.1', port: 0 },
    telemetry: { clickhouse: { mode: 'off' } },
  });
  const good = () =>
    parseConfig({
      ...base(),
      providers: { oa: { type: 'openai', baseUrl: `${up.url}/v1` }, an: { type: 'anthropic', baseUrl: up.url, apiKey: 'sk-ant-configured-zzzzzzzzzz' } },
      routes: { chat: { targets: [{ provider: 'oa' }, { provider: 'an' }] } },
    });

  beforeAll(async () => {
    up = await startRecordingUpstream();
    sidecar = await startSidecar(good());
  });
  afterAll(async () => {
    await sidecar?.close(500);
    await up?.close();
  });

  it('refuses a hot reload that would send the app key elsewhere, and keeps serving the old config', async () => {
    const bad = good();
    delete bad.providers.an?.apiKey;
    expect(() => sidecar.reload(bad)).toThrow(/provider "an"/);
    const res = await request(`${sidecar.url}/v1/models`, { headers: { authorization: 'Bearer sk-app-key-123456' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers a method no provider API uses with 405 and Allow', async () => {
    const res = await request(`${sidecar.url}/v1/models`, { method: 'TRACE' as 'GET' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, POST, DELETE');
    expect(res.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_METHOD_NOT_ALLOWED');
    await res.body.dump();
  });

  it('cuts a body trickled byte by byte with a 408 of its own', async () => {
    const before = up.requests.length;
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(sidecar.proxyAddress.port, '127.0.0.1');
      let buf = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (buf += d));
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(buf);
      });
      socket.on('error', () => {});
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
      // The client's pace, not a synchronisation: one byte every 50 ms, far slower than the limit allows.
      const trickle = setInterval(() => {
        if (!socket.destroyed) socket.write(' ');
      }, 50);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('LLM_SIDECAR_REQUEST_TIMEOUT');
    expect(up.requests.length).toBe(before);
  });

  it('closes a connection whose headers never finish', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(sidecar.proxyAddress.port, '127.0.0.1');
      let buf = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (buf += d));
      socket.on('close', () => resolve(buf));
      socket.on('error', () => {});
      socket.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('the key masker', () => {
  const key = 'sk-configured-0123456789abcdef';
  const m = new SecretMasker([key, undefined, 'short']);

  it('masks every occurrence with the same length and leaves other bytes alone', () => {
    const buf = Buffer.from(`{"a":"${key}","b":"x${key}y"}`);
    const out = m.maskBuffer(buf);
    expect(out.length).toBe(buf.length);
    expect(out.toString()).toBe(`{"a":"${'*'.repeat(key.length)}","b":"x${'*'.repeat(key.length)}y"}`);
    const clean = Buffer.from('{"a":"short"}');
    expect(m.maskBuffer(clean)).toBe(clean); // keys under 8 characters are not searched
  });

  it('finds a key split across chunks, at every split point', () => {
    const text = `before ${key} after`;
    for (let cut = 1; cut < text.length; cut++) {
      const s = m.stream();
      const out = Buffer.concat([s.push(Buffer.from(text.slice(0, cut))), s.push(Buffer.from(text.slice(cut))), s.end()]).toString();
      expect(out).toBe(`before ${'*'.repeat(key.length)} after`);
    }
  });

  it('masks header values', () => {
    expect(m.maskHeaders({ 'x-echo': `Bearer ${key}`, 'set-cookie': [`k=${key}`] })).toEqual({ 'x-echo': `Bearer ${'*'.repeat(key.length)}`, 'set-cookie': [`k=${'*'.repeat(key.length)}`] });
  });
});
