import { describe, expect, it } from 'vitest';
import { cacheKey, cacheKeyMaterial, cacheScope, IGNORED_FIELDS, isDeterministic, type CacheKeyInput } from '../../proxy/cache/cache-key.ts';
import { canonicalJson } from '../../proxy/cache/canonical.ts';

const scope = cacheScope({ tenant: 'acme' });
const base: CacheKeyInput = {
  scope,
  dialect: 'openai',
  operation: 'chat',
  provider: 'openai',
  model: 'gpt-4o-mini',
  body: { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }], temperature: 0 },
};
const key = (patch: Partial<CacheKeyInput> = {}, body: Record<string, unknown> = {}): string => cacheKey({ ...base, ...patch, body: { ...base.body, ...body } });

describe('cacheKey', () => {
  it('is a sha256 hex, stable across key order and formatting', () => {
    expect(key()).toMatch(/^[0-9a-f]{64}$/);
    const reordered = JSON.parse(`{ "temperature" : 0,\n "messages": [ {"content":"Be terse.","role":"system"}, {"content":"Hi", "role":"user"} ], "model":"gpt-4o-mini" }`) as Record<string, unknown>;
    expect(cacheKey({ ...base, body: reordered })).toBe(key());
    expect(canonicalJson({ b: [1.0, { d: 1, c: 2 }], a: null, u: undefined })).toBe('{"a":null,"b":[1,{"c":2,"d":1}]}');
  });

  it('ignores the fields that cannot change the answer', () => {
    expect(IGNORED_FIELDS).toEqual(expect.arrayContaining(['stream', 'stream_options', 'user', 'metadata', 'store', 'service_tier']));
    const noise = { stream: true, stream_options: { include_usage: true }, user: 'u1', safety_identifier: 's', metadata: { user_id: 'x' }, store: true, service_tier: 'flex', prompt_cache_key: 'k', prompt_cache_retention: '24h', cache_control: { type: 'ephemeral' } };
    expect(key({}, noise)).toBe(key());
    // body.model is replaced by the routed model.
    expect(key({}, { model: 'alias-fast' })).toBe(key());
  });

  it('changes with every field that can change the answer', () => {
    const variants: Record<string, unknown>[] = [
      { messages: [{ role: 'system', content: 'Be verbose.' }, { role: 'user', content: 'Hi' }] },
      { messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi ' }] },
      { temperature: 0.7 },
      { top_p: 0.5 },
      { seed: 1 },
      { max_tokens: 10 },
      { max_completion_tokens: 10 },
      { stop: ['\n'] },
      { n: 2 },
      { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] },
      { tool_choice: 'required' },
      { response_format: { type: 'json_object' } },
      { reasoning_effort: 'high' },
      { thinking: { type: 'enabled', budget_tokens: 1024 } },
      { logprobs: true },
      { frequency_penalty: 1 },
      { parallel_tool_calls: false },
    ];
    const keys = new Set([key(), ...variants.map((v) => key({}, v))]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it('separates dialects, operations, providers, models, scopes and answer-changing headers', () => {
    const keys = [
      key(),
      key({ dialect: 'anthropic' }),
      key({ operation: 'responses' }),
      key({ provider: 'azure' }),
      key({ model: 'gpt-4o' }),
      key({ scope: cacheScope({ tenant: 'other' }) }),
      key({ scope: cacheScope({ tenant: 'acme', apiKeyHash: 'h1' }) }),
      key({ scope: cacheScope({ tenant: 'acme', apiKeyHash: 'h2' }) }),
      key({ headers: { 'anthropic-beta': 'output-128k-2025-02-19' } }),
      key({ query: 'api-version=2024-10-21' }),
      key({ query: 'api-version=2025-04-01-preview' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    // Header list order and unrelated headers do not matter.
    expect(key({ headers: { 'anthropic-beta': 'a,b', 'x-other': '1' } })).toBe(key({ headers: { 'anthropic-beta': 'b, a' } }));
    // No query string: the key of a request without one is the key it always had.
    expect(key({ query: '' })).toBe(key());
  });

  it('Anthropic prompt-cache breakpoints (cache_control) do not change the key', () => {
    const anth = (withCache: boolean): string => {
      const cc = withCache ? { cache_control: { type: 'ephemeral', ttl: '1h' } } : {};
      return cacheKey({
        ...base,
        dialect: 'anthropic',
        body: {
          model: 'claude',
          max_tokens: 100,
          system: [{ type: 'text', text: 'Long system prompt', ...cc }],
          tools: [{ name: 't', input_schema: { type: 'object', properties: { cache_control: { type: 'string' } } }, ...cc }],
          messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', ...cc }] }],
        },
      });
    };
    expect(anth(true)).toBe(anth(false));
    // A tool parameter that happens to be called cache_control is part of the schema, and kept.
    expect(cacheKeyMaterial({ ...base, body: { tools: [{ input_schema: { properties: { cache_control: {} } } }] } })).toContain('cache_control');
  });
});

describe('cacheScope', () => {
  it('is per tenant, and per API key unless shared; no tenant name can forge another scope', () => {
    expect(cacheScope({ tenant: 'a' })).not.toBe(cacheScope({ tenant: 'b' }));
    expect(cacheScope({ tenant: 'a', apiKeyHash: 'k1' })).not.toBe(cacheScope({ tenant: 'a', apiKeyHash: 'k2' }));
    expect(cacheScope({ tenant: 'a', apiKeyHash: 'k1', shared: true })).toBe(cacheScope({ tenant: 'a', apiKeyHash: 'k2', shared: true }));
    expect(cacheScope({ tenant: 'a', apiKeyHash: 'k1', shared: true })).toBe(cacheScope({ tenant: 'a' }));
    expect(cacheScope({ tenant: 'a","k1' })).not.toBe(cacheScope({ tenant: 'a', apiKeyHash: 'k1' }));
  });
});

describe('isDeterministic', () => {
  it('temperature 0, a seed, or top_k 1; an absent temperature is the provider default (not deterministic)', () => {
    expect(isDeterministic({ temperature: 0 })).toBe(true);
    expect(isDeterministic({ seed: 42, temperature: 0.8 })).toBe(true);
    expect(isDeterministic({ top_k: 1 })).toBe(true);
    expect(isDeterministic({})).toBe(false);
    expect(isDeterministic({ temperature: 0.2 })).toBe(false);
    expect(isDeterministic({ seed: '42' })).toBe(false);
  });
});
