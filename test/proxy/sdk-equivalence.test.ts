// The official SDKs, pointed at the sidecar, must get exactly what they get from the provider.
// Each case makes the same call directly to the fake provider and through the sidecar and
// compares the results with only the per-request ids and timestamps scrubbed.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let direct: { openai: OpenAI; anthropic: Anthropic };
let proxied: { openai: OpenAI; anthropic: Anthropic };

beforeAll(async () => {
  stack = await startStack();
  direct = {
    openai: new OpenAI({ baseURL: `${stack.fake.url}/v1`, apiKey: 'sk-test-direct', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: stack.fake.url, apiKey: 'sk-ant-test', maxRetries: 0 }),
  };
  proxied = {
    openai: new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-test-direct', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'sk-ant-test', maxRetries: 0 }),
  };
});

afterAll(async () => {
  await stack?.close();
});

const VOLATILE_KEYS = new Set(['id', 'created', 'created_at', 'item_id', 'system_fingerprint', 'completed_at']);
const VOLATILE_VALUE = /^(chatcmpl|resp|msg|call|toolu|req|rs|fc)_[A-Za-z0-9_-]+$/;

/** Replaces per-request identifiers and timestamps so two answers to the same request compare equal. */
function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = VOLATILE_KEYS.has(k) ? '<volatile>' : scrub(v);
    return out;
  }
  if (typeof value === 'string' && VOLATILE_VALUE.test(value)) return '<volatile-id>';
  return value;
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

const weatherTool: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('OpenAI SDK through the sidecar', () => {
  const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Name three colours of the rainbow' }] };

  it('chat completion: same answer and usage, plus the sidecar headers and a call record', async () => {
    const a = await direct.openai.chat.completions.create(params);
    const { data: b, response } = await proxied.openai.chat.completions.create(params).withResponse();
    expect(scrub(b)).toEqual(scrub(a));
    expect(b.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-llm-sidecar-provider')).toBe('openai');
    expect(response.headers.get('x-llm-sidecar-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-llm-sidecar-attempts')).toBe('1');
    expect(response.headers.get('x-llm-sidecar-cost-usd')).toMatch(/^\d+\.\d+$|^0$/);
    expect(Number(response.headers.get('x-llm-sidecar-overhead-ms'))).toBeGreaterThanOrEqual(0);
    expect(response.headers.get('x-llm-sidecar-error')).toBeNull();
    const id = response.headers.get('x-llm-sidecar-request-id') as string;
    const record = await stack.recorder.byRequestId(id);
    expect(record).toMatchObject({ operation: 'chat', providerName: 'openai', stream: false, httpStatus: 200, completed: true });
    expect(record.usage).toMatchObject({ inputTokens: b.usage?.prompt_tokens, outputTokens: b.usage?.completion_tokens });
    expect(record.costUsd).toBe(response.headers.get('x-llm-sidecar-cost-usd'));
  });

  it('stream without include_usage: identical chunks (the usage the sidecar asked for is hidden) and usage recorded', async () => {
    const a = await collect(await direct.openai.chat.completions.create({ ...params, stream: true }));
    const { data: stream, response } = await proxied.openai.chat.completions.create({ ...params, stream: true }).withResponse();
    const b = await collect(stream);
    expect(scrub(b)).toEqual(scrub(a));
    expect(b.some((c) => 'usage' in c)).toBe(false);
    expect(b.length).toBeGreaterThan(2);
    const record = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(record.stream).toBe(true);
    expect(record.completed).toBe(true);
    expect(record.usage?.inputTokens).toBeGreaterThan(0);
    expect(record.usage?.outputTokens).toBeGreaterThan(0);
    expect(record.timeToFirstChunkMs).toBeGreaterThan(0);
    expect(record.costUsd).toMatch(/^\d/);
    // …and the provider was asked for usage.
    const sent = stack.fake.requests.at(-1)?.json as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options?.include_usage).toBe(true);
  });

  it('stream with include_usage from the app: the usage chunk reaches the app as the provider sent it', async () => {
    const p = { ...params, stream: true as const, stream_options: { include_usage: true } };
    const a = await collect(await direct.openai.chat.completions.create(p));
    const b = await collect(await proxied.openai.chat.completions.create(p));
    expect(scrub(b)).toEqual(scrub(a));
    expect(b.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('tool calls, JSON and streamed (accumulated by the SDK)', async () => {
    const p = { ...params, tools: [weatherTool] };
    const a = await direct.openai.chat.completions.create(p);
    const b = await proxied.openai.chat.completions.create(p);
    expect(scrub(b)).toEqual(scrub(a));
    expect(b.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    const sa = await direct.openai.chat.completions.stream(p).finalChatCompletion();
    const sb = await proxied.openai.chat.completions.stream(p).finalChatCompletion();
    expect(scrub(sb)).toEqual(scrub(sa));
    expect(sb.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('JSON schema mode', async () => {
    const p = {
      ...params,
      response_format: {
        type: 'json_schema' as const,
        json_schema: { name: 'colours', schema: { type: 'object', properties: { colours: { type: 'array' }, count: { type: 'number' } }, required: ['colours', 'count'] } },
      },
    };
    const a = await direct.openai.chat.completions.create(p);
    const b = await proxied.openai.chat.completions.create(p);
    expect(scrub(b)).toEqual(scrub(a));
    expect(JSON.parse(b.choices[0]?.message.content ?? '')).toHaveProperty('count');
  });

  it('responses API, JSON and streamed', async () => {
    const p = { model: 'gpt-4o-mini', input: 'Describe the sea in five words' };
    const a = await direct.openai.responses.create(p);
    const b = await proxied.openai.responses.create(p);
    expect(scrub(b)).toEqual(scrub(a));
    const ea = await collect(await direct.openai.responses.create({ ...p, stream: true }));
    const { data: s, response } = await proxied.openai.responses.create({ ...p, stream: true }).withResponse();
    const eb = await collect(s);
    expect(scrub(eb)).toEqual(scrub(ea));
    const record = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(record.usage?.outputTokens).toBeGreaterThan(0);
    expect(record.completed).toBe(true);
  });

  it('embeddings (base64 by default) and the models list', async () => {
    const p = { model: 'text-embedding-3-small', input: ['first text', 'second text'] };
    const a = await direct.openai.embeddings.create(p);
    const { data: b, response } = await proxied.openai.embeddings.create(p).withResponse();
    expect(b).toEqual(a);
    expect(b.data).toHaveLength(2);
    const record = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(record).toMatchObject({ operation: 'embeddings' });
    expect(record.usage?.inputTokens).toBe(b.usage.prompt_tokens);
    const ma = await direct.openai.models.list();
    const mb = await proxied.openai.models.list();
    expect(mb.data).toEqual(ma.data);
  });

  it('provider errors surface as the SDK’s own typed errors, unmarked by the sidecar', async () => {
    const p = { ...params, model: 'gpt-4o-fake-error-429' };
    const ea = await direct.openai.chat.completions.create(p).catch((e: unknown) => e);
    const eb = await proxied.openai.chat.completions.create(p).catch((e: unknown) => e);
    expect(eb).toBeInstanceOf(OpenAI.RateLimitError);
    expect((eb as InstanceType<typeof OpenAI.RateLimitError>).status).toBe(429);
    expect((eb as InstanceType<typeof OpenAI.RateLimitError>).error).toEqual((ea as InstanceType<typeof OpenAI.RateLimitError>).error);
    expect((eb as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-llm-sidecar-error')).toBeNull();
    const e5 = await proxied.openai.chat.completions.create({ ...params, model: 'gpt-4o-fake-error-500' }).catch((e: unknown) => e);
    expect(e5).toBeInstanceOf(OpenAI.InternalServerError);
  });
});

describe('Anthropic SDK through the sidecar', () => {
  const base = { model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user' as const, content: 'Write a haiku about tides' }] };

  it('messages: same answer and usage', async () => {
    const a = await direct.anthropic.messages.create(base);
    const { data: b, response } = await proxied.anthropic.messages.create(base).withResponse();
    expect(scrub(b)).toEqual(scrub(a));
    expect(response.headers.get('x-llm-sidecar-provider')).toBe('anthropic');
    const record = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(record.usage?.inputTokens).toBe(b.usage.input_tokens + (b.usage.cache_read_input_tokens ?? 0) + (b.usage.cache_creation_input_tokens ?? 0));
    expect(record.usage?.outputTokens).toBe(b.usage.output_tokens);
  });

  it('streamed events are identical, with thinking, and usage is read from message_start/message_delta', async () => {
    const p = { ...base, max_tokens: 2048, thinking: { type: 'enabled' as const, budget_tokens: 1024 } };
    const ea = await collect(await direct.anthropic.messages.create({ ...p, stream: true }));
    const { data: s, response } = await proxied.anthropic.messages.create({ ...p, stream: true }).withResponse();
    const eb = await collect(s);
    expect(scrub(eb)).toEqual(scrub(ea));
    expect(eb.some((e) => e.type === 'content_block_delta' && e.delta.type === 'thinking_delta')).toBe(true);
    const final = eb.find((e) => e.type === 'message_delta');
    const record = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(record.usage?.outputTokens).toBe(final?.type === 'message_delta' ? final.usage.output_tokens : -1);
    expect(record.completed).toBe(true);
  });

  it('tool use, JSON and through the stream helper', async () => {
    const p = {
      ...base,
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }],
    };
    const a = await direct.anthropic.messages.create(p);
    const b = await proxied.anthropic.messages.create(p);
    expect(scrub(b)).toEqual(scrub(a));
    expect(b.stop_reason).toBe('tool_use');
    const fa = await direct.anthropic.messages.stream(p).finalMessage();
    const fb = await proxied.anthropic.messages.stream(p).finalMessage();
    expect(scrub(fb)).toEqual(scrub(fa));
    expect(fb.content.find((c) => c.type === 'tool_use')).toMatchObject({ name: 'get_weather' });
  });

  it('prompt caching survives the sidecar: cache_control reaches the provider and the second call reads the cache', async () => {
    const system = [{ type: 'text' as const, text: `You are a tide expert. ${'Context. '.repeat(300)}${Date.now()}`, cache_control: { type: 'ephemeral' as const } }];
    const first = await proxied.anthropic.messages.create({ ...base, system });
    const second = await proxied.anthropic.messages.create({ ...base, system });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
  });

  it('count_tokens and provider errors as typed SDK errors', async () => {
    const a = await direct.anthropic.messages.countTokens({ model: base.model, messages: base.messages });
    const b = await proxied.anthropic.messages.countTokens({ model: base.model, messages: base.messages });
    expect(b).toEqual(a);
    const err = await proxied.anthropic.messages.create({ ...base, model: 'claude-fake-error-529' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    const rl = await proxied.anthropic.messages.create({ ...base, model: 'claude-fake-error-429' }).catch((e: unknown) => e);
    expect(rl).toBeInstanceOf(Anthropic.RateLimitError);
  });
});
