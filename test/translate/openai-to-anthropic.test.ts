// OpenAI app, Anthropic provider: request mapping, answer mapping (usage arithmetic included) and
// the Anthropic → OpenAI stream translator, event by event. End-to-end runs with the official SDKs
// are in e2e.test.ts.
import type Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { StreamTranslation } from '../../proxy/translate/index.ts';
import type { JsonObject } from '../../proxy/translate/narrow.ts';
import { AnthropicToOpenAIStream, DEFAULT_MAX_TOKENS, translateError, translateRequest, translateResponse } from '../../proxy/translate/openai-to-anthropic.ts';
import { parseSse, wire } from './sse-helpers.ts';

const request = (params: OpenAI.ChatCompletionCreateParams, options?: Parameters<typeof translateRequest>[2]): ReturnType<typeof translateRequest> =>
  translateRequest(wire(params), 'claude-sonnet-4-6', options);

describe('translateRequest (OpenAI → Anthropic)', () => {
  it('hoists system and developer messages into `system` text blocks', () => {
    const body = request({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(body.system).toEqual([
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Answer in French.' },
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
  });

  it('defaults max_tokens (required by Anthropic) and prefers max_completion_tokens', () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];
    expect(request({ model: 'gpt-4o', messages }).max_tokens).toBe(DEFAULT_MAX_TOKENS);
    expect(DEFAULT_MAX_TOKENS).toBe(4096);
    expect(request({ model: 'gpt-4o', messages, max_tokens: 50 }).max_tokens).toBe(50);
    expect(request({ model: 'gpt-4o', messages, max_tokens: 50, max_completion_tokens: 70 }).max_tokens).toBe(70);
  });

  it('maps stop, user, stream, and clamps temperature; top_p only without temperature', () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];
    const body = request({ model: 'gpt-4o', messages, stop: ['END', ' ', 'STOP'], user: 'user-42', temperature: 1.7, top_p: 0.5, stream: true, seed: 7, n: 1 });
    expect(body).toEqual({
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      max_tokens: 4096,
      temperature: 1,
      stop_sequences: ['END', 'STOP'],
      metadata: { user_id: 'user-42' },
      stream: true,
    });
    expect(request({ model: 'gpt-4o', messages, stop: 'END', top_p: 0.5 })).toMatchObject({ stop_sequences: ['END'], top_p: 0.5 });
    expect(request({ model: 'gpt-4o', messages, temperature: -1 }).temperature).toBe(0);
    const omitted = request({ model: 'gpt-4o', messages, temperature: 0.2, top_p: 0.5 }, { sampling: 'omit' });
    expect(omitted.temperature).toBeUndefined();
    expect(omitted.top_p).toBeUndefined();
  });

  it('merges consecutive same-role messages so roles alternate', () => {
    const body = request({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'user', content: [{ type: 'text', text: 'second' }] },
        { role: 'assistant', content: 'one' },
        { role: 'assistant', content: '  ' }, // blank: dropped (Anthropic rejects blank text)
        { role: 'assistant', content: 'two' },
        { role: 'user', content: 'third' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'first' }, { type: 'text', text: 'second' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
      { role: 'user', content: [{ type: 'text', text: 'third' }] },
    ]);
  });

  it('maps tool calls to tool_use and tool messages to tool_result blocks of one user turn, results first', () => {
    const body = request({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: 'not json' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'station' }, { type: 'text', text: 'offline' }] },
        { role: 'user', content: 'Thanks!' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18°C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'station\noffline' },
          { type: 'text', text: 'Thanks!' },
        ],
      },
    ]);
  });

  it('maps images: data URL → base64 source, http URL → url source; PDFs to documents', () => {
    const body = request({
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'report.pdf' } },
          ],
        },
      ],
    });
    expect(body.messages[0]?.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'report.pdf' },
    ]);
  });

  it('maps tools and tool_choice', () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      { type: 'function', function: { name: 'now' } },
    ];
    const base = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }], tools };
    const body = request(base);
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.tool_choice).toBeUndefined();
    expect(request({ ...base, tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(request({ ...base, tool_choice: 'required' }).tool_choice).toEqual({ type: 'any' });
    expect(request({ ...base, tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(request({ ...base, tool_choice: { type: 'function', function: { name: 'now' } } }).tool_choice).toEqual({ type: 'tool', name: 'now' });
    expect(request({ ...base, parallel_tool_calls: false }).tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(request({ ...base, tool_choice: 'required', parallel_tool_calls: false }).tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
  });

  it('asks for JSON in the system prompt when a JSON response format is requested', () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }];
    const objectMode = request({ model: 'gpt-4o', messages, response_format: { type: 'json_object' } });
    expect(objectMode.system?.[0]).toEqual({ type: 'text', text: 'Be brief.' });
    expect(objectMode.system?.[1]?.text).toMatch(/JSON object/);
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const schemaMode = request({ model: 'gpt-4o', messages, response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } });
    expect(schemaMode.system?.[1]?.text).toContain(JSON.stringify(schema));
    expect(request({ model: 'gpt-4o', messages, response_format: { type: 'text' } }).system).toHaveLength(1);
  });
});

const message = (overrides: Partial<Anthropic.Message>): JsonObject =>
  wire({
    id: 'msg_01abc',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [{ type: 'text', text: 'Hello!' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 50, output_tokens: 7 },
    ...overrides,
  });

describe('translateResponse (Anthropic → OpenAI)', () => {
  it('maps text, id, model and finish reason into a chat completion the SDK types accept', () => {
    const completion: OpenAI.ChatCompletion = translateResponse(message({}), 'gpt-4o');
    expect(completion).toMatchObject({
      id: 'chatcmpl-01abc',
      object: 'chat.completion',
      model: 'claude-sonnet-4-6',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    });
    expect(Math.abs(completion.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it('puts cache reads and writes INSIDE prompt_tokens (Anthropic counts them outside input_tokens)', () => {
    expect(translateResponse(message({}), 'gpt-4o').usage).toEqual({
      prompt_tokens: 1150,
      completion_tokens: 7,
      total_tokens: 1157,
      prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 50 },
    });
  });

  it('concatenates text blocks, drops thinking, and maps tool_use to tool_calls', () => {
    const completion = translateResponse(
      message({
        stop_reason: 'tool_use',
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Let me ', citations: null },
          { type: 'text', text: 'check.', citations: null },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } },
        ],
      }),
      'gpt-4o',
    );
    expect(completion.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Let me check.',
      refusal: null,
      tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    const toolOnly = translateResponse(message({ stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 't', name: 'n', input: {}, caller: { type: 'direct' } }] }), 'gpt-4o');
    expect(toolOnly.choices[0]?.message.content).toBeNull();
  });

  it('maps every stop reason', () => {
    const cases = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' } as const;
    for (const [stop, finish] of Object.entries(cases)) {
      expect(translateResponse(message({ stop_reason: stop as keyof typeof cases }), 'gpt-4o').choices[0]?.finish_reason).toBe(finish);
    }
  });

  it('translates error bodies to OpenAI errors, keeping Anthropic’s type as the code', () => {
    const err = translateError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(err).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded_error' } });
  });
});

const ev = (type: string, data: object): [string, JsonObject] => [type, wire({ type, ...data })];

/** The events of a streamed text answer, as Anthropic sends them. */
function textEvents(words: string[]): [string, JsonObject][] {
  return [
    ev('message_start', { message: { id: 'msg_01s', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 50, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...words.map((text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }),
    ev('message_stop', {}),
  ];
}

describe('AnthropicToOpenAIStream', () => {
  it('fits the proxy stream translator interface', () => {
    const t: StreamTranslation = new AnthropicToOpenAIStream({ includeUsage: false, requestedModel: 'gpt-4o' });
    expect(t.hasContent).toBe(false);
  });

  it('holds the preamble until the first text, then sends the role chunk with it', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: true, requestedModel: 'gpt-4o' });
    const events = textEvents(['Hello', ' world']);
    const outputs = events.map(([name, data]) => t.push(name, data));
    // message_start, content_block_start (empty text) and ping produce nothing.
    expect(outputs.slice(0, 3)).toEqual(['', '', '']);
    const first = parseSse(outputs[3] ?? '');
    expect(first.map((e) => e.json?.choices)).toEqual([
      [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      [{ index: 0, delta: { content: 'Hello' }, logprobs: null, finish_reason: null }],
    ]);
    expect(first[0]?.json).toMatchObject({ id: 'chatcmpl-01s', object: 'chat.completion.chunk', model: 'claude-sonnet-4-6', usage: null });
    expect(parseSse(outputs[4] ?? '')[0]?.json?.choices).toEqual([{ index: 0, delta: { content: ' world' }, logprobs: null, finish_reason: null }]);
    expect(outputs[5]).toBe(''); // content_block_stop
    expect(parseSse(outputs[6] ?? '')[0]?.json?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(outputs[7]).toBe(''); // message_stop
    const tail = parseSse(t.end());
    expect(tail.map((e) => e.data === '[DONE]' || e.json?.choices)).toEqual([[], true]);
    expect(tail[0]?.json?.usage).toEqual({ prompt_tokens: 1150, completion_tokens: 7, total_tokens: 1157, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 50 } });
  });

  it('leaves out the usage chunk (and usage: null) unless the app asked for it', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: false, requestedModel: 'gpt-4o' });
    const out = textEvents(['Hi']).map(([name, data]) => t.push(name, data)).join('') + t.end();
    const events = parseSse(out);
    expect(events.at(-1)?.data).toBe('[DONE]');
    expect(events.some((e) => e.json !== undefined && 'usage' in e.json)).toBe(false);
  });

  it('streams tool_use blocks as tool_calls deltas (index, id, type, name, then argument fragments) and drops thinking', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: false, requestedModel: 'gpt-4o' });
    const events: [string, JsonObject][] = [
      ev('message_start', { message: { id: 'msg_01t', model: 'claude-sonnet-4-6', content: [], usage: { input_tokens: 10, output_tokens: 1 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } }),
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } }),
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
      ev('content_block_stop', { index: 1 }),
      ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} } }),
      ev('content_block_stop', { index: 2 }),
      ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 12 } }),
      ev('message_stop', {}),
    ];
    const outputs = events.slice(0, 5).map(([name, data]) => t.push(name, data));
    // Thinking is not content for an OpenAI app: still nothing written.
    expect(outputs.join('')).toBe('');
    expect(t.hasContent).toBe(false);
    for (const [name, data] of events.slice(5)) outputs.push(t.push(name, data));
    expect(t.hasContent).toBe(true);
    const deltas = parseSse(outputs.join('') + t.end())
      .filter((e) => e.json)
      .map((e) => (e.json?.choices as { delta: unknown; finish_reason: unknown }[])[0]);
    expect(deltas).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      { index: 0, delta: { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, logprobs: null, finish_reason: null },
      { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, logprobs: null, finish_reason: null },
      { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, logprobs: null, finish_reason: null },
      { index: 0, delta: { tool_calls: [{ index: 1, id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '' } }] }, logprobs: null, finish_reason: null },
      { index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' },
    ]);
  });

  it('completes an answer without content only at end(), so push holds everything', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: true, requestedModel: 'gpt-4o' });
    const events: [string, JsonObject][] = [
      ev('message_start', { message: { id: 'msg_01e', model: 'claude-x', content: [], usage: { input_tokens: 10, output_tokens: 1 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 0 } }),
      ev('message_stop', {}),
    ];
    expect(events.map(([name, data]) => t.push(name, data)).join('')).toBe('');
    expect(t.hasContent).toBe(false);
    const tail = parseSse(t.end());
    expect(tail.map((e) => (e.json ? (e.json.choices as { delta: unknown; finish_reason: unknown }[])[0] ?? 'usage' : e.data))).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      { index: 0, delta: {}, logprobs: null, finish_reason: 'length' },
      'usage',
      '[DONE]',
    ]);
    expect(tail[2]?.json?.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 0, total_tokens: 10 });
  });

  it('takes final usage totals from message_delta when the API sends them there', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: true, requestedModel: 'gpt-4o' });
    const events = textEvents(['x']);
    const delta = events.find(([name]) => name === 'message_delta');
    if (delta) delta[1].usage = { input_tokens: 200, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 9 };
    const out = events.map(([name, data]) => t.push(name, data)).join('') + t.end();
    const usage = parseSse(out).find((e) => e.json?.usage)?.json?.usage;
    expect(usage).toEqual({ prompt_tokens: 200, completion_tokens: 9, total_tokens: 209, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 } });
  });

  it('turns an Anthropic error event into an OpenAI error chunk, then only [DONE]', () => {
    const t = new AnthropicToOpenAIStream({ includeUsage: true, requestedModel: 'gpt-4o' });
    const [start, blockStart, , firstDelta] = textEvents(['partial']);
    for (const e of [start, blockStart, firstDelta]) if (e) t.push(e[0], e[1]);
    const out = t.push('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(parseSse(out)[0]?.json).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded_error' } });
    expect(t.push('message_stop', { type: 'message_stop' })).toBe('');
    expect(t.end()).toBe('data: [DONE]\n\n');
  });
});
