// Byte-faithful forwarding, auth handling and pass-through of paths the sidecar does not parse.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let keyed: Stack;

beforeAll(async () => {
  stack = await startStack();
  keyed = await startStack((url) => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-configured-openai' },
      anthropic: { type: 'anthropic', baseUrl: url, apiKey: 'sk-ant-configured' },
    },
    routes: { fast: { models: ['fast'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  }));
});

afterAll(async () => {
  await stack?.close();
  await keyed?.close();
});

describe('byte-faithful forwarding', () => {
  it('sends the app’s body bytes and end-to-end headers unchanged', async () => {
    // Odd spacing, key order, escapes and a cache_control block: all must arrive exactly as written.
    const body = '{\n  "max_tokens" : 64,\n  "model":"claude-sonnet-4-6",\n  "system":[{"type":"text","text":"caf\\u00e9 ☕","cache_control":{"type":"ephemeral","ttl":"1h"}}],\n  "messages":[{"role":"user","content":"hi"}]\n}';
    const res = await request(`${stack.sidecar.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-ant-app-key',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'prompt-caching-2024-07-31,extended-cache-ttl-2025-04-11',
        'x-custom-app-header': 'kept',
        'x-llm-sidecar-tenant': 'acme',
        'x-llm-sidecar-user': 'u1',
        'x-llm-sidecar-feature': 'summaries',
      },
      body,
    });
    expect(res.statusCode).toBe(200);
    await res.body.json();
    const seen = stack.fake.requests.at(-1);
    expect(seen?.rawBody.toString('utf8')).toBe(body);
    expect(seen?.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen?.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,extended-cache-ttl-2025-04-11');
    expect(seen?.headers['x-custom-app-header']).toBe('kept');
    expect(seen?.headers['x-api-key']).toBe('sk-ant-app-key');
    expect(Object.keys(seen?.headers ?? {}).filter((h) => h.startsWith('x-llm-sidecar'))).toEqual([]);
    const record = await stack.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    expect(record).toMatchObject({ tenant: 'acme', user: 'u1', feature: 'summaries' });
  });

  it('keeps openai-organization and the app’s bearer key when no key is configured', async () => {
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app', 'openai-organization': 'org-123', 'openai-project': 'proj_9' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    });
    await res.body.text();
    const seen = stack.fake.requests.at(-1);
    expect(seen?.headers.authorization).toBe('Bearer sk-app');
    expect(seen?.headers['openai-organization']).toBe('org-123');
    expect(seen?.headers['openai-project']).toBe('proj_9');
  });

  it('injects the configured key and drops the app’s, for both APIs', async () => {
    await (await request(`${keyed.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-app-should-vanish', 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[]}' })).body.text();
    expect(keyed.fake.requests.at(-1)?.headers.authorization).toBe('Bearer sk-configured-openai');
    await (await request(`${keyed.sidecar.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'sk-ant-app-should-vanish', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' })).body.text();
    expect(keyed.fake.requests.at(-1)?.headers['x-api-key']).toBe('sk-ant-configured');
    expect(JSON.stringify(keyed.fake.requests.at(-1)?.headers)).not.toContain('should-vanish');
  });

  it('maps a model alias to the route’s model and reports it', async () => {
    const res = await request(`${keyed.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"fast","messages":[{"role":"user","content":"x"}]}' });
    const json = (await res.body.json()) as { model: string };
    expect((keyed.fake.requests.at(-1)?.json as { model: string }).model).toBe('gpt-4o-mini');
    expect(json.model).toBe('gpt-4o-mini');
    expect(res.headers['x-llm-sidecar-model']).toBe('gpt-4o-mini');
    const record = await keyed.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    expect(record).toMatchObject({ route: 'fast', requestModel: 'fast', upstreamModel: 'gpt-4o-mini' });
  });

  it('passes unknown paths through untouched: method, path, query, headers and body', async () => {
    const payload = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const res = await request(`${stack.sidecar.url}/v1/echo-path/files/abc?purpose=batch&x=%20y`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-app', 'content-type': 'application/octet-stream', 'x-thing': '1' },
      body: payload,
    });
    expect(res.statusCode).toBe(200);
    const echo = (await res.body.json()) as { method: string; path: string; query: string; headers: Record<string, string>; bodyLength: number };
    expect(echo.method).toBe('POST');
    expect(echo.path).toBe('/v1/echo-path/files/abc');
    expect(echo.query).toContain('purpose=batch&x=%20y');
    expect(echo.headers['x-thing']).toBe('1');
    expect(echo.bodyLength).toBe(payload.length);
    expect(stack.fake.requests.at(-1)?.rawBody.equals(payload)).toBe(true);
  });

  it('serves the health endpoints on the admin listener', async () => {
    expect((await request(`${stack.sidecar.adminUrl}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${stack.sidecar.adminUrl}/readyz`);
    expect(ready.statusCode).toBe(200);
    await ready.body.text();
    const metrics = await (await request(`${stack.sidecar.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/llm_sidecar_requests_total\{route="default",provider="anthropic",model="claude-sonnet-4-6",status="2xx"\} \d+/);
    expect(metrics).toMatch(/llm_sidecar_overhead_seconds_count \d+/);
  });
});
