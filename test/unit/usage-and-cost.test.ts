import { describe, expect, it } from 'vitest';
import { computeCost, formatPicoUsd, parsePicoUsd, priceCall } from '../../shared/pricing/cost.ts';
import { loadPriceTable, PriceEntrySchema, PriceTable } from '../../shared/pricing/price-table.ts';
import { fromAnthropicUsage, fromOpenAIChatUsage, fromOpenAIResponsesUsage, mergeAnthropicStreamUsage, ZERO_USAGE, type NormalizedUsage } from '../../shared/usage.ts';

// These tests hold prices.json's own entries and name resolution: without the genai-prices fallback.
const shippedOnly = (overrides: Parameters<typeof loadPriceTable>[0] = [], path?: Parameters<typeof loadPriceTable>[1]) => loadPriceTable(overrides, path, { genaiPrices: false });

describe('usage normalisation', () => {
  it('OpenAI: cached tokens are already inside prompt_tokens (never added twice)', () => {
    const u = fromOpenAIChatUsage({ prompt_tokens: 2006, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1920 }, completion_tokens_details: { reasoning_tokens: 256 } });
    expect(u).toEqual({ inputTokens: 2006, cacheReadTokens: 1920, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 300, reasoningTokens: 256 });
    expect(fromOpenAIResponsesUsage({ input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 } })).toMatchObject({ inputTokens: 10, reasoningTokens: 2 });
    expect(fromOpenAIChatUsage(null)).toBeUndefined();
  });

  it('Anthropic: cache reads and writes are outside input_tokens and must be added', () => {
    const u = fromAnthropicUsage({ input_tokens: 50, cache_read_input_tokens: 1000, cache_creation_input_tokens: 300, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 }, output_tokens: 70 });
    expect(u).toEqual({ inputTokens: 1350, cacheReadTokens: 1000, cacheWrite5mTokens: 100, cacheWrite1hTokens: 200, outputTokens: 70, reasoningTokens: 0 });
    expect(fromAnthropicUsage({ input_tokens: 5, cache_creation_input_tokens: 40, output_tokens: 1 })).toMatchObject({ inputTokens: 45, cacheWrite5mTokens: 40 });
  });

  it('Anthropic streams: message_delta carries the cumulative output and may repeat the input fields', () => {
    const start = fromAnthropicUsage({ input_tokens: 20, cache_read_input_tokens: 100, output_tokens: 1 });
    expect(mergeAnthropicStreamUsage(start, { output_tokens: 42 })).toMatchObject({ inputTokens: 120, outputTokens: 42 });
    expect(mergeAnthropicStreamUsage(start, { input_tokens: 20, cache_read_input_tokens: 100, output_tokens: 43 })).toMatchObject({ inputTokens: 120, cacheReadTokens: 100, outputTokens: 43 });
    expect(mergeAnthropicStreamUsage(undefined, { output_tokens: 3 })).toMatchObject({ inputTokens: 0, outputTokens: 3 });
  });
});

const table = shippedOnly();
const usage = (u: Partial<NormalizedUsage>): NormalizedUsage => ({ ...ZERO_USAGE, ...u });
const cost = (provider: string, model: string, u: Partial<NormalizedUsage>): string => {
  const p = priceCall(table, provider, model, usage(u));
  if (!p.known) throw new Error(`no price for ${model}`);
  return p.totalUsd;
};

describe('cost', () => {
  it('is exact: no float drift', () => {
    expect(cost('openai', 'gpt-4o-mini', { inputTokens: 7 })).toBe('0.00000105');
    expect(cost('openai', 'gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe('12.5');
    // Three calls summed exactly (0.1 + 0.2 style trap in floats).
    const parts = [1, 2, 3].map(() => cost('openai', 'gpt-4.1-nano', { inputTokens: 1_000_000 }));
    expect(formatPicoUsd(parts.map((p) => parsePicoUsd(p)).reduce((a: bigint, b: bigint) => a + b, 0n))).toBe('0.3');
  });

  it('prices cache reads cheaper and cache writes dearer than input, 1h dearer than 5m', () => {
    const plain = Number(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 10_000 }));
    const read = Number(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 10_000, cacheReadTokens: 10_000 }));
    const w5 = Number(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 10_000, cacheWrite5mTokens: 10_000 }));
    const w1 = Number(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 10_000, cacheWrite1hTokens: 10_000 }));
    expect(read).toBeLessThan(plain);
    expect(w5).toBeGreaterThan(plain);
    expect(w1).toBeGreaterThan(w5);
    expect(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 100_000, cacheReadTokens: 100_000 })).toBe('0.03');
    // OpenAI: cached input at its discount, reasoning billed as output (it is part of outputTokens).
    expect(cost('openai', 'gpt-4o', { inputTokens: 1_000_000, cacheReadTokens: 1_000_000, outputTokens: 100, reasoningTokens: 60 })).toBe('1.251');
  });

  it('switches to the long-context tier above (not at) the threshold, for every part', () => {
    expect(cost('anthropic', 'claude-sonnet-4-5', { inputTokens: 200_000, outputTokens: 1_000 })).toBe('0.615');
    expect(cost('anthropic', 'claude-sonnet-4-5', { inputTokens: 200_001, outputTokens: 1_000 })).toBe('1.222506');
  });

  it('resolves dated snapshots and aliases, and never confuses gpt-4o-mini with gpt-4o', () => {
    expect(table.find('openai', 'gpt-4o-2024-08-06')?.entry.model).toBe('gpt-4o');
    expect(table.find('openai', 'gpt-4o-mini-2024-07-18')?.entry.model).toBe('gpt-4o-mini');
    expect(table.find('anthropic', 'claude-sonnet-4-5-20250929')?.entry.model).toBe('claude-sonnet-4-5');
    expect(table.find('anthropic', 'claude-opus-4-0')?.entry.model).toBe('claude-opus-4');
    expect(table.find('openai', 'gpt-4o-mini-realtime')).toBeUndefined();
  });

  it('an unknown model is "cost unknown", never 0', () => {
    expect(priceCall(table, 'openai', 'my-finetune', usage({ inputTokens: 10 }))).toEqual({ known: false });
    expect(priceCall(table, 'anthropic', 'gpt-4o', usage({ inputTokens: 10 }))).toEqual({ known: false });
  });

  it('accepts overrides through the same schema and rejects bad prices with a readable path', () => {
    const custom = new PriceTable({ version: 't', currency: 'USD', unit: 'per_million_tokens', models: [] }, [PriceEntrySchema.parse({ provider: 'openai', model: 'my-finetune', input: '0.30', output: '1.20' })]);
    expect(computeCost(custom.find('openai', 'my-finetune')!, usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 })).totalUsd).toBe('1.5');
    const bad = PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: '-1', output: 'cheap' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['input', 'output']);
  });
});
