// Budgets and rate limits through the proxy: exact under concurrency on both backends, shared by
// two sidecars on one Redis, trued up after streams, alerts once, trims keeping the system prompt.
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/config/load.ts';
import { startRedis, type RedisHandle } from '../support/redis.ts';
import { startStack, type Stack } from '../stack.ts';

let redis: RedisHandle | undefined;
const stacks: Stack[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of stacks) await s.close();
  await redis?.stop();
});

async function sidecar(budgets: Record<string, unknown>): Promise<Stack> {
  const s = await startStack((url) => ({ providers: { openai: { type: 'openai', baseUrl: `${url}/v1` } }, budgets }));
  stacks.push(s);
  return s;
}

const chat = (s: Stack, headers: Record<string, string>, body: object = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }) =>
  request(`${s.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({
    status: r.statusCode,
    headers: r.headers,
    json: (await r.body.json()) as Record<string, unknown>,
  }));

describe.each(['memory', 'redis'] as const)('rate limits on the %s backend', (backend) => {
  it('200 concurrent requests from one user against a limit of 50: exactly 50 admitted', async () => {
    const s = await sidecar({ backend: backend === 'memory' ? { type: 'memory' } : { type: 'redis', url: redis!.url, keyPrefix: `t-${Date.now()}:`, onUnavailable: 'fail-closed', timeoutMs: 2000 }, rateLimits: [{ scope: 'user', requestsPerMinute: 50 }] });
    const results = await Promise.all(Array.from({ length: 200 }, () => chat(s, { 'x-llm-sidecar-user': 'alice' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(150);
    expect(refused[0]!.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_RATE_LIMITED');
    expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused[0]!.json).toMatchObject({ error: { type: 'rate_limit_exceeded', code: 'LLM_SIDECAR_RATE_LIMITED' } });
    // Another user is not affected.
    expect((await chat(s, { 'x-llm-sidecar-user': 'bob' })).status).toBe(200);
  });
});

describe('shared across sidecars', () => {
  it('two sidecars on one Redis enforce ONE limit (not limit × replicas)', async () => {
    const budgets = { backend: { type: 'redis', url: redis!.url, keyPrefix: `two-${Date.now()}:`, onUnavailable: 'fail-closed', timeoutMs: 2000 }, rateLimits: [{ scope: 'tenant', requestsPerMinute: 30 }] };
    const a = await sidecar(budgets);
    const b = await sidecar(budgets);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(i % 2 ? a : b, { 'x-llm-sidecar-tenant': 'acme' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(30);
  });
});

describe('budgets', () => {
  it('trues up to the actual usage after a stream, so the reserve does not stay spent', async () => {
    const s = await sidecar({ tiers: { free: { userDailyTokens: 10_000 } }, defaultTier: 'free', perRequest: { default: { maxOutputTokens: 4000 } } });
    const client = new OpenAI({ baseURL: `${s.sidecar.url}/v1`, apiKey: 'k', maxRetries: 0 });
    // Each call reserves ~4000 output tokens; without a true-up the third would be refused.
    for (let i = 0; i < 5; i++) {
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `q${i}` }] }, { headers: { 'x-llm-sidecar-user': 'carol' } });
      for await (const _ of stream) {
        // drain
      }
    }
    await expect.poll(() => s.recorder.calls.length).toBe(5);
    const used = s.recorder.calls.reduce((a, c) => a + (c.usage?.inputTokens ?? 0) + (c.usage?.outputTokens ?? 0), 0);
    const metrics = await (await request(`${s.sidecar.adminUrl}/metrics`)).body.text();
    // Keys are identities, not labels by default: the scope's highest share (carol is its only user here).
    const ratio = Number(/llm_sidecar_budget_used_ratio\{scope="user-daily-tokens"\} ([\d.]+)/.exec(metrics)?.[1]);
    expect(ratio).toBeCloseTo(used / 10_000, 5);
  });

  it('at 80 % the alert fires once; at 100 % a 429 in the API shape with Retry-After at the reset', async () => {
    const s = await sidecar({ tiers: { t: { userDailyTokens: 100 } }, defaultTier: 't', perRequest: { default: { maxOutputTokens: 10 } } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof chat>> | undefined;
    for (let i = 0; i < 12; i++) {
      last = await chat(s, { 'x-llm-sidecar-user': 'dave' }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a few words here' }] });
      statuses.push(last.status);
    }
    expect(statuses[0]).toBe(200);
    expect(statuses.at(-1)).toBe(429);
    expect(last!.json).toMatchObject({ error: { code: 'LLM_SIDECAR_BUDGET_EXCEEDED' } });
    const secondsToMidnight = Math.ceil((Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1) - Date.now()) / 1000);
    expect(Math.abs(Number(last!.headers['retry-after']) - secondsToMidnight)).toBeLessThan(5);
    const metrics = await (await request(`${s.sidecar.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/llm_sidecar_budget_alerts_total\{scope="user-daily-tokens"\} 1\n/);
    await s.sidecar.flush();
    expect(s.spans.getFinishedSpans().filter((sp) => sp.name === 'llm_sidecar.budget.alert')).toHaveLength(1);
    // Refusals are recorded calls too (a span and an llm_calls row), with no provider attempt.
    const refusal = await s.recorder.waitFor((c) => c.errorCode === 'LLM_SIDECAR_BUDGET_EXCEEDED');
    expect(refusal).toMatchObject({ httpStatus: 429, attempts: 0, user: 'dave', errorType: 'budget_exceeded' });
  });

  it('trims to the newest turns that fit, keeping the system prompt, and caps max_tokens', async () => {
    const s = await sidecar({ perRequest: { default: { maxInputTokens: 60, maxOutputTokens: 50, onInputOverLimit: 'trim' } } });
    const long = 'lorem ipsum dolor sit amet '.repeat(8);
    const res = await chat(s, {}, {
      model: 'gpt-4o-mini',
      max_tokens: 500,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `old question ${long}` },
        { role: 'assistant', content: `old answer ${long}` },
        { role: 'user', content: 'newest question' },
      ],
    });
    expect(res.status).toBe(200);
    const sent = s.fake.requests.at(-1)!.json as { messages: { role: string; content: string }[]; max_tokens: number };
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'newest question' });
    expect(sent.messages.some((m) => m.content.startsWith('old question'))).toBe(false);
    expect(sent.max_tokens).toBe(50);
  });

  it('rejects invalid budget config at start with readable paths', () => {
    let problems: string[] = [];
    try {
      parseConfig({ budgets: { tiers: { free: { userDailyTokens: -5 } }, tenants: { acme: { tier: 'gold' } } } }, 't', {});
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems.map((p) => `${p.path}: ${p.message}`);
    }
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^budgets\.tiers\.free\.userDailyTokens/), expect.stringMatching(/^budgets\.tenants\.acme\.tier: unknown tier "gold"/)]));
  });
});
