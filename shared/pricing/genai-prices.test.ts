// genai-prices as the second price source: only for models prices.json lacks, converted exactly
// into our format and validated, with its source visible; off when configured off.
import { describe, expect, it, vi } from 'vitest';
import { genaiPricesEntry, GENAI_PRICES_VERSION } from './genai-prices.ts';
import { computeCostFor } from './cost.ts';
import { loadPriceTable } from './price-table.ts';

const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0 });

describe('the genai-prices fallback', () => {
  const table = loadPriceTable();

  it('prices a model prices.json does not list, and says so', () => {
    expect(loadPriceTable([], undefined, { genaiPrices: false }).find('openai', 'o3-pro')).toBeUndefined();
    const c = table.find('openai', 'o3-pro');
    expect(c?.source).toBe('genai-prices');
    expect(c?.entry).toMatchObject({ provider: 'openai', model: 'o3-pro', input: '20', output: '80' });
    // 1M input + 1M output at 20 + 80 USD: exact, no float drift.
    expect(computeCostFor(table, 'openai', 'o3-pro', usage(1_000_000, 1_000_000))).toMatchObject({ known: true, totalUsd: '100' });
  });

  it('never replaces prices.json or a config override', () => {
    expect(table.find('openai', 'gpt-4o')?.source).toBe('prices.json');
    const custom = loadPriceTable([{ provider: 'openai', model: 'o3-pro', input: '1', output: '2' }]);
    expect(custom.find('openai', 'o3-pro')).toMatchObject({ source: 'config', entry: { input: '1', output: '2' } });
  });

  it('converts long-context tiers and every cache rate into the validated format', () => {
    const e = genaiPricesEntry('anthropic', 'claude-sonnet-4-5');
    expect(e).toMatchObject({ input: '3', output: '15', cacheRead: '0.3', cacheWrite5m: '3.75', cacheWrite1h: '6' });
    expect(e?.tiers).toEqual([{ aboveInputTokens: 200_000, input: '6', output: '22.5', cacheRead: '0.6', cacheWrite5m: '7.5', cacheWrite1h: '12' }]);
    // And it agrees with the reviewed entry in prices.json for the same model.
    const reviewed = loadPriceTable([], undefined, { genaiPrices: false }).find('anthropic', 'claude-sonnet-4-5')?.entry;
    expect(Number(e?.input)).toBe(Number(reviewed?.input));
    expect(Number(e?.tiers?.[0]?.output)).toBe(Number(reviewed?.tiers?.[0]?.output));
  });

  it('leaves unknown models unknown, and other APIs alone', () => {
    expect(table.find('openai', 'my-finetune-that-nobody-prices')).toBeUndefined();
    expect(genaiPricesEntry('openai', 'gemini-2.5-pro')).toBeUndefined();
  });

  it('is loaded only when a model is missing from prices.json (its data costs ~13 MB of RSS)', async () => {
    vi.resetModules(); // a fresh module: nothing in this file has loaded it yet
    const fresh = await import('./genai-prices.ts');
    const { loadPriceTable: load } = await import('./price-table.ts');
    const t = load();
    expect(t.find('openai', 'gpt-4o')?.source).toBe('prices.json');
    expect(t.find('anthropic', 'claude-sonnet-4-5-20250929')?.source).toBe('prices.json');
    expect(fresh.GENAI_PRICES_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(fresh.genaiPricesLoaded()).toBe(false);
    expect(t.find('openai', 'o3-pro')?.source).toBe('genai-prices');
    expect(fresh.genaiPricesLoaded()).toBe(true);
  });

  it('knows the version of the data it ships', () => {
    expect(GENAI_PRICES_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
