// Replay through the official SDKs: an answer is recorded from the fake provider (the SDK reads the
// original bytes through a recording server standing where the proxy stands), stored as a cache
// entry, then served from that entry — as a stream and as JSON, from a stream entry and from a JSON
// entry — and the SDK must read back the same answer: text, reasoning/thinking, tool calls, usage.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, type CacheEntry } from '../../proxy/cache/entry.ts';
import { canReplay, ReplayError, toJson, toSse } from '../../proxy/cache/replay.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { startReplayServer, type ReplayServer } from './replay-harness.ts';

let fake: FakeProvider;
let srv: ReplayServer;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await startFakeProvider();
  srv = await startReplayServer(fake.url);
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: srv.url, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await srv?.close();
  await fake?.close();
});

function recordMode(injectUsage = false): void {
  srv.mode = { kind: 'record', upstream: fake.url, injectUsage };
}

/** The recorded entry, after a round trip through its Redis encoding. */
function recorded(): CacheEntry {
  const entry = srv.recorded;
  if (!entry) throw new Error('nothing recorded');
  const decoded = decodeEntry(encodeEntry(entry));
  expect(decoded).toEqual(entry);
  return decoded as CacheEntry;
}

function replayMode(entry: CacheEntry): void {
  srv.mode = { kind: 'replay', entry };
}

const weather: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** The parts of a completion a cached answer must reproduce. */
function essence(c: OpenAI.Chat.ChatCompletion): unknown {
  return {
    id: c.id,
    model: c.model,
    created: c.created,
    choices: c.choices.map((ch) => ({
      index: ch.index,
      finish_reason: ch.finish_reason,
      content: ch.message.content,
      role: ch.message.role,
      tool_calls: ch.message.tool_calls?.map((t) => (t.type === 'function' ? { id: t.id, type: t.type, name: t.function.name, arguments: t.function.arguments } : t)),
    })),
    usage: c.usage,
  };
}

describe('OpenAI chat completions', () => {
  const base = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Tell me about the weather in a few words please' }] };

  for (const tools of [undefined, [weather]]) {
    const label = tools ? 'tool call' : 'text';
    it(`${label}: stream entry → stream (SDK .stream().finalChatCompletion()) is the original, event by event`, async () => {
      const params = { ...base, ...(tools ? { tools } : {}), stream_options: { include_usage: true } };
      recordMode();
      const original = await openai.chat.completions.stream(params).finalChatCompletion();
      const entry = recorded();
      expect(entry.kind).toBe('stream');
      replayMode(entry);
      const replayed = await openai.chat.completions.stream(params).finalChatCompletion();
      expect(replayed).toEqual(original);
      expect(original.usage?.completion_tokens).toBeGreaterThan(0);
      // One SSE text per stored event, never one blob.
      expect(srv.writes.length).toBe(entry.events?.length);
      expect(srv.writes.every((w) => w.endsWith('\n\n') && w.indexOf('\n\n') === w.length - 2)).toBe(true);
    });

    it(`${label}: stream entry → JSON request gives the assembled chat.completion`, async () => {
      recordMode();
      const original = await openai.chat.completions.stream({ ...base, ...(tools ? { tools } : {}), stream_options: { include_usage: true } }).finalChatCompletion();
      replayMode(recorded());
      const json = await openai.chat.completions.create({ ...base, ...(tools ? { tools } : {}) });
      expect(json.object).toBe('chat.completion');
      expect(essence(json)).toEqual(essence(original));
    });

    it(`${label}: JSON entry → stream request gets a synthesised chunk sequence the SDK assembles to the original`, async () => {
      recordMode();
      const original = await openai.chat.completions.create({ ...base, ...(tools ? { tools } : {}) });
      const entry = recorded();
      expect(entry.kind).toBe('json');
      replayMode(entry);
      const withUsage = await openai.chat.completions.stream({ ...base, ...(tools ? { tools } : {}), stream_options: { include_usage: true } }).finalChatCompletion();
      expect(essence(withUsage)).toEqual(essence(original));
      expect(srv.writes.length).toBeGreaterThan(3);
      // Without include_usage: no usage chunk, no usage key.
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create({ ...base, ...(tools ? { tools } : {}), stream: true })) chunks.push(c);
      expect(chunks.some((c) => 'usage' in c)).toBe(false);
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe(original.choices[0]?.finish_reason);
      // JSON → JSON: the stored body as is.
      expect(await openai.chat.completions.create({ ...base, ...(tools ? { tools } : {}) })).toEqual(original);
    });
  }

  it('a stream stored with the usage the proxy injected is replayed without it to an app that did not ask', async () => {
    recordMode(true);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const c of await openai.chat.completions.create({ ...base, stream: true })) chunks.push(c);
    const entry = recorded();
    expect(entry.events?.some((e) => e.data.includes('"usage":{'))).toBe(true);
    expect(entry.usage.outputTokens).toBeGreaterThan(0);
    replayMode(entry);
    const plain: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const c of await openai.chat.completions.create({ ...base, stream: true })) plain.push(c);
    expect(plain.some((c) => 'usage' in c)).toBe(false);
    expect(plain.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''));
    const withUsage = await openai.chat.completions.stream({ ...base, stream_options: { include_usage: true } }).finalChatCompletion();
    expect(withUsage.usage?.completion_tokens).toBe(entry.usage.outputTokens);
  });

  it('a stream stored without usage gets a usage chunk built from the entry when the app asks', () => {
    const events = [
      { data: '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}' },
      { data: '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}' },
      { data: '[DONE]' },
    ];
    const entry: CacheEntry = { v: 1, dialect: 'openai', operation: 'chat', kind: 'stream', status: 200, contentType: 'text/event-stream', events, model: 'm', usage: { inputTokens: 10, cacheReadTokens: 2, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 5, reasoningTokens: 1 }, createdAt: 0, expiresAt: 1 };
    const sse = toSse(entry, 'openai', { includeUsage: true });
    expect(sse).toHaveLength(4);
    expect(JSON.parse((sse[2] as string).slice(6))).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } } });
    expect(JSON.parse(toJson(entry)).usage.total_tokens).toBe(15);
  });

  it('reasoning deltas of compatible servers (reasoning_content) survive both directions', () => {
    const chunk = (delta: object, finish: string | null = null): { data: string } => ({ data: JSON.stringify({ id: 'r1', object: 'chat.completion.chunk', created: 7, model: 'deepseek-reasoner', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }) });
    const events = [chunk({ role: 'assistant', content: '' }), chunk({ reasoning_content: 'First, ' }), chunk({ reasoning_content: 'think.' }), chunk({ content: 'Answer' }), chunk({ content: ' here' }), chunk({}, 'stop'), { data: '[DONE]' }];
    const usage = { inputTokens: 3, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 9, reasoningTokens: 4 };
    const entry: CacheEntry = { v: 1, dialect: 'openai', operation: 'chat', kind: 'stream', status: 200, contentType: 'text/event-stream', events, model: 'deepseek-reasoner', usage, createdAt: 0, expiresAt: 1 };
    const json = JSON.parse(toJson(entry));
    expect(json.choices[0].message).toMatchObject({ role: 'assistant', content: 'Answer here', reasoning_content: 'First, think.' });
    // And back: the JSON answer as a stream carries the reasoning deltas before the content.
    const back: CacheEntry = { ...entry, kind: 'json', body: JSON.stringify(json), events: undefined };
    const sse = toSse(back, 'openai');
    const deltas = sse.filter((s) => s.startsWith('data: {')).map((s) => JSON.parse(s.slice(6)).choices[0].delta as Record<string, string>);
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('First, think.');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Answer here');
    expect(sse.at(-1)).toBe('data: [DONE]\n\n');
  });
});

/**
 * A message as JSON on the wire: the stream helper's own additions (`parsed_output: null`, an
 * undefined `stop_details`) dropped, so a streamed and a JSON message can be compared.
 */
function wire(m: Anthropic.Message): unknown {
  const { parsed_output: _p, ...rest } = m as Anthropic.Message & { parsed_output?: unknown };
  return JSON.parse(JSON.stringify(rest));
}

describe('Anthropic messages', () => {
  const base = { model: 'claude-sonnet-4-5', max_tokens: 2048, messages: [{ role: 'user' as const, content: 'What is the weather like in a few words?' }] };
  const thinking = { type: 'enabled' as const, budget_tokens: 1024 };
  const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
  const variants = [
    { label: 'text', params: base },
    { label: 'thinking + text', params: { ...base, thinking } },
    { label: 'thinking + tool_use', params: { ...base, thinking, tools } },
  ];

  for (const { label, params } of variants) {
    it(`${label}: stream entry → stream (.stream().finalMessage()) and → JSON are the original`, async () => {
      recordMode();
      const original = await anthropic.messages.stream(params).finalMessage();
      const entry = recorded();
      expect(entry.kind).toBe('stream');
      replayMode(entry);
      expect(await anthropic.messages.stream(params).finalMessage()).toEqual(original);
      expect(srv.writes.length).toBe(entry.events?.length);
      expect(wire(await anthropic.messages.create(params))).toEqual(wire(original));
      if (label.includes('thinking')) {
        const block = original.content[0];
        expect(block?.type === 'thinking' && block.thinking.length > 0 && block.signature.length > 0).toBe(true);
        expect(entry.events?.filter((e) => e.data.includes('"thinking_delta"')).length).toBeGreaterThan(2);
        expect(entry.events?.some((e) => e.data.includes('"signature_delta"'))).toBe(true);
      }
      if (label.includes('tool')) expect(original.content.some((b) => b.type === 'tool_use' && JSON.stringify(b.input) === '{"city":"Paris"}')).toBe(true);
    });

    it(`${label}: JSON entry → stream is synthesised (thinking_delta + signature_delta, input_json_delta) and assembles to the original`, async () => {
      recordMode();
      const original = await anthropic.messages.create(params);
      const entry = recorded();
      expect(entry.kind).toBe('json');
      replayMode(entry);
      const events: string[] = [];
      const stream = anthropic.messages.stream(params);
      stream.on('streamEvent', (e) => events.push(e.type === 'content_block_delta' ? e.delta.type : e.type));
      expect(wire(await stream.finalMessage())).toEqual(wire(original));
      expect(events[0]).toBe('message_start');
      expect(events.at(-1)).toBe('message_stop');
      if (label.includes('thinking')) expect(events).toEqual(expect.arrayContaining(['thinking_delta', 'signature_delta']));
      if (label.includes('tool')) expect(events).toContain('input_json_delta');
      expect(await anthropic.messages.create(params)).toEqual(original);
    });
  }

  it('prompt-cache usage (cache reads and writes) is replayed unchanged', async () => {
    const system = [{ type: 'text' as const, text: 'You are a weather bot. '.repeat(50), cache_control: { type: 'ephemeral' as const } }];
    recordMode();
    await anthropic.messages.create({ ...base, system });
    const original = await anthropic.messages.stream({ ...base, system }).finalMessage();
    expect(original.usage.cache_read_input_tokens).toBeGreaterThan(0);
    const entry = recorded();
    expect(entry.usage.cacheReadTokens).toBe(original.usage.cache_read_input_tokens);
    expect(entry.usage.inputTokens).toBe(original.usage.input_tokens + (original.usage.cache_read_input_tokens ?? 0) + (original.usage.cache_creation_input_tokens ?? 0));
    replayMode(entry);
    expect((await anthropic.messages.create({ ...base, system })).usage).toEqual(original.usage);
  });
});

describe('what cannot be replayed', () => {
  it('another dialect, or a Responses/embeddings JSON entry as a stream, is refused (the caller treats it as a miss)', () => {
    const usage = { inputTokens: 1, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 1, reasoningTokens: 0 };
    const chat: CacheEntry = { v: 1, dialect: 'openai', operation: 'chat', kind: 'json', status: 200, contentType: 'application/json', body: '{"id":"x","choices":[]}', model: 'm', usage, createdAt: 0, expiresAt: 1 };
    expect(canReplay(chat, { dialect: 'anthropic', stream: false })).toBe(false);
    expect(() => toSse(chat, 'anthropic')).toThrow(ReplayError);
    const emb: CacheEntry = { ...chat, operation: 'embeddings' };
    expect(canReplay(emb, { dialect: 'openai', stream: true })).toBe(false);
    expect(canReplay(emb, { dialect: 'openai', stream: false })).toBe(true);
    expect(() => toSse(emb, 'openai')).toThrow(ReplayError);
    const responses: CacheEntry = {
      ...chat,
      operation: 'responses',
      kind: 'stream',
      body: undefined,
      events: [
        { event: 'response.created', data: '{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}' },
        { event: 'response.completed', data: '{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}' },
      ],
    };
    expect(canReplay(responses, { dialect: 'openai', stream: false })).toBe(true);
    expect(JSON.parse(toJson(responses))).toEqual({ id: 'resp_1', status: 'completed', output: [] });
    expect(toSse(responses, 'openai')[1]).toBe('event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}\n\n');
  });
});
