// The translation factory the proxy wires in, and the translators' tolerance for malformed input:
// bodies come from apps and answers from providers unvalidated, so nothing may throw on them.
import { describe, expect, it } from 'vitest';
import { anthropicToOpenAI, openAIToAnthropic, translation, type CrossTranslation } from '../../proxy/translate/index.ts';

describe('translation()', () => {
  it('gives the proxy a Translation for each cross pair, none for a same-API pair', () => {
    const a2o: CrossTranslation | undefined = translation('anthropic', 'openai');
    const o2a: CrossTranslation | undefined = translation('openai', 'anthropic');
    expect(a2o).toBeDefined();
    expect(o2a).toBeDefined();
    expect(translation('openai', 'openai')).toBeUndefined();
    expect(translation('anthropic', 'anthropic')).toBeUndefined();
    expect(a2o?.stream({ includeUsage: false, requestedModel: 'claude-sonnet-4-6' })).toBeInstanceOf(anthropicToOpenAI.OpenAIToAnthropicStream);
    expect(o2a?.stream({ includeUsage: true, requestedModel: 'gpt-4o' })).toBeInstanceOf(openAIToAnthropic.AnthropicToOpenAIStream);
  });

  it('passes the sampling option to OpenAI → Anthropic requests', () => {
    const body = { model: 'gpt-4o', temperature: 0.5, messages: [{ role: 'user', content: 'hi' }] };
    expect(translation('openai', 'anthropic')?.request(body, 'claude-opus-4-7')).toMatchObject({ temperature: 0.5 });
    expect(translation('openai', 'anthropic', { anthropicSampling: 'omit' })?.request(body, 'claude-opus-4-7')).not.toHaveProperty('temperature');
  });
});

describe('malformed input', () => {
  const junk = [{}, { messages: 'hi', system: 3, tools: 5, tool_choice: 'x', stop: 7, stop_sequences: 'END' }, { messages: [null, 1, 'x', { role: 'user', content: 5 }, { role: 'assistant', content: [null, { type: 'tool_use' }] }, { role: 'tool' }] }];

  it('request translators never throw and always produce the required fields', () => {
    for (const body of junk) {
      expect(anthropicToOpenAI.translateRequest(body, 'gpt-4o')).toMatchObject({ model: 'gpt-4o', messages: expect.any(Array) as unknown[] });
      expect(openAIToAnthropic.translateRequest(body, 'claude-sonnet-4-6')).toMatchObject({ model: 'claude-sonnet-4-6', messages: expect.any(Array) as unknown[], max_tokens: 4096 });
    }
  });

  it('answer translators never throw on an empty or odd answer', () => {
    expect(anthropicToOpenAI.translateResponse({}, 'claude-sonnet-4-6')).toMatchObject({ model: 'claude-sonnet-4-6', content: [], stop_reason: 'end_turn', usage: { input_tokens: 0, output_tokens: 0 } });
    expect(openAIToAnthropic.translateResponse({ content: 'x', usage: 'y' }, 'gpt-4o')).toMatchObject({ model: 'gpt-4o', choices: [{ message: { content: '' }, finish_reason: 'stop' }] });
    const s1 = new anthropicToOpenAI.OpenAIToAnthropicStream({ requestedModel: 'c' });
    expect(s1.push(undefined, { choices: 'x' }) + s1.push(undefined, { choices: [{ delta: { tool_calls: [null, 3] } }] })).toBe('');
    const s2 = new openAIToAnthropic.AnthropicToOpenAIStream({ includeUsage: true, requestedModel: 'g' });
    expect(s2.push('content_block_delta', { type: 'content_block_delta', index: 9, delta: { type: 'text_delta', text: 'orphan' } })).toBe('');
    expect(s2.end()).toContain('[DONE]');
  });

  it('makes OpenAI-compatible tool ids acceptable to Anthropic, consistently in calls and results', () => {
    const body = openAIToAnthropic.translateRequest(
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', tool_calls: [{ id: 'fn:get/1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'fn:get/1', content: 'ok' },
        ],
      },
      'claude-sonnet-4-6',
    );
    expect(body.messages[1]?.content[0]).toMatchObject({ type: 'tool_use', id: 'fn_get_1' });
    expect(body.messages[2]?.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'fn_get_1' });
  });
});
