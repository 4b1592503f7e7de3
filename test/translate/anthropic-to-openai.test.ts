// Anthropic app, OpenAI provider: request mapping, answer mapping (usage arithmetic included) and
// the OpenAI → Anthropic stream translator, chunk by chunk. End-to-end runs with the official SDKs
// are in e2e.test.ts.
import type Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { StreamTranslation } from '../../proxy/translate/index.ts';
import { OpenAIToAnthropicStream, translateError, translateRequest, translateResponse } from '../../proxy/translate/anthropic-to-openai.ts';
import type { JsonObject } from '../../proxy/translate/narrow.ts';
import { parseSse, wire } from './sse-helpers.ts';

const request = (params: Anthropic.MessageCreateParams): OpenAI.ChatCompletionCreateParams => translateRequest(wire(params), 'gpt-4o-mini');

describe('translateRequest (Anthropic → OpenAI)', () => {
  it('maps a system prompt (string or text blocks, cache_control dropped) to a leading system message', () => {
    const fromString = request({ model: 'claude-sonnet-4-6', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });
    expect(fromString.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
    const fromBlocks = request({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      system: [
        { type: 'text', text: 'You are a helper.' },
        { type: 'text', text: 'Long context…', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(fromBlocks.messages[0]).toEqual({ role: 'system', content: 'You are a helper.\n\nLong context…' });
    expect(JSON.stringify(fromBlocks)).not.toContain('cache_control');
  });

  it('maps the scalar parameters and drops thinking, effort and top_k', () => {
    const params: Anthropic.MessageCreateParams = {
      model: 'claude-sonnet-4-6',
      max_tokens: 321,
      stop_sequences: ['END', 'STOP', 'a', 'b', 'c'],
      metadata: { user_id: 'user-42' },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      output_config: { effort: 'low' },
      messages: [{ role: 'user', content: 'hi' }],
    };
    // SDK v1 no longer types the sampling parameters, but raw HTTP clients still send them.
    const body = translateRequest(wire({ ...params, temperature: 0.3, top_p: 0.9, top_k: 40 }), 'gpt-4o-mini');
    expect(body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 321,
      temperature: 0.3,
      top_p: 0.9,
      stop: ['END', 'STOP', 'a', 'b'],
      user: 'user-42',
    });
  });

  it('maps structured outputs (output_config.format) to a json_schema response format', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const body = request({ model: 'c', max_tokens: 10, output_config: { format: { type: 'json_schema', schema } }, messages: [{ role: 'user', content: 'hi' }] });
    expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response', schema } });
  });

  it('asks for usage in the stream, since Anthropic clients always get it', () => {
    const body = translateRequest(wire({ model: 'c', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }), 'gpt-4o');
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
  });

  it('maps images: base64 source → data URL, url source → url', () => {
    const body = request({
      model: 'c',
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it('maps tool use: tool_use → tool_calls, tool_result → tool messages before the rest of the user turn', () => {
    const body = request({
      model: 'c',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'two calls', signature: 'sig' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              is_error: true,
              content: [
                { type: 'text', text: 'station offline' },
                { type: 'image', source: { type: 'url', url: 'https://example.com/map.png' } },
              ],
            },
            { type: 'text', text: 'Thanks!' },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: station offline' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'https://example.com/map.png' } },
          { type: 'text', text: 'Thanks!' },
        ],
      },
    ]);
  });

  it('maps an assistant turn that only calls a tool to content null', () => {
    const body = request({
      model: 'c',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'ping', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9' }] },
      ],
    });
    expect(body.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'ping', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_9', content: '' },
    ]);
  });

  it('maps tools and every tool_choice; server tools are dropped', () => {
    const tools: Anthropic.MessageCreateParams['tools'] = [
      { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      { type: 'web_search_20250305', name: 'web_search' },
    ];
    const base = { model: 'c', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }], tools };
    const body = request({ ...base, tool_choice: { type: 'auto' } });
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
    ]);
    expect(body.tool_choice).toBe('auto');
    expect(request({ ...base, tool_choice: { type: 'any' } }).tool_choice).toBe('required');
    expect(request({ ...base, tool_choice: { type: 'none' } }).tool_choice).toBe('none');
    expect(request({ ...base, tool_choice: { type: 'tool', name: 'get_weather' } }).tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    const serial = request({ ...base, tool_choice: { type: 'any', disable_parallel_tool_use: true } });
    expect(serial.parallel_tool_calls).toBe(false);
    expect(request(base).tool_choice).toBeUndefined();
    // Without tools OpenAI rejects tool_choice: it is left out.
    expect(request({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], tool_choice: { type: 'any' } }).tool_choice).toBeUndefined();
  });
});

const completion = (overrides: Partial<OpenAI.ChatCompletion> & { message?: Partial<OpenAI.ChatCompletionMessage>; finish?: OpenAI.ChatCompletion.Choice['finish_reason'] }): JsonObject => {
  const { message, finish, ...rest } = overrides;
  const value: OpenAI.ChatCompletion = {
    id: 'chatcmpl-abc123',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null, ...message }, logprobs: null, finish_reason: finish ?? 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 7, total_tokens: 1207, prompt_tokens_details: { cached_tokens: 1024 } },
    ...rest,
  };
  return wire(value);
};

describe('translateResponse (OpenAI → Anthropic)', () => {
  it('maps text, id, the model that answered and stop reason', () => {
    const msg = translateResponse(completion({}), 'claude-sonnet-4-6');
    expect(msg).toMatchObject({
      id: 'msg_abc123',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-mini-2024-07-18',
      content: [{ type: 'text', text: 'Hello!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
  });

  it('takes cached tokens OUT of input_tokens (OpenAI counts them inside prompt_tokens)', () => {
    expect(translateResponse(completion({}), 'c').usage).toEqual({ input_tokens: 176, cache_read_input_tokens: 1024, cache_creation_input_tokens: 0, output_tokens: 7 });
    const noDetails = completion({ usage: { prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 } });
    expect(translateResponse(noDetails, 'c').usage).toEqual({ input_tokens: 50, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 5 });
  });

  it('maps tool calls to tool_use blocks; invalid JSON arguments become {}', () => {
    const json = completion({
      finish: 'tool_calls',
      message: {
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } },
        ],
      },
    });
    const msg = translateResponse(json, 'c');
    expect(msg.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
    ]);
    expect(msg.stop_reason).toBe('tool_use');
  });

  it('maps every finish reason', () => {
    const cases = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' } as const;
    for (const [finish, stop] of Object.entries(cases)) {
      expect(translateResponse(completion({ finish: finish as keyof typeof cases }), 'c').stop_reason).toBe(stop);
    }
  });

  it('turns a refusal into text with stop_reason refusal', () => {
    const msg = translateResponse(completion({ message: { content: null, refusal: 'I cannot help with that.' } }), 'c');
    expect(msg.content).toEqual([{ type: 'text', text: 'I cannot help with that.', citations: null }]);
    expect(msg.stop_reason).toBe('refusal');
  });

  it('translates error bodies to Anthropic errors', () => {
    const err = translateError(429, { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    expect(err).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached' } });
    expect(translateError(503, 'garbage').error.type).toBe('overloaded_error');
  });
});

/** OpenAI chunks as the API streams them (with include_usage). */
function chunk(delta: OpenAI.ChatCompletionChunk.Choice.Delta, finish: OpenAI.ChatCompletionChunk.Choice['finish_reason'] = null): JsonObject {
  const value: OpenAI.ChatCompletionChunk = { id: 'chatcmpl-s1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null };
  return wire(value);
}
const usageChunk = (prompt: number, cached: number, completionTokens: number): JsonObject =>
  wire({ id: 'chatcmpl-s1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18', choices: [], usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens, prompt_tokens_details: { cached_tokens: cached } } });

describe('OpenAIToAnthropicStream', () => {
  it('fits the proxy stream translator interface', () => {
    const t: StreamTranslation = new OpenAIToAnthropicStream({ requestedModel: 'c' });
    expect(t.hasContent).toBe(false);
  });

  it('writes nothing before content, then message_start with the first text delta', () => {
    const t = new OpenAIToAnthropicStream({ requestedModel: 'claude-sonnet-4-6' });
    expect(t.push(undefined, chunk({ role: 'assistant', content: '', refusal: null }))).toBe('');
    expect(t.hasContent).toBe(false);
    const first = parseSse(t.push(undefined, chunk({ content: 'Hello' })));
    expect(t.hasContent).toBe(true);
    expect(first.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
    expect(first[0]?.json).toMatchObject({
      type: 'message_start',
      message: { id: 'msg_s1', type: 'message', role: 'assistant', model: 'gpt-4o-mini-2024-07-18', content: [], stop_reason: null, usage: { input_tokens: 0, output_tokens: 0 } },
    });
    expect(first[1]?.json).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(first[2]?.json).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } });
    expect(parseSse(t.push(undefined, chunk({ content: ' world' }))).map((e) => e.json)).toEqual([{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' world' } }]);

    // The finish closes the block; message_delta waits for the usage chunk.
    expect(parseSse(t.push(undefined, chunk({}, 'stop'))).map((e) => e.event)).toEqual(['content_block_stop']);
    const tail = parseSse(t.push(undefined, usageChunk(1200, 1024, 2)));
    expect(tail.map((e) => e.event)).toEqual(['message_delta', 'message_stop']);
    expect(tail[0]?.json).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 176, cache_read_input_tokens: 1024, cache_creation_input_tokens: 0, output_tokens: 2 },
    });
    expect(t.end()).toBe('');
  });

  it('streams tool calls as tool_use blocks with input_json_delta, one block per call', () => {
    const t = new OpenAIToAnthropicStream({ requestedModel: 'c' });
    let out = t.push(undefined, chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
    expect(t.hasContent).toBe(true);
    out += t.push(undefined, chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
    out += t.push(undefined, chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
    out += t.push(undefined, chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }));
    out += t.push(undefined, chunk({}, 'tool_calls'));
    out += t.end(); // no usage chunk came: end() completes the message
    const events = parseSse(out);
    expect(events.map((e) => `${e.event}${e.json?.index === undefined ? '' : `#${String(e.json.index)}`}`)).toEqual([
      'message_start',
      'content_block_start#0',
      'content_block_delta#0',
      'content_block_delta#0',
      'content_block_stop#0',
      'content_block_start#1',
      'content_block_delta#1',
      'content_block_stop#1',
      'message_delta',
      'message_stop',
    ]);
    expect(events[1]?.json).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} } });
    expect(events[2]?.json).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } });
    expect(events[8]?.json).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 0, output_tokens: 0 } });
  });

  it('completes an answer without content only at end(), so push holds everything', () => {
    const t = new OpenAIToAnthropicStream({ requestedModel: 'c' });
    expect(t.push(undefined, chunk({ role: 'assistant', content: '' }))).toBe('');
    expect(t.push(undefined, chunk({}, 'length'))).toBe('');
    expect(t.push(undefined, usageChunk(10, 0, 0))).toBe('');
    expect(t.hasContent).toBe(false);
    const events = parseSse(t.end());
    expect(events.map((e) => e.event)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(events[1]?.json).toMatchObject({ delta: { stop_reason: 'max_tokens' }, usage: { input_tokens: 10, output_tokens: 0 } });
  });

  it('handles usage arriving in the same chunk as the finish reason', () => {
    const t = new OpenAIToAnthropicStream({ requestedModel: 'c' });
    t.push(undefined, chunk({ content: 'x' }));
    const last = { ...chunk({}, 'stop'), usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } };
    expect(parseSse(t.push(undefined, last)).map((e) => e.event)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('turns a mid-stream error chunk into an Anthropic error event, and stops', () => {
    const t = new OpenAIToAnthropicStream({ requestedModel: 'c' });
    t.push(undefined, chunk({ content: 'partial' }));
    const events = parseSse(t.push(undefined, { error: { message: 'The server had an error', type: 'server_error', param: null, code: null } }));
    expect(events).toEqual([{ event: 'error', data: expect.any(String) as string, json: { type: 'error', error: { type: 'api_error', message: 'The server had an error' } } }]);
    expect(t.push(undefined, chunk({ content: 'more' }))).toBe('');
    expect(t.end()).toBe('');
  });
});
