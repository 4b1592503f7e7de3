// Retries, timeouts, breakers, fallback and cascade against real faults, through the official SDK.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { startStack, type Stack } from '../stack.ts';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream.ts';

let fake: FakeProvider;
let scripted: ScriptedUpstream;
let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeProvider();
  scripted = await startScriptedUpstream();
  stack = await startStack(() => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${fake.url}/v1` },
      scripted: { type: 'openai', baseUrl: `${scripted.url}/v1` },
    },
    routes: {
      ratelimited: { retry: { maxRetries: 1 }, targets: [{ provider: 'openai', model: 'gpt-4o-fake-error-429' }, { provider: 'openai', model: 'gpt-4o-mini' }] },
      failing: { retry: { maxRetries: 1, baseMs: 10 }, targets: [{ provider: 'openai', model: 'gpt-4o-fake-error-500' }, { provider: 'openai', model: 'gpt-4o-mini' }] },
      slow: { retry: { maxRetries: 0 }, timeouts: { firstTokenMs: 200 }, targets: [{ provider: 'openai', model: 'gpt-4o-fake-slow-3000' }, { provider: 'openai', model: 'gpt-4o-mini' }] },
      cutfirst: { retry: { maxRetries: 0 }, targets: [{ provider: 'openai', model: 'gpt-4o-fake-cut-1' }, { provider: 'openai', model: 'gpt-4o-mini' }] },
      breaker: {
        retry: { maxRetries: 0 },
        breaker: { minRequests: 4, failureRatio: 0.5, windowMs: 10_000, cooldownMs: 300 },
        targets: [{ provider: 'scripted', model: 'flaky' }, { provider: 'scripted', model: 'backup' }],
      },
      budget: { retry: { maxRetries: 3, baseMs: 1, maxMs: 2, budgetRatio: 0.1 }, breaker: { minRequests: 1000 }, targets: [{ provider: 'scripted', model: 'always-down' }] },
      doomed: { retry: { maxRetries: 0 }, breaker: { minRequests: 2, cooldownMs: 60_000 }, targets: [{ provider: 'scripted', model: 'always-down' }] },
      cascade: {
        strategy: 'cascade',
        retry: { maxRetries: 0 },
        targets: [
          { provider: 'scripted', model: 'cheap-bad-json' },
          { provider: 'scripted', model: 'cheap-wrong-schema' },
          { provider: 'scripted', model: 'strong' },
        ],
      },
      cascade400: { strategy: 'cascade', retry: { maxRetries: 0 }, targets: [{ provider: 'scripted', model: 'cheap-400' }, { provider: 'scripted', model: 'strong' }] },
      weighted: { strategy: 'weighted', targets: [{ provider: 'scripted', model: 'w-a', weight: 3 }, { provider: 'scripted', model: 'w-b', weight: 1 }] },
    },
  }));
  client = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  scripted.behaviour.set('always-down', { kind: 'status', status: 503 });
  scripted.behaviour.set('cheap-bad-json', { kind: 'ok', content: 'Sure! Here is your JSON: {broken' });
  scripted.behaviour.set('cheap-wrong-schema', { kind: 'ok', content: '{"colour":"red"}' });
  scripted.behaviour.set('cheap-400', { kind: 'status', status: 400 });
  scripted.behaviour.set('strong', { kind: 'ok', content: '{"colours":["red","blue"],"count":2}' });
});

afterAll(async () => {
  await stack?.close();
  await fake?.close();
  await scripted?.close();
});

const msg = [{ role: 'user' as const, content: 'hello resilience' }];
const route = (name: string) => ({ headers: { 'x-llm-sidecar-route': name } });

async function recordOf(response: Response) {
  return stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
}

describe('retries and fallback', () => {
  it('429 with Retry-After: waits as asked, retries, then falls back', async () => {
    const t0 = Date.now();
    const { data, response } = await client.chat.completions.create({ model: 'x', messages: msg }, { headers: { 'x-llm-sidecar-route': 'ratelimited', 'x-fake-fault': 'retry-after=0.4' } }).withResponse();
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(data.model).toBe('gpt-4o-mini');
    expect(response.headers.get('x-llm-sidecar-attempts')).toBe('3');
    const rec = await recordOf(response);
    expect(rec).toMatchObject({ fallbackIndex: 1, attempts: 3, httpStatus: 200 });
    expect(rec.attemptDetails.map((a) => a.statusCode)).toEqual([429, 429, 200]);
    expect(rec.events.map((e) => e.name)).toEqual(['llm_sidecar.retry', 'llm_sidecar.fallback']);
  });

  it('500 → retry → fallback, invisible to the app', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'x', messages: msg }, route('failing')).withResponse();
    expect(data.choices[0]?.message.content).toMatch(/^Echo: /);
    const rec = await recordOf(response);
    expect(rec.attemptDetails.map((a) => `${a.model}:${a.statusCode}`)).toEqual(['gpt-4o-fake-error-500:500', 'gpt-4o-fake-error-500:500', 'gpt-4o-mini:200']);
  });

  it('first-token timeout → the next target answers', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'x', messages: msg }, route('slow')).withResponse();
    expect(data.model).toBe('gpt-4o-mini');
    const rec = await recordOf(response);
    expect(rec.attemptDetails[0]?.errorType).toBe('timeout');
    // Streams too: the preamble is held, so the timeout falls back before anything reached the app.
    const stream = await client.chat.completions.create({ model: 'x', stream: true, messages: msg }, route('slow'));
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toMatch(/^Echo: /);
  });

  it('a stream cut before its first content falls back invisibly; the SDK sees one clean stream', async () => {
    const { data: stream, response } = await client.chat.completions.create({ model: 'x', stream: true, messages: msg }, route('cutfirst')).withResponse();
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.filter((c) => c.choices[0]?.delta.role === 'assistant')).toHaveLength(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toMatch(/^Echo: hello resilience/);
    const rec = await recordOf(response);
    expect(rec).toMatchObject({ fallbackIndex: 1, completed: true });
  });

  it('the retry budget caps attempts when a target fails 100 %', async () => {
    scripted.hits.delete('always-down');
    const N = 40;
    for (let i = 0; i < N; i++) {
      const err = await client.chat.completions.create({ model: 'x', messages: msg }, route('budget')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    }
    // Without a budget: N × 4 attempts. With 10 % + 3: about N + 7.
    expect(scripted.hits.get('always-down')).toBeLessThanOrEqual(N + 3 + Math.ceil(0.1 * N) + 1);
    expect(scripted.hits.get('always-down')).toBeGreaterThan(N);
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold (the failing target is skipped), probes after the cooldown and closes on recovery', async () => {
    scripted.behaviour.set('flaky', { kind: 'status', status: 500 });
    for (let i = 0; i < 4; i++) await client.chat.completions.create({ model: 'x', messages: msg }, route('breaker'));
    const before = scripted.hits.get('flaky');
    expect(before).toBe(4);
    const { response } = await client.chat.completions.create({ model: 'x', messages: msg }, route('breaker')).withResponse();
    expect(scripted.hits.get('flaky')).toBe(4); // skipped while open
    const rec = await recordOf(response);
    expect(rec.events.some((e) => e.name === 'llm_sidecar.target.skipped' && e.attributes.reason === 'circuit_open')).toBe(true);
    const metrics = await (await fetch(`${stack.sidecar.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/llm_sidecar_breaker_state\{target="breaker\/0\/scripted\/flaky"\} 2/);
    expect(metrics).toMatch(/llm_sidecar_breaker_opens_total\{target="breaker\/0\/scripted\/flaky"\} 1/);
    // Recovery: after the cooldown one probe goes through, succeeds, and the breaker closes.
    scripted.behaviour.set('flaky', { kind: 'ok' });
    // Time passing is the behaviour here (the sidecar has no injectable clock): ≥ the 300 ms cooldown.
    await new Promise((r) => setTimeout(r, 350));
    const probe = await client.chat.completions.create({ model: 'x', messages: msg }, route('breaker'));
    expect(probe.model).toBe('flaky');
    const next = await client.chat.completions.create({ model: 'x', messages: msg }, route('breaker'));
    expect(next.model).toBe('flaky');
    const after = await (await fetch(`${stack.sidecar.adminUrl}/metrics`)).text();
    expect(after).toMatch(/llm_sidecar_breaker_state\{target="breaker\/0\/scripted\/flaky"\} 0/);
  });
});

describe('all targets open', () => {
  it('answers 503 with a stable code once every target’s circuit is open', async () => {
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'x', messages: msg }, route('doomed')).catch(() => undefined);
    const err = await client.chat.completions.create({ model: 'x', messages: msg }, route('doomed')).catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('LLM_SIDECAR_CIRCUIT_OPEN');
  });
});

describe('routing strategies', () => {
  it('cascade escalates on invalid JSON, then on a schema mismatch, and serves the first valid answer', async () => {
    const { data, response } = await client.chat.completions
      .create(
        {
          model: 'x',
          messages: msg,
          response_format: { type: 'json_schema', json_schema: { name: 'c', schema: { type: 'object', properties: { colours: { type: 'array' }, count: { type: 'number' } }, required: ['colours', 'count'] } } },
        },
        route('cascade'),
      )
      .withResponse();
    expect(JSON.parse(data.choices[0]!.message.content!)).toEqual({ colours: ['red', 'blue'], count: 2 });
    const rec = await recordOf(response);
    expect(rec.fallbackIndex).toBe(2);
    expect(rec.events.filter((e) => e.name === 'llm_sidecar.cascade.escalated').map((e) => e.attributes.reason)).toEqual(['invalid_json', 'schema_mismatch']);
  });

  it('cascade never escalates a provider 4xx: the request was at fault, the app gets it as is', async () => {
    const err = await client.chat.completions.create({ model: 'x', messages: msg }, route('cascade400')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).headers.get('x-llm-sidecar-attempts')).toBe('1');
  });

  it('weighted routing spreads traffic by weight', async () => {
    scripted.hits.delete('w-a');
    scripted.hits.delete('w-b');
    for (let i = 0; i < 80; i++) await client.chat.completions.create({ model: 'x', messages: msg }, route('weighted'));
    const a = scripted.hits.get('w-a') ?? 0;
    const b = scripted.hits.get('w-b') ?? 0;
    expect(a + b).toBe(80);
    expect(a).toBeGreaterThan(b);
    expect(b).toBeGreaterThan(5);
  });
});

describe('route configuration', () => {
  function problems(raw: unknown): string[] {
    try {
      parseConfig(raw, 'test', {});
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
    return [];
  }
  const providers = { p: { type: 'openai', baseUrl: 'http://x/v1' } };

  it('rejects unknown providers, weights ≤ 0 and cycles, with their paths', () => {
    expect(problems({ providers, routes: { r: { targets: [{ provider: 'nope' }] } } })).toEqual([expect.stringMatching(/^routes\.r\.targets\[0\]\.provider: unknown provider "nope"/)]);
    expect(problems({ providers, routes: { r: { targets: [{ provider: 'p', weight: 0 }] } } })).toEqual([expect.stringMatching(/^routes\.r\.targets\[0\]\.weight: weights must be > 0/)]);
    expect(problems({ providers, routes: { a: { targets: [{ route: 'b' }] }, b: { targets: [{ route: 'a' }] } } })).toEqual(
      expect.arrayContaining([expect.stringMatching(/route cycle: a → b → a/)]),
    );
    expect(problems({ providers, routes: { r: { strategy: 'random', targets: [{ provider: 'p' }] } } })[0]).toMatch(/^routes\.r\.strategy/);
  });
});
