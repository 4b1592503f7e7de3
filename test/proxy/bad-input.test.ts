// Bad input and failing providers: precise errors in the API's own shape, marked as the sidecar's,
// and the process keeps serving. Client disconnects abort the upstream and leave nothing behind.
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let broken: Stack;

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  stack = await startStack((url) => ({
    listen: { host: '127.0.0.1', port: 0, maxBodyBytes: 4096 },
    providers: {
      openai: { type: 'openai', baseUrl: `${url}/v1`, timeouts: { headersMs: 300 } },
      anthropic: { type: 'anthropic', baseUrl: url },
    },
  }));
  const dead = await closedPort();
  broken = await startStack(() => ({
    providers: { openai: { type: 'openai', baseUrl: `http://127.0.0.1:${dead}/v1` }, anthropic: { type: 'anthropic', baseUrl: `http://127.0.0.1:${dead}` } },
  }));
});

afterAll(async () => {
  await stack?.close();
  await broken?.close();
});

async function post(base: string, path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> };
}

describe('bad input', () => {
  it('malformed JSON → 400 in the OpenAI shape with a stable code', async () => {
    const r = await post(stack.sidecar.url, '/v1/chat/completions', '{"model": "gpt-4o", "messages": [');
    expect(r.status).toBe(400);
    expect(r.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_INVALID_JSON');
    expect(r.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'LLM_SIDECAR_INVALID_JSON', param: null } });
    expect((r.json.error as { message: string }).message).toMatch(/not valid JSON/);
    expect(stack.fake.requests.some((q) => q.rawBody.toString() === '{"model": "gpt-4o", "messages": [')).toBe(false);
  });

  it('malformed JSON on the Anthropic API → 400 in the Anthropic shape; the SDK sees BadRequestError', async () => {
    const r = await post(stack.sidecar.url, '/v1/messages', 'nope');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/not valid JSON/) } });
    const client = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: '', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('LLM_SIDECAR_INVALID_REQUEST');
  });

  it('a body that is not an object, or has no model → 400', async () => {
    expect((await post(stack.sidecar.url, '/v1/chat/completions', '[1,2]')).json).toMatchObject({ error: { code: 'LLM_SIDECAR_INVALID_REQUEST' } });
    const r = await post(stack.sidecar.url, '/v1/messages', '{"max_tokens":5,"messages":[]}');
    expect(r.status).toBe(400);
    expect((r.json.error as { message: string }).message).toMatch(/"model" is required/);
  });

  it('a body over the configured limit → 413, declared or streamed', async () => {
    const big = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }));
    const r = await post(stack.sidecar.url, '/v1/chat/completions', big);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ error: { code: 'LLM_SIDECAR_BODY_TOO_LARGE' } });
    const chunked = await request(`${stack.sidecar.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from([big.subarray(0, 3000), big.subarray(3000)]),
    });
    expect(chunked.statusCode).toBe(413);
    expect(await chunked.body.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
  });

  it('unknown route header → 400 naming the configured routes', async () => {
    const r = await post(stack.sidecar.url, '/v1/chat/completions', '{"model":"gpt-4o","messages":[]}', { 'x-llm-sidecar-route': 'nope' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'LLM_SIDECAR_UNKNOWN_ROUTE' } });
  });
});

describe('failing providers', () => {
  it('unreachable upstream → 502 with a code, for both APIs and for pass-through paths', async () => {
    const a = await post(broken.sidecar.url, '/v1/chat/completions', '{"model":"gpt-4o","messages":[]}');
    expect(a.status).toBe(502);
    expect(a.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_UPSTREAM_UNREACHABLE');
    expect((a.json.error as { message: string }).message).toMatch(/provider "openai" is unreachable \(ECONNREFUSED\)/);
    const b = await post(broken.sidecar.url, '/v1/messages', '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}', { 'anthropic-version': '2023-06-01' });
    expect(b.json).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringMatching(/unreachable/) } });
    const c = await request(`${broken.sidecar.url}/v1/models`);
    expect(c.statusCode).toBe(502);
    await c.body.text();
    const record = await broken.recorder.waitFor((r) => r.errorCode === 'LLM_SIDECAR_UPSTREAM_UNREACHABLE');
    expect(record.httpStatus).toBe(502);
  });

  it('the official SDK surfaces a 502 from the sidecar as its own typed error', async () => {
    const client = new Anthropic({ baseURL: broken.sidecar.url, apiKey: 'k', maxRetries: 0 });
    const err = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_UPSTREAM_UNREACHABLE');
  });

  it('a provider slower than the headers timeout → 504', async () => {
    const r = await post(stack.sidecar.url, '/v1/chat/completions', '{"model":"gpt-4o","messages":[]}', { 'x-fake-fault': 'delay=1500' });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ error: { code: 'LLM_SIDECAR_UPSTREAM_TIMEOUT' } });
  });

  it('a stream cut mid-answer ends with an error event, never a clean end: the SDK throws', async () => {
    const openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'one two three four five six' }] }, { headers: { 'x-fake-fault': 'cut=3' } });
    const got: string[] = [];
    const err = await (async () => {
      for await (const c of stream) got.push(c.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/cut before it completed/);
    expect(got.length).toBeGreaterThan(0);
    const anthropic = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'k', maxRetries: 0 });
    const aerr = await anthropic.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'one two three four' }] }, { headers: { 'x-fake-fault': 'cut=4' } })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(aerr).toBeInstanceOf(Anthropic.APIError);
    const record = await stack.recorder.waitFor((r) => r.errorCode === 'LLM_SIDECAR_UPSTREAM_STREAM_CUT' && r.dialect === 'anthropic');
    expect(record.completed).toBe(false);
    expect(record.usage?.inputTokens).toBeGreaterThan(0);
  });
});

describe('client disconnects', () => {
  it('aborts the upstream request and leaks no sockets or in-flight work', async () => {
    const N = 20;
    const connections = (): Promise<number> => new Promise<number>((r) => stack.sidecar.proxy.server.getConnections((_e, n) => r(n)));
    // Other tests' SDK clients may hold idle keep-alive connections: compare against those.
    const connectionsBefore = await connections();
    const abortedBefore = stack.fake.stats.aborted;
    const agent = new Agent();
    await Promise.all(
      Array.from({ length: N }, async () => {
        const ac = new AbortController();
        const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
          method: 'POST',
          dispatcher: agent,
          signal: ac.signal,
          headers: { 'content-type': 'application/json', 'x-fake-fault': 'chunk-delay=50,words=200' },
          body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'long answer please' }] }),
        });
        // Read the first chunk, then walk away.
        for await (const _ of res.body) break;
        ac.abort();
      }),
    );
    await agent.close();
    await expect.poll(() => stack.fake.stats.aborted - abortedBefore, { timeout: 5_000 }).toBe(N);
    const records = await Promise.all(Array.from({ length: N }, (_, i) => stack.recorder.waitFor((r) => r.clientAborted && stack.recorder.calls.filter((c) => c.clientAborted).length > i)));
    expect(records.every((r) => r.completed === false)).toBe(true);
    await expect.poll(connections, { timeout: 5_000 }).toBe(connectionsBefore);
    // No upstream request is still running or queued in the sidecar's pools.
    await expect.poll(() => Object.values(stack.sidecar.proxy.upstreamStats()).every((s) => s.running === 0 && s.pending === 0), { timeout: 5_000 }).toBe(true);
  });
});
