// Fallback across providers: the app keeps its API while the route falls back to a provider that
// speaks the other one — JSON and streams, text and tools — and the official SDK gets valid objects.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  stack = await startStack((url) => ({
    // Cross-provider fallback needs the fallback provider's own key: the app's key is for the other API.
    providers: { oa: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-oa' }, an: { type: 'anthropic', baseUrl: url, apiKey: 'sk-an' } },
    routes: {
      claude_then_gpt: { models: ['claude-or-gpt'], retry: { maxRetries: 0 }, targets: [{ provider: 'an', model: 'claude-haiku-4-5-fake-error-529' }, { provider: 'oa', model: 'gpt-4o-mini' }] },
      gpt_then_claude: { models: ['gpt-or-claude'], retry: { maxRetries: 0 }, targets: [{ provider: 'oa', model: 'gpt-4o-fake-error-503' }, { provider: 'an', model: 'claude-haiku-4-5' }] },
    },
  }));
  openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-app', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'sk-ant-app', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.close();
});

const weather = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };

describe('Anthropic app, OpenAI fallback', () => {
  it('JSON: a valid Anthropic message, usage and cost from the OpenAI answer', async () => {
    const { data, response } = await anthropic.messages.create({ model: 'claude-or-gpt', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'cross the streams' }] }).withResponse();
    expect(data.type).toBe('message');
    expect(data.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/^Echo: cross the streams/) });
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-llm-sidecar-provider')).toBe('oa');
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id')!);
    expect(rec).toMatchObject({ fallbackIndex: 1, providerType: 'openai', upstreamModel: 'gpt-4o-mini' });
    expect(rec.costUsd).toMatch(/^0\.\d+$/);
    // The OpenAI provider got an OpenAI request with the system prompt and its own key.
    const sent = stack.fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-oa');
    expect((sent.json as { messages: { role: string }[] }).messages[0]).toMatchObject({ role: 'system' });
  });

  it('stream with tools: the Anthropic stream helper assembles a valid tool_use message', async () => {
    const msg = await anthropic.messages.stream({ model: 'claude-or-gpt', max_tokens: 100, tools: [weather], messages: [{ role: 'user', content: 'weather in Paris?' }] }).finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content.find((c) => c.type === 'tool_use')).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
  });
});

describe('OpenAI app, Anthropic fallback', () => {
  it('JSON with tools: a valid chat.completion with tool_calls', async () => {
    const data = await openai.chat.completions.create({
      model: 'gpt-or-claude',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather.input_schema } }],
    });
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.finish_reason).toBe('tool_calls');
    const call = data.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
  });

  it('stream: identical text to a direct Anthropic answer, usage chunk only when asked', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-or-claude', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'tell me about tides' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Echo: tell me about tides');
    expect(chunks.at(-1)?.usage?.prompt_tokens).toBeGreaterThan(0);
    const final = await openai.chat.completions.stream({ model: 'gpt-or-claude', messages: [{ role: 'user', content: 'again' }] }).finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('Echo: again');
  });
});
