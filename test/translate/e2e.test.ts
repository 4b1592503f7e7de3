// End to end: an official SDK speaks its own API to a tiny translating server (in this file), which
// translates the request, calls the fake provider in the OTHER API with undici, and translates the
// answer back — JSON whole, SSE event by event, the way the proxy drives the translators. The SDK
// must get valid typed objects, with usage consistent with what the provider reported.
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiDialect } from '../../shared/errors.ts';
import { parseEvent, SseSplitter } from '../../proxy/sse.ts';
import { translation } from '../../proxy/translate/index.ts';
import { asObject, type JsonObject } from '../../proxy/translate/narrow.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { parseSse } from './sse-helpers.ts';

/** The models the fallback lands on, in the provider's API. */
const OPENAI_TARGET = 'gpt-4o-mini';
const ANTHROPIC_TARGET = 'claude-sonnet-4-6';

/** What one translated call looked like on both sides. */
interface Exchange {
  upstreamRequest: JsonObject;
  /** The provider's answer, raw (JSON text or SSE text). */
  upstreamRaw: string;
  /** For a stream: what each provider event turned into, and whether content had been seen by then. */
  pushes: { out: string; hasContent: boolean }[];
  /** Everything written to the app. */
  written: string;
}

let fake: FakeProvider;
let server: Server;
let exchanges: Exchange[] = [];
let anthropic: Anthropic;
let openai: OpenAI;

async function readBody(req: IncomingMessage): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return asObject(JSON.parse(Buffer.concat(chunks).toString('utf8'))) ?? {};
}

/** The translating server: Anthropic apps on /v1/messages, OpenAI apps on /v1/chat/completions. */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const client: ApiDialect = req.url?.startsWith('/v1/messages') ? 'anthropic' : 'openai';
  const provider: ApiDialect = client === 'anthropic' ? 'openai' : 'anthropic';
  const t = translation(client, provider);
  if (!t) throw new Error('no translation');
  const upstreamRequest = t.request(body, provider === 'openai' ? OPENAI_TARGET : ANTHROPIC_TARGET);
  const ex: Exchange = { upstreamRequest, upstreamRaw: '', pushes: [], written: '' };
  exchanges.push(ex);
  const fault = req.headers['x-fake-fault'];
  const up = await request(`${fake.url}${provider === 'openai' ? '/v1/chat/completions' : '/v1/messages'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(provider === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}), ...(typeof fault === 'string' ? { 'x-fake-fault': fault } : {}) },
    body: JSON.stringify(upstreamRequest),
  });
  const write = (text: string): void => {
    ex.written += text;
    res.write(text);
  };
  if (!String(up.headers['content-type']).includes('text/event-stream')) {
    ex.upstreamRaw = await up.body.text();
    const json = asObject(JSON.parse(ex.upstreamRaw)) ?? {};
    res.writeHead(up.statusCode, { 'content-type': 'application/json' });
    write(JSON.stringify(up.statusCode >= 400 ? t.error(up.statusCode, json) : t.response(json, String(body.model))));
    res.end();
    return;
  }
  const stream = t.stream({ includeUsage: asObject(body.stream_options)?.include_usage === true, requestedModel: String(body.model) });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const splitter = new SseSplitter();
  for await (const chunk of up.body) {
    ex.upstreamRaw += (chunk as Buffer).toString('utf8');
    for (const raw of splitter.push(chunk as Buffer)) {
      const ev = parseEvent(raw);
      if (ev.data === '[DONE]') continue;
      const out = stream.push(ev.event, JSON.parse(ev.data) as JsonObject);
      ex.pushes.push({ out, hasContent: stream.hasContent });
      if (out) write(out);
    }
  }
  write(stream.end());
  res.end();
}

beforeAll(async () => {
  fake = await startFakeProvider();
  server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error(err);
      res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  anthropic = new Anthropic({ baseURL: url, apiKey: 'sk-ant-test', maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await fake?.close();
});

beforeEach(() => {
  exchanges = [];
});

const fault = (spec: string): { headers: Record<string, string> } => ({ headers: { 'x-fake-fault': spec } });

function lastExchange(): Exchange {
  const ex = exchanges.at(-1);
  if (!ex) throw new Error('no exchange recorded');
  return ex;
}

/** The usage object of the provider's answer (JSON body, or the last SSE event carrying one). */
function upstreamUsage(ex: Exchange): JsonObject {
  if (!ex.upstreamRaw.startsWith('data:') && !ex.upstreamRaw.startsWith('event:')) return asObject(asObject(JSON.parse(ex.upstreamRaw))?.usage) ?? {};
  const events = parseSse(ex.upstreamRaw).map((e) => e.json);
  return asObject(events.filter((j) => asObject(j?.usage)).at(-1)?.usage) ?? {};
}

/** The preamble rule: nothing written before content, something written with it. */
function expectHeldUntilContent(ex: Exchange): void {
  const firstContent = ex.pushes.findIndex((p) => p.hasContent);
  // OpenAI opens a tool call in its very first chunk: then there is no preamble to hold.
  expect(firstContent).toBeGreaterThanOrEqual(0);
  expect(ex.pushes.slice(0, firstContent).every((p) => p.out === '')).toBe(true);
  expect(ex.pushes[firstContent]?.out).not.toBe('');
}

const weatherToolAnthropic: Anthropic.Tool = { name: 'get_weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const weatherToolOpenAI: OpenAI.ChatCompletionTool = { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('Anthropic SDK over an OpenAI provider', () => {
  it('messages.create: text, the answering model, and usage with cached tokens taken out of input', async () => {
    const msg = await anthropic.messages.create(
      { model: 'claude-sonnet-4-6', max_tokens: 200, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: 'Hello there' }] },
      fault('usage=1300/12/1152'),
    );
    expect(msg.type).toBe('message');
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.model).toBe(OPENAI_TARGET);
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: Hello there', citations: null }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toEqual({ input_tokens: 148, cache_read_input_tokens: 1152, cache_creation_input_tokens: 0, output_tokens: 12 });
    expect(lastExchange().upstreamRequest).toMatchObject({ model: OPENAI_TARGET, max_completion_tokens: 200, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }] });
  });

  it('messages.create: usage follows what the provider reported', async () => {
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] });
    const usage = upstreamUsage(lastExchange());
    const cached = Number(asObject(usage.prompt_tokens_details)?.cached_tokens ?? 0);
    expect(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0)).toBe(usage.prompt_tokens);
    expect(msg.usage.cache_read_input_tokens).toBe(cached);
    expect(msg.usage.output_tokens).toBe(usage.completion_tokens);
  });

  it('messages.create: a tool call comes back as a tool_use block with parsed input', async () => {
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 200, tools: [weatherToolAnthropic], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(msg.stop_reason).toBe('tool_use');
    const block = msg.content[0];
    expect(block?.type).toBe('tool_use');
    if (block?.type !== 'tool_use') return;
    expect(block.name).toBe('get_weather');
    expect(block.input).toEqual({ city: 'Paris' });
    expect(block.id).toMatch(/^call_/);
    expect(lastExchange().upstreamRequest).toMatchObject({ tool_choice: 'required', tools: [{ type: 'function', function: { name: 'get_weather' } }] });
  });

  it('messages.create: a tool_result history reaches the provider as tool messages', async () => {
    const msg = await anthropic.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 200,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_abc', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_abc', content: '18°C and sunny' }, { type: 'text', text: 'Summarise that' }] },
      ],
    });
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: Summarise that', citations: null }]);
    expect(lastExchange().upstreamRequest.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_abc', content: '18°C and sunny' },
      { role: 'user', content: 'Summarise that' },
    ]);
  });

  it('messages.stream: text events arrive one by one and finalMessage carries the provider usage', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 200, messages: [{ role: 'user', content: 'stream me some words' }] }, fault('usage=1300/5/1152'));
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const msg = await stream.finalMessage();
    expect(texts.join('')).toBe('Echo: stream me some words');
    expect(texts.length).toBeGreaterThan(1);
    expect(msg.model).toBe(OPENAI_TARGET);
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: stream me some words' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 148, cache_read_input_tokens: 1152, cache_creation_input_tokens: 0, output_tokens: 5 });
    const ex = lastExchange();
    expect(ex.upstreamRequest).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expectHeldUntilContent(ex);
    const names = parseSse(ex.written).map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('messages.stream: a streamed tool call becomes a tool_use block with its input assembled', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 200, tools: [weatherToolAnthropic], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const fragments: string[] = [];
    stream.on('inputJson', (partial) => fragments.push(partial));
    const msg = await stream.finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toHaveLength(1);
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    expect(fragments.join('')).toBe('{"city":"Paris"}');
    const usage = upstreamUsage(lastExchange());
    expect(msg.usage.output_tokens).toBe(usage.completion_tokens);
    expect(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0)).toBe(usage.prompt_tokens);
    expectHeldUntilContent(lastExchange());
  });

  it('a provider error reaches the SDK as its typed error', async () => {
    await expect(anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, fault('status=429'))).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(JSON.parse(lastExchange().written)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});

describe('OpenAI SDK over an Anthropic provider', () => {
  it('chat.completions.create: text, the answering model, and usage with cache tokens put into prompt_tokens', async () => {
    const completion = await openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }] },
      fault('usage=100/7/1000/0/50'),
    );
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe(ANTHROPIC_TARGET);
    expect(completion.choices[0]?.message).toEqual({ role: 'assistant', content: 'Echo: Hello there', refusal: null });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 1150, completion_tokens: 7, total_tokens: 1157, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 50 } });
    expect(lastExchange().upstreamRequest).toEqual({
      model: ANTHROPIC_TARGET,
      max_tokens: 4096,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }],
    });
  });

  it('chat.completions.create: usage follows what the provider reported', async () => {
    const completion = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] });
    const usage = upstreamUsage(lastExchange());
    const input = Number(usage.input_tokens) + Number(usage.cache_read_input_tokens) + Number(usage.cache_creation_input_tokens);
    expect(completion.usage?.prompt_tokens).toBe(input);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(usage.cache_read_input_tokens);
    expect(completion.usage?.completion_tokens).toBe(usage.output_tokens);
    expect(completion.usage?.total_tokens).toBe(input + Number(usage.output_tokens));
  });

  it('chat.completions.create: a tool_use answer comes back as tool_calls', async () => {
    const completion = await openai.chat.completions.create({ model: 'gpt-4o', tools: [weatherToolOpenAI], tool_choice: { type: 'function', function: { name: 'get_weather' } }, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') return;
    expect(call.id).toMatch(/^toolu_/);
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(lastExchange().upstreamRequest).toMatchObject({ tool_choice: { type: 'tool', name: 'get_weather' }, tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] });
  });

  it('chat.completions.create: tool results reach the provider as tool_result blocks', async () => {
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_abc', content: '18°C and sunny' },
        { role: 'user', content: 'Summarise that' },
      ],
    });
    // The fake echoes every text of the last user turn, tool results included.
    expect(completion.choices[0]?.message.content).toBe('Echo: 18°C and sunny Summarise that');
    expect(lastExchange().upstreamRequest.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_abc', name: 'get_weather', input: { city: 'Paris' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_abc', content: '18°C and sunny' },
          { type: 'text', text: 'Summarise that' },
        ],
      },
    ]);
  });

  it('chat.completions.stream: content deltas one by one, finalChatCompletion with usage', async () => {
    const stream = openai.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'stream me some words' }], stream_options: { include_usage: true } }, fault('usage=100/5/1000/0/50'));
    const deltas: string[] = [];
    stream.on('content', (delta) => deltas.push(delta));
    const completion = await stream.finalChatCompletion();
    expect(deltas.join('')).toBe('Echo: stream me some words');
    expect(deltas.length).toBeGreaterThan(1);
    expect(completion.model).toBe(ANTHROPIC_TARGET);
    expect(completion.choices[0]?.message.content).toBe('Echo: stream me some words');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 1150, completion_tokens: 5, total_tokens: 1155, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 50 } });
    const ex = lastExchange();
    expectHeldUntilContent(ex);
    const written = parseSse(ex.written);
    expect((written[0]?.json?.choices as unknown[])[0]).toMatchObject({ delta: { role: 'assistant', content: '' } });
    expect(written.at(-1)?.data).toBe('[DONE]');
  });

  it('chat.completions.create({stream: true}) without include_usage: typed chunks, no usage chunk', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'plain stream' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Echo: plain stream');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.every((c) => c.usage === undefined && c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('chat.completions.stream: a streamed tool_use becomes a tool call with its arguments assembled', async () => {
    const stream = openai.chat.completions.stream({ model: 'gpt-4o', tools: [weatherToolOpenAI], messages: [{ role: 'user', content: 'Weather in Paris?' }], stream_options: { include_usage: true } });
    const done: string[] = [];
    stream.on('tool_calls.function.arguments.done', (e) => done.push(`${e.name}:${e.arguments}`));
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.tool_calls).toEqual([{ id: expect.stringMatching(/^toolu_/) as string, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(done).toEqual(['get_weather:{"city":"Paris"}']);
    const usage = upstreamUsage(lastExchange());
    expect(completion.usage?.completion_tokens).toBe(usage.output_tokens);
    expectHeldUntilContent(lastExchange());
  });

  it('a provider error reaches the SDK as its typed error', async () => {
    const err: unknown = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, fault('status=529')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(529);
    expect(JSON.parse(lastExchange().written)).toMatchObject({ error: { type: 'server_error', code: 'overloaded_error' } });
  });
});
