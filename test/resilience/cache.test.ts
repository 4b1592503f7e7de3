// The response cache through the proxy: tenant scopes, keys that change with the answer, faithful
// stream replay through the official SDKs, JSON⇄stream cross-serving, the stale last resort, the
// shared Redis tier, and a failing store that never fails a request.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SemanticIndex } from '../../proxy/cache/semantic-index.ts';
import { SemanticRedisSync } from '../../proxy/cache/semantic-sync.ts';
import { startRedis, type RedisHandle } from '../support/redis.ts';
import { until } from '../support/wait.ts';
import type { Config } from '../../shared/config/schema.ts';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let redis: RedisHandle | undefined;
const extra: Stack[] = [];

const providers = (url: string) => ({ openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-conf' }, anthropic: { type: 'anthropic', baseUrl: url, apiKey: 'sk-ant-conf' } });

beforeAll(async () => {
  stack = await startStack((url) => ({
    providers: providers(url),
    cache: { mode: 'all', ttlSeconds: 60 },
    routes: { shortlived: { models: ['shortlived'], retry: { maxRetries: 0 }, cache: { ttlSeconds: 1 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  }));
  redis = await startRedis();
});

afterAll(async () => {
  await stack?.close();
  for (const s of extra) await s.close();
  await redis?.stop();
});

const post = (s: Stack, body: object, headers: Record<string, string> = {}) =>
  request(`${s.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.statusCode, headers: r.headers, text: await r.body.text() }));

describe('exact cache', () => {
  it('a repeat hits within a tenant, never across tenants; any answer-changing field misses', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `cache me ${Math.random()}` }] };
    const before = stack.fake.stats.received;
    const a1 = await post(stack, body, { 'x-llm-sidecar-tenant': 'acme' });
    const a2 = await post(stack, body, { 'x-llm-sidecar-tenant': 'acme' });
    const b1 = await post(stack, body, { 'x-llm-sidecar-tenant': 'globex' });
    const t1 = await post(stack, { ...body, temperature: 0.3 }, { 'x-llm-sidecar-tenant': 'acme' });
    expect([a1, a2, b1, t1].map((r) => r.headers['x-llm-sidecar-cache'])).toEqual(['miss', 'hit', 'miss', 'miss']);
    expect(a2.text).toBe(a1.text);
    expect(stack.fake.stats.received - before).toBe(3);
    const hit = await stack.recorder.byRequestId(a2.headers['x-llm-sidecar-request-id'] as string);
    expect(hit).toMatchObject({ cacheStatus: 'hit', attempts: 0, costUsd: '0' });
    expect(hit.savedUsd).toMatch(/^0\.\d+/);
  });

  it('the query string is part of the key: an api-version another request did not send misses', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `query ${Math.random()}` }] };
    const at = (query: string) =>
      request(`${stack.sidecar.url}/v1/chat/completions${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => {
        await r.body.text();
        return r.headers['x-llm-sidecar-cache'];
      });
    expect([await at('?api-version=2024-10-21'), await at('?api-version=2025-04-01-preview'), await at(''), await at('?api-version=2024-10-21')]).toEqual(['miss', 'miss', 'miss', 'hit']);
  });

  it('honours no-store and no-cache', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `headers ${Math.random()}` }] };
    expect((await post(stack, body, { 'x-llm-sidecar-cache': 'no-store' })).headers['x-llm-sidecar-cache']).toBe('bypass');
    expect((await post(stack, body)).headers['x-llm-sidecar-cache']).toBe('miss');
    expect((await post(stack, body, { 'x-llm-sidecar-cache': 'no-cache' })).headers['x-llm-sidecar-cache']).toBe('miss');
    expect((await post(stack, body)).headers['x-llm-sidecar-cache']).toBe('hit');
  });
});

describe('hot reload', () => {
  it('refuses what the running process cannot do without a restart: another cache store, caching or semantic caching turned on', async () => {
    const running = (s: Stack) => (s.sidecar.proxy as unknown as { config: Config }).config;
    const cur = running(stack);
    expect(() => stack.sidecar.reload({ ...cur, cache: { ...cur.cache, store: { type: 'memory', maxBytes: 1024 } } })).toThrow(/cache\.store cannot change without a restart/);
    const semantic = { ...cur, routes: { ...cur.routes, shortlived: { ...cur.routes.shortlived!, cache: { ...cur.routes.shortlived!.cache, semantic: { enabled: true, threshold: 0.8 } } } } };
    expect(() => stack.sidecar.reload(semantic)).toThrow(/semantic/);
    expect(running(stack)).toBe(cur); // the old config keeps serving

    const plain = await startStack((url) => ({ providers: providers(url) }));
    extra.push(plain);
    const off = running(plain);
    expect(() => plain.sidecar.reload({ ...off, cache: { ...off.cache, mode: 'all' } })).toThrow(/no cache store was built at start/);
    // What it can do is still accepted.
    plain.sidecar.reload({ ...off, evaluation: { ...off.evaluation, sampleRate: 0.5 } });
    expect(running(plain).evaluation.sampleRate).toBe(0.5);
  });
});

describe('single flight', () => {
  it('identical non-streaming requests in flight call the provider once; the others are served from its answer', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `herd ${Math.random()}` }] };
    const slow = { 'x-fake-fault': 'delay=300' };
    const before = stack.fake.stats.received;
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(stack, body, slow)));
    expect(stack.fake.stats.received - before).toBe(1);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers.map((a) => a.headers['x-llm-sidecar-cache']).sort()).toEqual(['hit', 'hit', 'hit', 'hit', 'hit', 'hit', 'hit', 'miss']);
    const waited = await stack.recorder.byRequestId(answers.find((a) => a.headers['x-llm-sidecar-cache'] === 'hit')?.headers['x-llm-sidecar-request-id'] as string);
    expect(waited).toMatchObject({ cacheStatus: 'hit', attempts: 0, costUsd: '0' });
    expect(waited.decision).toMatch(/waiting for an identical request/);
  });

  it('streams never wait; when the leading request fails, the waiting ones call the provider themselves', async () => {
    const streamed = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `stream herd ${Math.random()}` }] };
    let before = stack.fake.stats.received;
    const streams = await Promise.all(Array.from({ length: 3 }, () => post(stack, streamed, { 'x-fake-fault': 'delay=200' })));
    expect(streams.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(stack.fake.stats.received - before).toBe(3);

    const failing = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `failing herd ${Math.random()}` }] };
    before = stack.fake.stats.received;
    const failed = await Promise.all(Array.from({ length: 4 }, () => post(stack, failing, { 'x-fake-fault': 'status=503,delay=200' })));
    expect(failed.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    // One leader, then the three that waited for it (an error is not cached): no request hangs or is lost.
    expect(stack.fake.stats.received - before).toBe(4);
  });
});

describe('stream replay', () => {
  it('OpenAI: a replayed stream with tool calls gives the SDK the identical message; a JSON request is served from it', async () => {
    const client = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const params = {
      model: 'gpt-4o',
      messages: [{ role: 'user' as const, content: `weather ${Math.random()}` }],
      tools: [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
    };
    const first = await client.chat.completions.stream(params).finalChatCompletion();
    const { data: stream, response } = await client.chat.completions.create({ ...params, stream: true }).withResponse();
    expect(response.headers.get('x-llm-sidecar-cache')).toBe('hit');
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(3); // event by event, not one blob
    const again = await client.chat.completions.stream(params).finalChatCompletion();
    expect(again.choices[0]?.message.tool_calls).toEqual(first.choices[0]?.message.tool_calls);
    const json = await client.chat.completions.create(params);
    expect(json.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'get_weather', arguments: first.choices[0]?.message.tool_calls?.[0]?.type === 'function' ? first.choices[0].message.tool_calls[0].function.arguments : '' } });
  });

  it('Anthropic: thinking and text survive a replay; a stream request is served from a JSON entry', async () => {
    const client = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'k', maxRetries: 0 });
    const params = { model: 'claude-sonnet-4-6', max_tokens: 2048, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: `think ${Math.random()}` }] };
    const first = await client.messages.stream(params).finalMessage();
    const replayed = await client.messages.stream(params).finalMessage();
    expect(replayed.content).toEqual(first.content);
    expect(replayed.usage.output_tokens).toBe(first.usage.output_tokens);
    const jsonFirst = { ...params, messages: [{ role: 'user' as const, content: `json first ${Math.random()}` }] };
    const j = await client.messages.create(jsonFirst);
    const s = await client.messages.stream(jsonFirst).finalMessage();
    expect(s.content).toEqual(j.content);
  });
});

describe('stale cache, the last fallback level', () => {
  it('serves an expired entry marked stale when every target fails', async () => {
    const body = { model: 'shortlived', messages: [{ role: 'user', content: `stale ${Math.random()}` }] };
    const fresh = await post(stack, body);
    expect(fresh.status).toBe(200);
    // Time passing is the behaviour here (the sidecar has no injectable clock): ≥ the 1 s TTL.
    await new Promise((r) => setTimeout(r, 1_100));
    const stale = await post(stack, body, { 'x-fake-fault': 'status=503' });
    expect(stale.status).toBe(200);
    expect(stale.headers['x-llm-sidecar-cache']).toBe('stale');
    expect(stale.text).toBe(fresh.text);
  });
});

describe('shared Redis tier', () => {
  it('two sidecars share entries; with Redis stopped, requests are still served, uncached', async () => {
    const cfg = (url: string) => ({ providers: providers(url), cache: { mode: 'all', store: { type: 'redis', url: redis!.url } } });
    const a = await startStack(cfg);
    const b = await startStack(cfg);
    extra.push(a, b);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `shared ${Math.random()}` }] };
    expect((await post(a, body)).headers['x-llm-sidecar-cache']).toBe('miss');
    await expect.poll(async () => (await post(b, body)).headers['x-llm-sidecar-cache'], { timeout: 3_000 }).toBe('hit');
    await redis!.stop();
    const down = await post(a, { ...body, messages: [{ role: 'user', content: 'redis is down' }] });
    expect(down.status).toBe(200);
    expect(down.headers['x-llm-sidecar-cache']).toBe('miss');
    await redis!.stop();
    redis = await startRedis();
  });
});

describe('semantic cache', () => {
  it('a paraphrase in the same context is a semantic hit; a negation or another number is not', async () => {
    const s = await startStack((url) => ({
      providers: providers(url),
      routes: { faq: { models: ['faq'], cache: { mode: 'all', semantic: { enabled: true } }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
    }));
    extra.push(s);
    const ask = (q: string) => post(s, { model: 'faq', messages: [{ role: 'system', content: 'You answer billing questions.' }, { role: 'user', content: q }] });
    const first = await ask('How do I cancel my subscription?');
    expect(first.headers['x-llm-sidecar-cache']).toBe('miss');
    // The index learns the entry once it is written.
    await expect.poll(async () => (await ask('How can I cancel my subscription?')).headers['x-llm-sidecar-cache'], { timeout: 20_000, interval: 200 }).toBe('semantic-hit');
    const para = await ask('How can I cancel my subscription?');
    expect(para.text).toBe(first.text);
    expect((await ask('How do I not cancel my subscription?')).headers['x-llm-sidecar-cache']).toBe('miss');
    const n1 = await ask('Can I get a refund within 14 days?');
    expect(n1.headers['x-llm-sidecar-cache']).toBe('miss');
    // Once the index has learned the 14-day question (a paraphrase of it hits), 30 days still misses.
    await expect.poll(async () => (await ask('Could I get a refund within 14 days?')).headers['x-llm-sidecar-cache'], { timeout: 20_000, interval: 200 }).toBe('semantic-hit');
    expect((await ask('Can I get a refund within 30 days?')).headers['x-llm-sidecar-cache']).toBe('miss');
  }, 60_000);
});

describe('the watch on semantic hits', () => {
  it('a sampled semantic hit is recorded with what it matched, its similarity and the answer served, for the cache_equivalence judge', async () => {
    const s = await startStack((url) => ({
      providers: providers(url),
      routes: { faq: { models: ['faq'], cache: { mode: 'all', semantic: { enabled: true } }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
      evaluation: { sampleRate: 1, captureContent: true },
    }));
    extra.push(s);
    const ask = (q: string) => post(s, { model: 'faq', messages: [{ role: 'system', content: 'You answer billing questions.' }, { role: 'user', content: q }] });
    const first = await ask('How do I cancel my subscription?');
    let hit = first;
    await expect.poll(async () => (hit = await ask('How can I cancel my subscription?')).headers['x-llm-sidecar-cache'], { timeout: 20_000, interval: 200 }).toBe('semantic-hit');
    const record = await s.recorder.byRequestId(hit.headers['x-llm-sidecar-request-id'] as string);
    expect(record).toMatchObject({ cacheStatus: 'semantic-hit', evalSampled: true, semanticMatch: { question: 'How do I cancel my subscription?' } });
    expect(record.semanticMatch?.similarity).toBeGreaterThan(0.85);
    const answer = (JSON.parse(first.text) as { choices: { message: { content: string } }[] }).choices[0]?.message.content;
    expect(JSON.stringify(record.content?.output)).toContain(JSON.stringify(answer).slice(1, -1));
    expect(JSON.stringify(record.content?.input)).toContain('How can I cancel my subscription?');
    await s.sidecar.flush();
    const op = s.spans.getFinishedSpans().find((sp) => sp.attributes['llm_sidecar.cache.status'] === 'semantic-hit' && sp.attributes['gen_ai.operation.name'] === 'chat');
    expect(op?.attributes['llm_sidecar.cache.semantic.similarity']).toBeGreaterThan(0.85);
    expect(op?.attributes['llm_sidecar.cache.semantic.matched_question']).toBe('How do I cancel my subscription?');
    // Exact hits repeat the stored answer to the same question: nothing to judge, never sampled.
    const exact = await ask('How do I cancel my subscription?');
    expect(exact.headers['x-llm-sidecar-cache']).toBe('hit');
    expect((await s.recorder.byRequestId(exact.headers['x-llm-sidecar-request-id'] as string)).evalSampled).toBe(false);
  }, 60_000);
});

describe('semantic entries shared through Redis', () => {
  it('a sidecar answers a paraphrase from what another sidecar learned, also one started later', async () => {
    const cfg = (url: string) => ({
      providers: providers(url),
      cache: { store: { type: 'redis', url: redis!.url } },
      routes: { faq: { models: ['faq'], cache: { mode: 'all', semantic: { enabled: true } }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
    });
    const a = await startStack(cfg);
    extra.push(a);
    const ask = (s: Stack, q: string) => post(s, { model: 'faq', messages: [{ role: 'user', content: q }] });
    expect((await ask(a, 'What is the capital of France?')).headers['x-llm-sidecar-cache']).toBe('miss');
    // Wait until the entry is in Redis: a fresh index (the sidecar's embedder, 512 dimensions) warms with it.
    const probe = new SemanticRedisSync({ url: redis!.url, embedderId: 'use-lite-512' });
    try {
      await until('the learned entry is published to Redis', async () => (await probe.warm(new SemanticIndex({ dims: 512 }))) > 0, { timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      await probe.close();
    }
    // Started after the entry was learned: warms its index from Redis at start.
    const b = await startStack(cfg);
    extra.push(b);
    await expect.poll(async () => (await ask(b, "What's the capital of France?")).headers['x-llm-sidecar-cache'], { timeout: 20_000, interval: 250 }).toBe('semantic-hit');
  }, 60_000);
});
