// The fake provider must be realistic enough that the official SDKs, pointed straight at it, parse
// everything it sends — JSON, streams, tool calls, errors — and its faults must break them the way a
// real provider failure would. Every test here talks to it through the SDKs or raw HTTP.
import Anthropic from '@anthropic-ai/sdk';
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_FAULTS, parseFaults } from '../simulator/faults.ts';
import { startFakeProvider, type FakeProvider } from '../simulator/server.ts';

let fake: FakeProvider;
let openai: OpenAI;
let anthropic: Anthropic;
// For the malformed-JSON cases: the SDKs log the unparseable chunk before throwing.
let quietOpenai: OpenAI;
let quietAnthropic: Anthropic;

beforeAll(async () => {
  fake = await startFakeProvider();
  openai = new OpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-test', maxRetries: 0 });
  quietOpenai = new OpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'sk-test', maxRetries: 0, logLevel: 'off' });
  quietAnthropic = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-test', maxRetries: 0, logLevel: 'off' });
});

afterAll(async () => {
  await fake?.close();
});

const fault = (spec: string): { headers: Record<string, string> } => ({ headers: { 'x-fake-fault': spec } });

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** How many pieces the body arrived in. */
  pieces: number;
}

async function raw(path: string, body?: string | object, headers: Record<string, string> = {}, method = body === undefined ? 'GET' : 'POST'): Promise<Raw> {
  const res = await request(`${fake.url}${path}`, {
    method: method as 'GET' | 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), pieces: chunks.length };
}

interface SseEvent {
  event?: string;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      return event === undefined ? { data } : { event, data };
    });
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

const weatherTool: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const counterTool: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'count_things', parameters: { type: 'object', properties: { n: { type: 'integer' }, exact: { type: 'boolean' }, note: { type: 'string' } }, required: ['n', 'exact'] } },
};
const anthropicWeather = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };

describe('OpenAI chat completions', () => {
  const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Name three colours' }] };

  it('echoes the last user message, with usage that depends only on the request', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'earlier question' },
      { role: 'assistant', content: 'earlier answer' },
      { role: 'user', content: [{ type: 'text', text: 'Name three colours' }] },
    ];
    const { data: a, response } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();
    expect(a.object).toBe('chat.completion');
    expect(a.id).toMatch(/^chatcmpl-/);
    expect(a.model).toBe('gpt-4o-mini');
    expect(a.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Echo: Name three colours', refusal: null } });
    const u = a.usage;
    expect(u?.completion_tokens).toBe(4); // "Echo: Name three colours"
    expect(u?.total_tokens).toBe((u?.prompt_tokens ?? 0) + 4);
    expect(u?.prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 });
    expect(u?.completion_tokens_details).toEqual({ reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('openai-processing-ms')).toMatch(/^\d+$/);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);

    const again = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(again.id).not.toBe(a.id);
    expect(again.choices).toEqual(a.choices);
    expect(again.usage).toEqual(a.usage);
    const longer = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'context '.repeat(100) }, ...messages] });
    expect(longer.usage?.prompt_tokens).toBeGreaterThan((u?.prompt_tokens ?? 0) + 150);
  });

  it('truncates the echo to 200 characters', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'y'.repeat(500) }] });
    expect(r.choices[0]?.message.content).toBe(`Echo: ${'y'.repeat(200)}`);
  });

  it('reasoning models bill 32 reasoning tokens inside completion_tokens', async () => {
    for (const model of ['o4-mini', 'o1', 'acme-reasoning-large']) {
      const r = await openai.chat.completions.create({ ...chat, model });
      expect(r.usage?.completion_tokens_details?.reasoning_tokens).toBe(32);
      expect(r.usage?.completion_tokens).toBe(4 + 32);
    }
  });

  it('prompts of 1024+ tokens report cached tokens in 128-token steps, below the prompt size', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'long context '.repeat(400) }] });
    const prompt = r.usage?.prompt_tokens ?? 0;
    const cached = r.usage?.prompt_tokens_details?.cached_tokens ?? -1;
    expect(prompt).toBeGreaterThan(1024);
    expect(cached % 128).toBe(0);
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(cached).toBeLessThan(prompt);
  });

  it('streams word chunks that add up to the non-stream answer', async () => {
    const full = await openai.chat.completions.create(chat);
    const chunks = await collect(await openai.chat.completions.create({ ...chat, stream: true }));
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant', content: '' });
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThanOrEqual(4);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(full.choices[0]?.message.content);
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ finish_reason: 'stop', delta: {} });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]?.id)).toBe(true);
  });

  it('stream without include_usage: no chunk has a usage key; ends with [DONE]', async () => {
    const r = await raw('/v1/chat/completions', { ...chat, stream: true });
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const events = parseSse(r.text);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, unknown>);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('stream with include_usage: every chunk carries usage:null, then a final choices:[] chunk with the usage', async () => {
    const full = await openai.chat.completions.create(chat);
    const r = await raw('/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } });
    const events = parseSse(r.text);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as { usage?: unknown; choices: unknown[] });
    const last = chunks.pop();
    expect(chunks.every((c) => 'usage' in c && c.usage === null && c.choices.length === 1)).toBe(true);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(full.usage);
    // And through the SDK.
    const sdkChunks = await collect(await openai.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } }));
    expect(sdkChunks.at(-1)?.usage).toEqual(full.usage);
  });

  it('tool calls: the first tool, arguments built from its schema; tool_choice picks or forbids', async () => {
    const r = await openai.chat.completions.create({ ...chat, tools: [weatherTool, counterTool] });
    const msg = r.choices[0]?.message;
    expect(r.choices[0]?.finish_reason).toBe('tool_calls');
    expect(msg?.content).toBeNull();
    const call = msg?.tool_calls?.[0];
    expect(call?.id).toMatch(/^call_/);
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toEqual({ city: 'Paris' });

    const named = await openai.chat.completions.create({ ...chat, tools: [weatherTool, counterTool], tool_choice: { type: 'function', function: { name: 'count_things' } } });
    const namedCall = named.choices[0]?.message.tool_calls?.[0];
    expect(namedCall?.type === 'function' && JSON.parse(namedCall.function.arguments)).toEqual({ n: 1, exact: true });

    const none = await openai.chat.completions.create({ ...chat, tools: [weatherTool], tool_choice: 'none' });
    expect(none.choices[0]?.message.content).toBe('Echo: Name three colours');
    expect(none.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('streamed tool calls are accumulated by the SDK stream helper into the same call', async () => {
    const p = { ...chat, tools: [weatherTool] };
    const direct = await openai.chat.completions.create(p);
    const final = await openai.chat.completions.stream(p).finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const call = final.choices[0]?.message.tool_calls?.[0];
    const directCall = direct.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function).toEqual(directCall?.type === 'function' && directCall.function);
    // The arguments really came in several fragments.
    const events = parseSse((await raw('/v1/chat/completions', { ...p, stream: true })).text);
    const fragments = events.filter((e) => e.data.includes('"arguments"'));
    expect(fragments.length).toBeGreaterThan(2);
  });

  it('the tool_call fault forces a call, to get_weather when the request has no tools', async () => {
    const r = await openai.chat.completions.create(chat, fault('tool_call'));
    const call = r.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
  });

  it('json_schema mode answers with JSON satisfying the required properties, recursively', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        count: { type: 'integer' },
        ok: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        colour: { type: 'string', enum: ['red', 'green'] },
        address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } }, required: ['city'] },
        optional: { type: 'string' },
      },
      required: ['name', 'count', 'ok', 'tags', 'colour', 'address'],
    };
    const r = await openai.chat.completions.create({ ...chat, response_format: { type: 'json_schema', json_schema: { name: 'thing', schema } } });
    expect(JSON.parse(r.choices[0]?.message.content ?? '')).toEqual({ name: 'x', count: 1, ok: true, tags: [], colour: 'red', address: { city: 'Paris' } });
    const obj = await openai.chat.completions.create({ ...chat, response_format: { type: 'json_object' } });
    expect(JSON.parse(obj.choices[0]?.message.content ?? '')).toEqual({ echo: 'Echo: Name three colours' });
  });
});

describe('OpenAI Responses API', () => {
  it('answers a string input with a completed response', async () => {
    const r = await openai.responses.create({ model: 'gpt-4o-mini', input: 'Describe the sea in five words' });
    expect(r).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4o-mini' });
    expect(r.id).toMatch(/^resp_/);
    expect(r.output_text).toBe('Echo: Describe the sea in five words');
    expect(r.output[0]).toMatchObject({ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [] }] });
    expect(r.usage).toMatchObject({ output_tokens: 7, output_tokens_details: { reasoning_tokens: 0 }, input_tokens_details: { cached_tokens: 0 } });
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + 7);
  });

  it('reads an array of input items', async () => {
    const r = await openai.responses.create({
      model: 'gpt-4o',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'input_text', text: 'second question' }] },
      ],
    });
    expect(r.output_text).toBe('Echo: second question');
    expect(r.instructions).toBe('Be brief.');
  });

  it('streams the real event sequence, numbered, ending in response.completed with usage', async () => {
    const p = { model: 'gpt-4o-mini', input: 'Describe the sea in five words' };
    const full = await openai.responses.create(p);
    const final = await openai.responses.stream(p).finalResponse();
    expect(final.output_text).toBe(full.output_text);
    expect(final.usage).toEqual(full.usage);

    const events = parseSse((await raw('/v1/responses', { ...p, stream: true })).text);
    const payloads = events.map((e) => JSON.parse(e.data) as { type: string; sequence_number: number });
    expect(events.every((e, i) => e.event === payloads[i]?.type)).toBe(true);
    expect(payloads.map((p) => p.sequence_number)).toEqual(payloads.map((_, i) => i));
    const types = payloads.map((p) => p.type).filter((t, i, all) => t !== all[i - 1]);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(payloads.filter((p) => p.type === 'response.output_text.delta').length).toBeGreaterThan(3);
  });

  it('reasoning models add a reasoning item; offered tools become a function_call, also when streamed', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true }];
    const r = await openai.responses.create({ model: 'o4-mini', input: 'weather?', tools });
    expect(r.output.map((o) => o.type)).toEqual(['reasoning', 'function_call']);
    expect(r.output[1]).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' });
    expect(r.usage?.output_tokens_details.reasoning_tokens).toBe(32);
    const streamed = await openai.responses.stream({ model: 'o4-mini', input: 'weather?', tools }).finalResponse();
    expect(streamed.output[1]).toMatchObject({ type: 'function_call', arguments: '{"city":"Paris"}' });
  });
});

describe('OpenAI embeddings and the models list', () => {
  it('the SDK default (base64) decodes to deterministic unit vectors of the requested dimension', async () => {
    const e = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['first text', 'second text', 'first text'] });
    expect((fake.requests.at(-1)?.json as { encoding_format?: string }).encoding_format).toBe('base64');
    expect(e.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, b, c] = e.data.map((d) => d.embedding);
    expect(a).toHaveLength(8);
    expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 5);
    expect(c).toEqual(a);
    expect(b).not.toEqual(a);
    expect(e.usage.prompt_tokens).toBe(e.usage.total_tokens);
    expect(e.usage.prompt_tokens).toBeGreaterThanOrEqual(3);

    const floats = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'first text', encoding_format: 'float', dimensions: 8 });
    floats.data[0]?.embedding.forEach((x, i) => expect(x).toBeCloseTo(a?.[i] ?? NaN, 6));
    const wide = await openai.embeddings.create({ model: 'text-embedding-3-small', input: [[1, 2, 3]], dimensions: 64 });
    expect(wide.data[0]?.embedding).toHaveLength(64);
    expect(wide.usage.prompt_tokens).toBe(3);
  });

  it('lists models in OpenAI’s shape, or Anthropic’s when asked with anthropic-version', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'o4-mini', 'text-embedding-3-small']));
    expect(models.data.every((m) => m.object === 'model' && typeof m.created === 'number' && m.owned_by)).toBe(true);
    const claude = await anthropic.models.list();
    expect(claude.data.length).toBeGreaterThan(0);
    expect(claude.data[0]).toMatchObject({ type: 'model', id: expect.stringMatching(/^claude-/), display_name: expect.any(String), created_at: expect.any(String) });
  });
});

describe('Anthropic messages', () => {
  const base = { model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user' as const, content: 'Write a haiku about tides' }] };

  it('answers with a text block and Anthropic usage; input_tokens equals count_tokens', async () => {
    const { data: m, response } = await anthropic.messages.create(base).withResponse();
    expect(m).toMatchObject({ type: 'message', role: 'assistant', model: base.model, stop_reason: 'end_turn', stop_sequence: null });
    expect(m.id).toMatch(/^msg_/);
    expect(m.content).toEqual([{ type: 'text', text: 'Echo: Write a haiku about tides' }]);
    expect(m.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 6, service_tier: 'standard', cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 } });
    const counted = await anthropic.messages.countTokens({ model: base.model, messages: base.messages });
    expect(m.usage.input_tokens).toBe(counted.input_tokens);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toMatch(/^\d+$/);
  });

  it('streams thinking then text with the full event sequence; the stream helper rebuilds the message', async () => {
    const p = { ...base, max_tokens: 2048, thinking: { type: 'enabled' as const, budget_tokens: 1024 } };
    const full = await anthropic.messages.create(p);
    expect(full.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const final = await anthropic.messages.stream(p).finalMessage();
    expect(final.content).toEqual(full.content);
    expect(final.usage).toEqual(full.usage);
    const thinking = final.content[0];
    expect(thinking?.type === 'thinking' && thinking.signature.length).toBeGreaterThan(10);

    const events = parseSse((await raw('/v1/messages', { ...p, stream: true })).text);
    const payloads = events.map((e) => JSON.parse(e.data) as { type: string; delta?: { type: string }; usage?: { output_tokens: number }; message?: { usage: { output_tokens: number } } });
    expect(events.every((e, i) => e.event === payloads[i]?.type)).toBe(true);
    const order = payloads.map((p) => (p.delta?.type && p.type === 'content_block_delta' ? p.delta.type : p.type)).filter((t, i, all) => t !== all[i - 1]);
    expect(order).toEqual(['message_start', 'content_block_start', 'ping', 'thinking_delta', 'signature_delta', 'content_block_stop', 'content_block_start', 'text_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(payloads[0]?.message?.usage.output_tokens).toBe(1);
    expect(payloads.find((p) => p.type === 'message_delta')?.usage?.output_tokens).toBe(full.usage.output_tokens);
  });

  it('tool use: a tool_use block with input from the schema, JSON and streamed', async () => {
    const p = { ...base, tools: [anthropicWeather] };
    const m = await anthropic.messages.create(p);
    expect(m.stop_reason).toBe('tool_use');
    const block = m.content[0];
    expect(block).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    expect(block?.type === 'tool_use' && block.id).toMatch(/^toolu_/);
    const final = await anthropic.messages.stream(p).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    const events = parseSse((await raw('/v1/messages', { ...p, stream: true })).text);
    expect(events.filter((e) => e.data.includes('input_json_delta')).length).toBeGreaterThan(2);
    const none = await anthropic.messages.create({ ...p, tool_choice: { type: 'none' } });
    expect(none.content[0]?.type).toBe('text');
  });

  it('prompt caching: the first call writes the cached prefix, the second reads it; input excludes both', async () => {
    const system = [{ type: 'text' as const, text: `You are a tide expert. ${'Context. '.repeat(300)}${Math.random()}`, cache_control: { type: 'ephemeral' as const } }];
    const p = { ...base, system };
    const first = await anthropic.messages.create(p);
    const second = await anthropic.messages.create(p);
    const counted = await anthropic.messages.countTokens({ model: base.model, system, messages: base.messages });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(600);
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    expect(second.usage.input_tokens).toBe(first.usage.input_tokens);
    expect(first.usage.input_tokens + (first.usage.cache_creation_input_tokens ?? 0)).toBe(counted.input_tokens);
    // Another model has its own cache.
    const other = await anthropic.messages.create({ ...p, model: 'claude-haiku-4-5' });
    expect(other.usage.cache_read_input_tokens).toBe(0);
  });

  it('prompt caching: 1h TTL is reported apart, and a longer conversation reads the old prefix and writes the rest', async () => {
    const system = [{ type: 'text' as const, text: `Policy ${'rule. '.repeat(200)}${Math.random()}`, cache_control: { type: 'ephemeral' as const, ttl: '1h' as const } }];
    const first = await anthropic.messages.create({ ...base, system });
    expect(first.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: first.usage.cache_creation_input_tokens });
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: 'long question '.repeat(50), cache_control: { type: 'ephemeral' } }] },
      { role: 'assistant', content: 'answer' },
      { role: 'user', content: 'follow-up' },
    ];
    const longer = await anthropic.messages.create({ ...base, system, messages });
    expect(longer.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(longer.usage.cache_creation?.ephemeral_5m_input_tokens).toBeGreaterThan(100);
    expect(longer.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(0);
  });

  it('count_tokens grows with tools and system', async () => {
    const plain = await anthropic.messages.countTokens({ model: base.model, messages: base.messages });
    const withTools = await anthropic.messages.countTokens({ model: base.model, messages: base.messages, tools: [anthropicWeather], system: 'Be kind.' });
    expect(plain.input_tokens).toBeGreaterThan(0);
    expect(withTools.input_tokens).toBeGreaterThan(plain.input_tokens + 10);
  });
});

describe('errors, in each API’s shape and as the SDKs’ typed errors', () => {
  const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'x' }] };
  const msg = { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user' as const, content: 'x' }] };

  it('OpenAI: 429 with retry-after headers, 500, 401, 400', async () => {
    const rl = await openai.chat.completions.create(chat, fault('status=429,retry-after=7,retry-after-ms=6500')).catch((e: unknown) => e);
    expect(rl).toBeInstanceOf(OpenAI.RateLimitError);
    const e = rl as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.headers.get('retry-after')).toBe('7');
    expect(e.headers.get('retry-after-ms')).toBe('6500');
    expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    await expect(openai.chat.completions.create({ ...chat, model: 'gpt-4o-fake-error-429' })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(openai.chat.completions.create({ ...chat, model: 'gpt-4o-fake-error-500' })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    await expect(openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }, fault('status=401'))).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(openai.responses.create({ model: 'gpt-4o', input: 'x' }, fault('status=400'))).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('Anthropic: 500 api_error, 529 overloaded_error, 429 rate_limit_error', async () => {
    const e500 = await anthropic.messages.create(msg, fault('status=500')).catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(Anthropic.InternalServerError);
    expect((e500 as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    const e529 = await anthropic.messages.create({ ...msg, model: 'claude-fake-error-529' }).catch((e: unknown) => e);
    expect(e529).toBeInstanceOf(Anthropic.InternalServerError);
    expect((e529 as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((e529 as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'overloaded_error' } });
    const e429 = await anthropic.messages.create(msg, fault('status=429,retry-after=3')).catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(Anthropic.RateLimitError);
    expect((e429 as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('3');
  });

  it('body= replaces the error body with raw bytes', async () => {
    const r = await raw('/v1/chat/completions', chat, { 'x-fake-fault': `status=503,body=${encodeURIComponent('upstream connect error, reset')}` });
    expect(r.status).toBe(503);
    expect(r.text).toBe('upstream connect error, reset');
  });

  it('malformed request JSON and a missing model are 400s in the path’s API shape', async () => {
    const bad = await raw('/v1/chat/completions', '{"model": "gpt-4o", "messages": [');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: { type: 'invalid_request_error', param: null, message: expect.any(String) } });
    const badA = await raw('/v1/messages', '{"model":');
    expect(badA.status).toBe(400);
    expect(JSON.parse(badA.text)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const noModel = await raw('/v1/chat/completions', { messages: [] });
    expect(noModel.status).toBe(400);
    expect(JSON.parse(noModel.text).error.message).toMatch(/model/);
    const noModelA = await raw('/v1/messages/count_tokens', { messages: [] });
    expect(JSON.parse(noModelA.text)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // A fault spec with a typo is refused loudly rather than ignored.
    const typo = await raw('/v1/chat/completions', chat, { 'x-fake-fault': 'retry_after=2' });
    expect(typo.status).toBe(400);
    expect(JSON.parse(typo.text).error.message).toMatch(/unknown fault "retry_after"/);
  });

  it('unknown paths are 404s; /v1/echo-path/… describes the request back', async () => {
    const nf = await raw('/v1/nope', { model: 'x' });
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.text)).toMatchObject({ error: { type: 'invalid_request_error', param: null } });
    const nfA = await raw('/v1/messages/batches/nope');
    expect(JSON.parse(nfA.text)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const echoed = await raw('/v1/echo-path/a/b?x=1&y=%20', 'not json at all', { 'x-custom': 'kept' });
    expect(echoed.status).toBe(200);
    expect(JSON.parse(echoed.text)).toMatchObject({ method: 'POST', path: '/v1/echo-path/a/b', query: 'x=1&y=%20', bodyLength: 15, headers: { 'x-custom': 'kept' } });
    const echoedGet = await raw('/v1/echo-path');
    expect(JSON.parse(echoedGet.text)).toMatchObject({ method: 'GET', bodyLength: 0 });
  });
});

describe('faults', () => {
  const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'one two three four five six' }] };
  const msg = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: 'one two three four' }] };

  it('cut=<n> ends a stream after n events without a terminating event: both SDKs throw', async () => {
    const abortedBefore = fake.stats.aborted;
    const got: unknown[] = [];
    const err = await (async () => {
      for await (const c of await openai.chat.completions.create({ ...chat, stream: true }, fault('cut=3'))) got.push(c);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(got).toHaveLength(3);
    await expect(anthropic.messages.stream(msg, fault('cut=4')).finalMessage()).rejects.toThrow();
    await expect(anthropic.messages.create({ ...msg, model: 'claude-fake-cut-2', stream: true }).then(collect)).rejects.toThrow();
    // The fake's own cuts are not client aborts.
    expect(fake.stats.aborted).toBe(abortedBefore);
  });

  it('cut on a JSON response sends half the body, then drops the connection', async () => {
    await expect(openai.chat.completions.create(chat, fault('cut=1'))).rejects.toThrow(/terminated/);
  });

  it('malformed: a 200 whose JSON (or one SSE event) does not parse, and the SDKs throw', async () => {
    const r = await raw('/v1/chat/completions', chat, { 'x-fake-fault': 'malformed' });
    expect(r.status).toBe(200);
    expect(() => JSON.parse(r.text)).toThrow();
    await expect(quietOpenai.chat.completions.create(chat, fault('malformed'))).rejects.toBeInstanceOf(SyntaxError);
    await expect(quietOpenai.chat.completions.create({ ...chat, stream: true }, fault('malformed')).then(collect)).rejects.toBeInstanceOf(SyntaxError);
    await expect(quietAnthropic.messages.create({ ...msg, model: 'claude-fake-malformed' })).rejects.toBeInstanceOf(SyntaxError);
    await expect(quietAnthropic.messages.stream(msg, fault('malformed')).finalMessage()).rejects.toThrow();
  });

  it('drip: the body arrives a few bytes at a time, still parseable, multi-byte characters included', async () => {
    const started = Date.now();
    const r = await raw('/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: 'café ☕' }] }, { 'x-fake-fault': 'drip=16' });
    expect(r.pieces).toBeGreaterThan(10);
    expect(Date.now() - started).toBeGreaterThanOrEqual(r.pieces * 4);
    expect(JSON.parse(r.text).choices[0].message.content).toBe('Echo: café ☕');
    const dripped = await anthropic.messages.create({ ...msg, model: 'claude-fake-drip' });
    expect(dripped.content[0]).toEqual({ type: 'text', text: 'Echo: one two three four' });
    const streamed = await anthropic.messages.stream(msg, fault('drip=64')).finalMessage();
    expect(streamed.content[0]).toEqual({ type: 'text', text: 'Echo: one two three four' });
  });

  it('delay and chunk-delay hold the headers and space the events', async () => {
    let t = Date.now();
    await openai.chat.completions.create({ ...chat, model: 'gpt-4o-fake-slow-150' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
    t = Date.now();
    const { response } = await openai.chat.completions.create(chat, fault('delay=120')).withResponse();
    expect(Date.now() - t).toBeGreaterThanOrEqual(110);
    expect(response.status).toBe(200);
    t = Date.now();
    const chunks = await collect(await openai.chat.completions.create({ ...chat, stream: true }, fault('chunk-delay=20')));
    expect(Date.now() - t).toBeGreaterThanOrEqual((chunks.length - 1) * 18);
  });

  it('usage=<input>/<output>/<cached>/<reasoning>[/<cacheWrite>] forces exact numbers', async () => {
    const r = await openai.chat.completions.create(chat, fault('usage=1000/20/512/7'));
    expect(r.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 20, total_tokens: 1020, prompt_tokens_details: { cached_tokens: 512 }, completion_tokens_details: { reasoning_tokens: 7 } });
    const chunks = await collect(await openai.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } }, fault('usage=11/22')));
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 });
    const resp = await openai.responses.create({ model: 'gpt-4o', input: 'x' }, fault('usage=5/6/0/2'));
    expect(resp.usage).toMatchObject({ input_tokens: 5, output_tokens: 6, total_tokens: 11, output_tokens_details: { reasoning_tokens: 2 } });
    const m = await anthropic.messages.stream(msg, fault('usage=10/20/30/0/40')).finalMessage();
    expect(m.usage).toMatchObject({ input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 30, cache_creation_input_tokens: 40 });
  });

  it('words=<n> makes the answer exactly n words, streamed as n deltas', async () => {
    const chunks = await collect(await openai.chat.completions.create({ ...chat, stream: true }, fault('words=250')));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text.split(' ')).toHaveLength(250);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(250);
    const m = await anthropic.messages.create(msg, fault('words=3'));
    expect(m.content[0]).toEqual({ type: 'text', text: 'word0 word1 word2' });
    expect(m.usage.output_tokens).toBe(3);
  });

  it('counts a client that walks away mid-stream as aborted, and closes its connection', async () => {
    const before = fake.stats.aborted;
    const agent = new Agent();
    const ac = new AbortController();
    const res = await request(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      signal: ac.signal,
      headers: { 'content-type': 'application/json', 'x-fake-fault': 'chunk-delay=50,words=200' },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const first = await (async () => {
      for await (const c of res.body) return (c as Buffer).toString();
      return '';
    })();
    expect(first).toContain('chat.completion.chunk');
    ac.abort();
    await expect.poll(() => fake.stats.aborted, { timeout: 3_000 }).toBe(before + 1);
    await agent.close();
  });

  it('counts a client that leaves mid-body as aborted, without crashing', async () => {
    const before = fake.stats.aborted;
    const receivedBefore = fake.stats.received;
    const socket = connect(fake.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":"gpt-4o",');
    // Leave once the server has the request (its headers), while its body is still incomplete.
    await expect.poll(() => fake.stats.received, { timeout: 3_000 }).toBe(receivedBefore + 1);
    socket.destroy();
    await expect.poll(() => fake.stats.aborted, { timeout: 3_000 }).toBe(before + 1);
    const ok = await openai.chat.completions.create(chat);
    expect(ok.choices[0]?.message.content).toBe('Echo: one two three four five six');
  });

  it('header and magic model name combine; the header wins where they overlap', () => {
    expect(parseFaults(undefined, 'gpt-4o')).toBe(NO_FAULTS);
    expect(parseFaults('status=503, retry-after=2 ,drip', 'gpt-4o-fake-error-429-fake-slow-10')).toMatchObject({ status: 503, retryAfter: '2', delayMs: 10, dripBytes: 5 });
    expect(parseFaults('body=%7B%22a%22%3A1%7D,status=500', undefined)).toMatchObject({ body: '{"a":1}', status: 500 });
    expect(parseFaults('cut=x', undefined).invalid).toMatch(/cut/);
  });
});

describe('recording, stats and lifecycle', () => {
  it('records the last 100 requests with raw bytes, parsed JSON and headers; reset() forgets them', async () => {
    const own = await startFakeProvider();
    try {
      const client = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: 'sk-rec', maxRetries: 0 });
      for (let i = 0; i < 105; i++) await client.embeddings.create({ model: 'text-embedding-3-small', input: `text ${i}`, encoding_format: 'float' });
      expect(own.requests).toHaveLength(100);
      expect(own.stats.received).toBe(105);
      const first = own.requests[0];
      expect(first).toMatchObject({ method: 'POST', path: '/v1/embeddings', json: { input: 'text 5' } });
      expect(JSON.parse(first?.rawBody.toString() ?? '')).toEqual(first?.json);
      expect(first?.headers.authorization).toBe('Bearer sk-rec');
      expect(first?.receivedAt).toBeLessThanOrEqual(own.requests.at(-1)?.receivedAt ?? 0);
      own.reset();
      expect(own.requests).toHaveLength(0);
      expect(own.stats).toMatchObject({ received: 0, aborted: 0 });
    } finally {
      await own.close();
    }
  });

  it('keeps connections alive: sequential requests share one socket, counted in stats.open', async () => {
    const own = await startFakeProvider();
    const agent = new Agent({ connections: 1 });
    try {
      for (const path of ['/v1/models', '/v1/chat/completions', '/v1/nope']) {
        const res = await request(`${own.url}${path}`, { dispatcher: agent, method: path === '/v1/models' ? 'GET' : 'POST', body: path === '/v1/models' ? undefined : '{"model":"gpt-4o","messages":[]}' });
        expect(res.headers.connection).toBe('keep-alive');
        await res.body.text();
      }
      expect(own.stats).toMatchObject({ received: 3, open: 1 });
      await agent.close();
      await expect.poll(() => own.stats.open).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('close() ends in-flight slow responses instead of waiting for them', async () => {
    const own = await startFakeProvider();
    const client = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const slow = client.chat.completions.create({ model: 'gpt-4o', messages: [] }, fault('delay=30000')).catch((e: unknown) => e);
    await expect.poll(() => own.stats.received).toBe(1);
    // The answer is 30 s away: close() returning at all (within the test's timeout) means it did not wait.
    await own.close();
    expect(own.stats.open).toBe(0);
    expect(await slow).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('main.ts runs it as a process: prints its URL, reports ready over IPC, exits on SIGTERM', async () => {
    const child = fork('simulator/main.ts', ['--port', '0'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    try {
      let stdout = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      const ready = await new Promise<{ type: string; port: number }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { type: string; port: number }));
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      expect(ready).toMatchObject({ type: 'ready', port: expect.any(Number) });
      await expect.poll(() => stdout).toBe(`fake-provider listening on http://127.0.0.1:${ready.port}\n`);
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${ready.port}/v1`, apiKey: 'k', maxRetries: 0 });
      expect((await client.models.list()).data.length).toBeGreaterThan(0);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 20_000);
});
