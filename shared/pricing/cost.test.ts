import { describe, expect, it } from 'vitest';
import { ZERO_USAGE, type NormalizedUsage } from '../usage.ts';
import { computeCost, computeCostFor, formatPicoUsd, parsePicoUsd, priceCall, totalCostUsd } from './cost.ts';
import { createPriceTable, loadPriceTable, type PriceEntry } from './price-table.ts';

// These tests hold prices.json's own entries and name resolution: without the genai-prices fallback.
const shippedOnly = (overrides: Parameters<typeof loadPriceTable>[0] = [], path?: Parameters<typeof loadPriceTable>[1]) => loadPriceTable(overrides, path, { genaiPrices: false });

const table = shippedOnly();
const usage = (u: Partial<NormalizedUsage>): NormalizedUsage => ({ ...ZERO_USAGE, ...u });

function cost(provider: string, model: string, u: Partial<NormalizedUsage>) {
  const p = priceCall(table, provider, model, usage(u));
  if (!p.known) throw new Error(`no price for ${provider}/${model}`);
  return p;
}
const total = (provider: string, model: string, u: Partial<NormalizedUsage>): string => cost(provider, model, u).totalUsd;

/** A one-entry table for rates the shipped table does not have. */
function single(entry: Omit<PriceEntry, 'provider' | 'model'>) {
  const t = createPriceTable({ version: '2026-01-01', currency: 'USD', unit: 'per_million_tokens', models: [{ provider: 'openai', model: 'm', ...entry }] });
  const compiled = t.find('openai', 'm');
  if (!compiled) throw new Error('unreachable');
  return (u: Partial<NormalizedUsage>) => computeCost(compiled, usage(u));
}

describe('exactness', () => {
  it('prices tiny calls without rounding', () => {
    expect(single({ input: '0.075', output: '0' })({ inputTokens: 7 }).totalUsd).toBe('0.000000525');
    expect(total('openai', 'gpt-5-nano', { inputTokens: 1 })).toBe('0.00000005');
    expect(total('openai', 'gpt-4o-mini', { inputTokens: 0, outputTokens: 0 })).toBe('0');
  });

  it('has no 0.1 + 0.2 float trap', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(single({ input: '0.1', output: '0.2' })({ inputTokens: 1_000_000, outputTokens: 1_000_000 }).totalUsd).toBe('0.3');
  });

  it('sums costs exactly through parsePicoUsd', () => {
    const calls = [1, 2, 3].map(() => total('openai', 'gpt-4.1-nano', { inputTokens: 1_000_000 }));
    expect(calls).toEqual(['0.1', '0.1', '0.1']);
    expect(formatPicoUsd(calls.map(parsePicoUsd).reduce((a, b) => a + b, 0n))).toBe('0.3');
    const many = Array.from({ length: 1000 }, () => total('openai', 'gpt-4o-mini', { inputTokens: 7, outputTokens: 3 }));
    expect(formatPicoUsd(many.map(parsePicoUsd).reduce((a, b) => a + b, 0n))).toBe('0.00285');
  });

  it('stays exact for huge counts (beyond float precision)', () => {
    expect(total('anthropic', 'claude-opus-4-1', { inputTokens: 123_456_789_012, outputTokens: 987_654_321 })).toBe('1925925.909255');
  });

  it('reports parts that add up exactly to the total', () => {
    const c = cost('anthropic', 'claude-sonnet-4-5', { inputTokens: 10_050, cacheReadTokens: 8_000, cacheWrite5mTokens: 1_000, cacheWrite1hTokens: 1_000, outputTokens: 333 });
    expect(c.parts).toEqual({ input: '0.00015', cacheRead: '0.0024', cacheWrite: '0.00975', output: '0.004995' });
    expect(formatPicoUsd(Object.values(c.parts).map(parsePicoUsd).reduce((a, b) => a + b, 0n))).toBe(c.totalUsd);
    expect(c.totalUsd).toBe('0.017295');
    expect(c.usd).toBeCloseTo(0.017295, 12);
  });

  it('formats and parses pico-USD amounts', () => {
    expect(formatPicoUsd(0n)).toBe('0');
    expect(formatPicoUsd(3_000_000_000_000n)).toBe('3');
    expect(formatPicoUsd(125_000_000n)).toBe('0.000125');
    expect(formatPicoUsd(-1n)).toBe('-0.000000000001');
    for (const s of ['0', '3', '0.000125', '12.5', '-0.000000000001']) expect(formatPicoUsd(parsePicoUsd(s))).toBe(s);
    expect(parsePicoUsd('.5')).toBe(500_000_000_000n);
  });
});

describe('billing rules', () => {
  it('OpenAI: cached tokens are inside input, billed once at the cache-read rate', () => {
    // 1M input of which 1M cached (gpt-4o: $1.25 cached) + 100 output ($10/M). Reasoning (60) is inside output.
    expect(total('openai', 'gpt-4o', { inputTokens: 1_000_000, cacheReadTokens: 1_000_000, outputTokens: 100, reasoningTokens: 60 })).toBe('1.251');
    const c = cost('openai', 'gpt-4.1', { inputTokens: 1_000_000, cacheReadTokens: 400_000 });
    expect(c.parts).toMatchObject({ input: '1.2', cacheRead: '0.2', cacheWrite: '0' }); // 600k × $2 + 400k × $0.50
  });

  it('applies each family’s cache-read discount (50% 4o, 75% 4.1, 90% gpt-5)', () => {
    const ratio = (model: string) => Number(total('openai', model, { inputTokens: 1_000_000, cacheReadTokens: 1_000_000 })) / Number(total('openai', model, { inputTokens: 1_000_000 }));
    expect(ratio('gpt-4o')).toBe(0.5);
    expect(ratio('gpt-4.1')).toBe(0.25);
    expect(ratio('gpt-5')).toBe(0.1);
  });

  it('cache reads are cheaper than input, writes dearer, 1h dearer than 5m', () => {
    const plain = Number(total('anthropic', 'claude-sonnet-4-5', { inputTokens: 10_000 }));
    const read = Number(total('anthropic', 'claude-sonnet-4-5', { inputTokens: 10_000, cacheReadTokens: 10_000 }));
    const w5m = Number(total('anthropic', 'claude-sonnet-4-5', { inputTokens: 10_000, cacheWrite5mTokens: 10_000 }));
    const w1h = Number(total('anthropic', 'claude-sonnet-4-5', { inputTokens: 10_000, cacheWrite1hTokens: 10_000 }));
    expect(read).toBeLessThan(plain);
    expect(w5m).toBeGreaterThan(plain);
    expect(w1h).toBeGreaterThan(w5m);
    expect([plain, read, w5m, w1h]).toEqual([0.03, 0.003, 0.0375, 0.06]);
  });

  it('Anthropic usage (cache outside input_tokens, normalised to inside) is billed per part', () => {
    // input_tokens 50 + cache read 1000 + writes 100 (5m) and 200 (1h) = 1350 normalised input.
    const c = cost('anthropic', 'claude-haiku-4-5', { inputTokens: 1350, cacheReadTokens: 1000, cacheWrite5mTokens: 100, cacheWrite1hTokens: 200, outputTokens: 70 });
    expect(c.parts).toEqual({ input: '0.00005', cacheRead: '0.0001', cacheWrite: '0.000525', output: '0.00035' });
    expect(c.totalUsd).toBe('0.001025');
  });

  it('switches every part to the long-context tier above the threshold, not at it', () => {
    const at = cost('anthropic', 'claude-sonnet-4-5', { inputTokens: 200_000, outputTokens: 1_000 });
    expect(at.totalUsd).toBe('0.615');
    expect(at.tierAboveInputTokens).toBeUndefined();
    const above = cost('anthropic', 'claude-sonnet-4-5', { inputTokens: 200_001, outputTokens: 1_000 });
    expect(above.totalUsd).toBe('1.222506'); // 200,001 × $6/M + 1,000 × $22.50/M
    expect(above.tierAboveInputTokens).toBe(200_000);
    // Cached tokens count toward the threshold, and cache parts switch too.
    const cached = cost('anthropic', 'claude-sonnet-4', { inputTokens: 200_001, cacheReadTokens: 150_000, cacheWrite1hTokens: 50_000, outputTokens: 0 });
    expect(cached.parts).toEqual({ input: '0.000006', cacheRead: '0.09', cacheWrite: '0.6', output: '0' });
  });

  it('Sonnet 4.6 and Opus 4.6 price their whole 1M window flat', () => {
    expect(cost('anthropic', 'claude-sonnet-4-6', { inputTokens: 800_000 }).totalUsd).toBe('2.4');
    expect(cost('anthropic', 'claude-opus-4-6', { inputTokens: 800_000 }).tierAboveInputTokens).toBeUndefined();
  });

  it('picks the highest tier the input exceeds', () => {
    const price = single({ input: '1', output: '1', tiers: [{ aboveInputTokens: 100, input: '2', output: '2' }, { aboveInputTokens: 1000, input: '3', output: '3' }] });
    expect(price({ inputTokens: 100 }).totalUsd).toBe('0.0001');
    expect(price({ inputTokens: 101 }).totalUsd).toBe('0.000202');
    expect(price({ inputTokens: 1001 }).tierAboveInputTokens).toBe(1000);
  });

  it('falls back: cache read → input rate; a missing write TTL → the other write rate; no write rate → input', () => {
    expect(single({ input: '1', output: '0' })({ inputTokens: 10, cacheReadTokens: 4, cacheWrite5mTokens: 3, cacheWrite1hTokens: 3 }).totalUsd).toBe('0.00001');
    expect(single({ input: '1', output: '0', cacheWrite5m: '1.25' })({ inputTokens: 10, cacheWrite1hTokens: 10 }).totalUsd).toBe('0.0000125');
    expect(single({ input: '1', output: '0', cacheWrite1h: '2' })({ inputTokens: 10, cacheWrite5mTokens: 10 }).totalUsd).toBe('0.00002');
  });

  it('never throws or goes negative on inconsistent or odd usage', () => {
    const c = cost('openai', 'gpt-4o', { inputTokens: 10, cacheReadTokens: 50 });
    expect(c.parts.input).toBe('0');
    expect(c.totalUsd).toBe('0.0000625');
    expect(total('openai', 'gpt-4o', { inputTokens: Number.NaN, outputTokens: -3, cacheReadTokens: Number.POSITIVE_INFINITY })).toBe('0');
    expect(total('openai', 'gpt-4o', { inputTokens: 1000.7 })).toBe('0.0025');
  });
});

describe('unknown models', () => {
  it('are "cost unknown", never 0', () => {
    expect(priceCall(table, 'openai', 'my-finetune', usage({ inputTokens: 10 }))).toEqual({ known: false });
    expect(computeCostFor(table, 'anthropic', 'gpt-4o', usage({ inputTokens: 10 }))).toEqual({ known: false });
    expect(computeCostFor(table, 'openai', 'gpt-4o-mini-realtime', usage({ inputTokens: 10 }))).toEqual({ known: false });
    expect(totalCostUsd(table, 'openai', 'my-finetune', usage({ inputTokens: 10 }))).toBeUndefined();
  });

  it('become known through a config override', () => {
    const custom = shippedOnly([{ provider: 'openai', model: 'my-finetune', input: '0.30', output: '1.20' }]);
    expect(priceCall(custom, 'openai', 'my-finetune', usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 }))).toMatchObject({ known: true, totalUsd: '1.5', usd: 1.5 });
  });
});

describe('totalCostUsd (the proxy\'s per-call price)', () => {
  it('is the breakdown\'s exact total, tiers and cache writes included', () => {
    const cases: [string, string, Partial<NormalizedUsage>][] = [
      ['openai', 'gpt-4o-mini', { inputTokens: 1234, outputTokens: 567, cacheReadTokens: 1000 }],
      ['anthropic', 'claude-sonnet-4-5', { inputTokens: 250_000, outputTokens: 10, cacheWrite5mTokens: 1000, cacheWrite1hTokens: 2000 }],
      ['anthropic', 'claude-sonnet-4-5', { inputTokens: 1, outputTokens: 1 }],
      ['openai', 'gpt-5-nano', { inputTokens: 0 }],
    ];
    for (const [provider, model, u] of cases) {
      const full = cost(provider, model, u);
      expect(totalCostUsd(table, provider, model, usage(u))).toBe(full.totalUsd);
    }
    expect(totalCostUsd(table, 'anthropic', 'claude-sonnet-4-5', usage({ inputTokens: 250_000 }))).not.toBe(totalCostUsd(table, 'anthropic', 'claude-sonnet-4-5', usage({ inputTokens: 150_000 })));
  });
});
