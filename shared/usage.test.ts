import { describe, expect, it } from 'vitest';
import {
  fromAnthropicUsage,
  fromOpenAIChatUsage,
  fromOpenAIEmbeddingsUsage,
  fromOpenAIResponsesUsage,
  mergeAnthropicStreamUsage,
  ZERO_USAGE,
  type NormalizedUsage,
} from './usage.ts';

const usage = (u: Partial<NormalizedUsage>): NormalizedUsage => ({ ...ZERO_USAGE, ...u });

describe('fromOpenAIChatUsage', () => {
  it('keeps cached tokens inside prompt_tokens: never added twice', () => {
    // A gpt-4o chat completion with a prompt-cache hit and a reasoning model's completion details.
    const u = fromOpenAIChatUsage({
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    expect(u).toEqual({ inputTokens: 2006, cacheReadTokens: 1920, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 300, reasoningTokens: 256 });
  });

  it('reads cache writes (models that bill them) as a subset of the prompt', () => {
    expect(fromOpenAIChatUsage({ prompt_tokens: 5000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 4096 } })).toEqual(
      usage({ inputTokens: 5000, cacheWrite5mTokens: 4096, outputTokens: 10 }),
    );
  });

  it('handles null details, missing fields and usage-less chunks', () => {
    expect(fromOpenAIChatUsage({ prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: null, completion_tokens_details: null })).toEqual(usage({ inputTokens: 12, outputTokens: 3 }));
    expect(fromOpenAIChatUsage({})).toEqual(ZERO_USAGE);
    expect(fromOpenAIChatUsage(null)).toBeUndefined(); // streaming chunks carry "usage": null
    expect(fromOpenAIChatUsage(undefined)).toBeUndefined();
    expect(fromOpenAIChatUsage('12')).toBeUndefined();
    expect(fromOpenAIChatUsage([1, 2])).toBeUndefined();
  });

  it('never throws on odd values and keeps subsets within their totals', () => {
    const u = fromOpenAIChatUsage({ prompt_tokens: '100', completion_tokens: -5, prompt_tokens_details: { cached_tokens: Number.NaN } });
    expect(u).toEqual(ZERO_USAGE);
    // A buggy compatible server reporting more cached than prompt tokens cannot make cost negative.
    expect(fromOpenAIChatUsage({ prompt_tokens: 10, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 50, cache_write_tokens: 50 }, completion_tokens_details: { reasoning_tokens: 9 } })).toEqual(
      usage({ inputTokens: 10, cacheReadTokens: 10, outputTokens: 4, reasoningTokens: 4 }),
    );
    expect(fromOpenAIChatUsage({ prompt_tokens: 7.9 })?.inputTokens).toBe(7);
  });
});

describe('fromOpenAIResponsesUsage', () => {
  it('maps input/output tokens and their details', () => {
    const u = fromOpenAIResponsesUsage({
      input_tokens: 1500,
      input_tokens_details: { cached_tokens: 1024 },
      output_tokens: 800,
      output_tokens_details: { reasoning_tokens: 640 },
      total_tokens: 2300,
    });
    expect(u).toEqual({ inputTokens: 1500, cacheReadTokens: 1024, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 800, reasoningTokens: 640 });
    expect(fromOpenAIResponsesUsage({ input_tokens: 3207, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 3207 }, output_tokens: 1 })).toMatchObject({ cacheWrite5mTokens: 3207 });
    expect(fromOpenAIResponsesUsage(null)).toBeUndefined();
  });
});

describe('fromOpenAIEmbeddingsUsage', () => {
  it('is input only', () => {
    expect(fromOpenAIEmbeddingsUsage({ prompt_tokens: 8, total_tokens: 8 })).toEqual(usage({ inputTokens: 8 }));
    expect(fromOpenAIEmbeddingsUsage({ total_tokens: 9 })).toEqual(usage({ inputTokens: 9 }));
    expect(fromOpenAIEmbeddingsUsage(undefined)).toBeUndefined();
  });
});

describe('fromAnthropicUsage', () => {
  it('adds cache reads and writes to input_tokens, which exclude them', () => {
    const u = fromAnthropicUsage({
      input_tokens: 50,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 300,
      cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
      output_tokens: 70,
      service_tier: 'standard',
    });
    expect(u).toEqual({ inputTokens: 1350, cacheReadTokens: 1000, cacheWrite5mTokens: 100, cacheWrite1hTokens: 200, outputTokens: 70, reasoningTokens: 0 });
  });

  it('counts every cache write as 5-minute when there is no TTL breakdown', () => {
    expect(fromAnthropicUsage({ input_tokens: 5, cache_creation_input_tokens: 40, cache_read_input_tokens: null, output_tokens: 1 })).toEqual(
      usage({ inputTokens: 45, cacheWrite5mTokens: 40, outputTokens: 1 }),
    );
    expect(fromAnthropicUsage({ input_tokens: 5, cache_creation_input_tokens: 40, cache_creation: null, output_tokens: 1 })).toMatchObject({ cacheWrite5mTokens: 40, cacheWrite1hTokens: 0 });
  });

  it('trusts the billed total when the TTL breakdown disagrees with it', () => {
    expect(fromAnthropicUsage({ input_tokens: 1, cache_creation_input_tokens: 300, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 200 } })).toMatchObject({
      inputTokens: 301,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 200,
    });
    expect(fromAnthropicUsage({ input_tokens: 1, cache_creation_input_tokens: 100, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 500 } })).toMatchObject({
      inputTokens: 101,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 100,
    });
    // Only the breakdown: its sum is the total.
    expect(fromAnthropicUsage({ input_tokens: 1, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 } })).toMatchObject({ inputTokens: 31, cacheWrite5mTokens: 10, cacheWrite1hTokens: 20 });
  });

  it('reads thinking tokens as a subset of output when the API reports them', () => {
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 500, output_tokens_details: { thinking_tokens: 420 } })).toMatchObject({ outputTokens: 500, reasoningTokens: 420 });
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 500, output_tokens_details: null })).toMatchObject({ reasoningTokens: 0 });
  });

  it('returns undefined without a usage object', () => {
    expect(fromAnthropicUsage(undefined)).toBeUndefined();
    expect(fromAnthropicUsage(42)).toBeUndefined();
  });
});

describe('mergeAnthropicStreamUsage', () => {
  // message_start.message.usage: input and cache counts, provisional output.
  const start = fromAnthropicUsage({ input_tokens: 20, cache_read_input_tokens: 100, cache_creation_input_tokens: 30, output_tokens: 1 });

  it('replaces the provisional output with the cumulative final one (never adds)', () => {
    expect(mergeAnthropicStreamUsage(start, { output_tokens: 42 })).toEqual(usage({ inputTokens: 150, cacheReadTokens: 100, cacheWrite5mTokens: 30, outputTokens: 42 }));
  });

  it('lets input fields repeated in message_delta win, field by field', () => {
    expect(mergeAnthropicStreamUsage(start, { input_tokens: 20, cache_read_input_tokens: 100, cache_creation_input_tokens: 30, output_tokens: 43 })).toEqual(
      usage({ inputTokens: 150, cacheReadTokens: 100, cacheWrite5mTokens: 30, outputTokens: 43 }),
    );
    // Only cache reads repeated (and corrected): the others stay from message_start.
    expect(mergeAnthropicStreamUsage(start, { cache_read_input_tokens: 120, output_tokens: 5 })).toEqual(usage({ inputTokens: 170, cacheReadTokens: 120, cacheWrite5mTokens: 30, outputTokens: 5 }));
    // A TTL breakdown in the delta replaces the writes.
    expect(mergeAnthropicStreamUsage(start, { cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 30 }, output_tokens: 5 })).toMatchObject({
      inputTokens: 150,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 30,
    });
  });

  it('ignores null or all-zero input fields in the delta (placeholders, not corrections)', () => {
    expect(mergeAnthropicStreamUsage(start, { input_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 9 })).toMatchObject({ inputTokens: 150, outputTokens: 9 });
    expect(mergeAnthropicStreamUsage(start, { input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 9 })).toMatchObject({ inputTokens: 150, cacheReadTokens: 100, outputTokens: 9 });
  });

  it('keeps thinking tokens within output and tolerates a missing start or delta', () => {
    expect(mergeAnthropicStreamUsage(start, { output_tokens: 300, output_tokens_details: { thinking_tokens: 250 } })).toMatchObject({ outputTokens: 300, reasoningTokens: 250 });
    expect(mergeAnthropicStreamUsage(undefined, { output_tokens: 3 })).toEqual(usage({ outputTokens: 3 }));
    expect(mergeAnthropicStreamUsage(start, null)).toBe(start);
    expect(mergeAnthropicStreamUsage(undefined, undefined)).toBeUndefined();
    expect(mergeAnthropicStreamUsage(start, {})).toEqual(start);
  });
});
