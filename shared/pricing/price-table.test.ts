import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createPriceTable,
  loadPriceFile,
  loadPriceTable,
  PriceEntrySchema,
  PriceFileSchema,
  PriceOverridesSchema,
  toPicoUsdPerToken,
  type PriceEntry,
  type PriceFile,
} from './price-table.ts';
import shippedJson from './prices.json' with { type: 'json' };

// These tests hold prices.json's own entries and name resolution: without the genai-prices fallback.
const shippedOnly = (overrides: Parameters<typeof loadPriceTable>[0] = [], path?: Parameters<typeof loadPriceTable>[1]) => loadPriceTable(overrides, path, { genaiPrices: false });

const EMPTY: PriceFile = { version: '2026-01-01', currency: 'USD', unit: 'per_million_tokens', models: [] };
const issuesOf = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('prices.json', () => {
  const file = loadPriceFile();

  it('validates against the schema', () => {
    expect(PriceFileSchema.safeParse(shippedJson).success).toBe(true);
    expect(file.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(file.models.length).toBeGreaterThan(20);
  });

  it('is read once per process', () => {
    expect(loadPriceFile()).toBe(file);
  });

  it('covers the models the proxy sees most', () => {
    const table = shippedOnly();
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o1', 'o3', 'o3-mini', 'o4-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'text-embedding-3-small', 'text-embedding-3-large']) {
      expect(table.find('openai', m), m).toBeDefined();
    }
    for (const m of ['claude-opus-4-1', 'claude-opus-4', 'claude-sonnet-4-5', 'claude-sonnet-4', 'claude-3-7-sonnet', 'claude-haiku-4-5', 'claude-3-5-haiku']) {
      expect(table.find('anthropic', m), m).toBeDefined();
    }
  });

  // Guards against typos in the data: Anthropic's cache prices are fixed multiples of the input
  // price (5m write 1.25×, 1h write 2×, read 0.1×), in every tier. Claude 3 Haiku is the one
  // published exception: $0.30 / $0.50 / $0.03 on a $0.25 input (rounded, not 0.3125 / 0.025).
  it('keeps Anthropic cache rates at 1.25× / 2× / 0.1× of input', () => {
    const haiku3 = file.models.find((m) => m.model === 'claude-3-haiku');
    expect([haiku3?.cacheWrite5m, haiku3?.cacheWrite1h, haiku3?.cacheRead]).toEqual(['0.30', '0.50', '0.03']);
    const rateSets = file.models.filter((m) => m.provider === 'anthropic' && m !== haiku3).flatMap((m) => [{ name: m.model, ...m }, ...(m.tiers ?? []).map((t) => ({ name: `${m.model}>${t.aboveInputTokens}`, ...t }))]);
    for (const r of rateSets) {
      const input = toPicoUsdPerToken(r.input);
      expect(toPicoUsdPerToken(r.cacheWrite5m ?? 'x') * 100n, `${r.name} cacheWrite5m`).toBe(input * 125n);
      expect(toPicoUsdPerToken(r.cacheWrite1h ?? 'x'), `${r.name} cacheWrite1h`).toBe(input * 2n);
      expect(toPicoUsdPerToken(r.cacheRead ?? 'x') * 10n, `${r.name} cacheRead`).toBe(input);
    }
  });

  it('gives OpenAI models a cache-read discount and no cache-write charge', () => {
    for (const m of file.models.filter((e) => e.provider === 'openai' && e.cacheRead !== undefined)) {
      expect(toPicoUsdPerToken(m.cacheRead ?? '0') < toPicoUsdPerToken(m.input), m.model).toBe(true);
      expect(m.cacheWrite5m ?? m.cacheWrite1h, m.model).toBeUndefined();
    }
  });

  it('puts long-context tiers inside the context window and below max output of the window', () => {
    for (const m of file.models) {
      for (const t of m.tiers ?? []) expect(t.aboveInputTokens, m.model).toBeLessThanOrEqual(m.contextWindow ?? Number.POSITIVE_INFINITY);
      if (m.contextWindow !== undefined && m.maxOutputTokens !== undefined) expect(m.maxOutputTokens, m.model).toBeLessThan(m.contextWindow);
    }
  });
});

describe('PriceTable.find', () => {
  const table = shippedOnly();
  const model = (provider: string, name: string) => table.find(provider, name)?.entry.model;

  it('resolves exact ids and aliases', () => {
    expect(model('openai', 'gpt-4o')).toBe('gpt-4o');
    expect(model('anthropic', 'claude-opus-4-0')).toBe('claude-opus-4');
    expect(model('anthropic', 'claude-sonnet-4-0')).toBe('claude-sonnet-4');
  });

  it('resolves dated snapshots and -latest to their family', () => {
    expect(model('openai', 'gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(model('openai', 'gpt-4o-2024-11-20')).toBe('gpt-4o');
    expect(model('openai', 'gpt-4.1-mini-2025-04-14')).toBe('gpt-4.1-mini');
    expect(model('openai', 'o3-mini-2025-01-31')).toBe('o3-mini');
    expect(model('openai', 'gpt-5-2025-08-07')).toBe('gpt-5');
    expect(model('anthropic', 'claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5');
    expect(model('anthropic', 'claude-sonnet-4-20250514')).toBe('claude-sonnet-4');
    expect(model('anthropic', 'claude-opus-4-1-20250805')).toBe('claude-opus-4-1');
    expect(model('anthropic', 'claude-3-7-sonnet-latest')).toBe('claude-3-7-sonnet');
    expect(model('anthropic', 'claude-3-5-haiku-20241022')).toBe('claude-3-5-haiku');
    expect(model('anthropic', 'claude-sonnet-4-5@20250929')).toBe('claude-sonnet-4-5');
  });

  it('prefers an exact snapshot entry over its family (gpt-4o-2024-05-13 was dearer)', () => {
    expect(table.find('openai', 'gpt-4o-2024-05-13')?.entry.input).toBe('5.00');
    expect(table.find('openai', 'gpt-4o-2024-08-06')?.entry.input).toBe('2.50');
  });

  it('never confuses gpt-4o-mini with gpt-4o, nor any prefix with a model', () => {
    expect(model('openai', 'gpt-4o-mini')).toBe('gpt-4o-mini');
    expect(model('openai', 'gpt-4o-mini-2024-07-18')).toBe('gpt-4o-mini');
    expect(model('openai', 'gpt-4o-mini-realtime')).toBeUndefined();
    expect(model('openai', 'gpt-4o-audio-preview')).toBeUndefined();
    expect(model('openai', 'gpt-4.1-nano-preview')).toBeUndefined();
    expect(model('anthropic', 'claude-opus-4-7')).toBeUndefined(); // not claude-opus-4
    expect(model('openai', 'gpt-4o-2024-08-06-extra')).toBeUndefined();
    expect(model('openai', 'gpt-3.5-turbo-1106')).toBeUndefined(); // MMDD snapshots are not stripped
    expect(model('openai', 'ft:gpt-4o-mini-2024-07-18:acme::abc123')).toBeUndefined(); // fine-tunes cost more
  });

  it('is per provider', () => {
    expect(table.find('anthropic', 'gpt-4o')).toBeUndefined();
    expect(table.find('openai', 'claude-sonnet-4-5')).toBeUndefined();
  });

  it('answers repeated lookups from its cache, hits and misses alike', () => {
    expect(table.find('openai', 'gpt-4o-2024-08-06')).toBe(table.find('openai', 'gpt-4o'));
    expect(table.find('openai', 'nope')).toBeUndefined();
    expect(table.find('openai', 'nope')).toBeUndefined();
  });

  it('stays correct after its bounded cache is flushed by many distinct names', () => {
    const t = shippedOnly();
    for (let i = 0; i < 10_050; i++) t.find('openai', `unknown-${i}`);
    expect(t.find('openai', 'gpt-4o-2024-08-06')?.entry.model).toBe('gpt-4o');
  });
});

describe('overrides', () => {
  const finetune: PriceEntry = { provider: 'openai', model: 'ft:gpt-4o-mini-2024-07-18:acme::abc123', input: '0.30', output: '1.20' };

  it('add entries and replace shipped ones (aliases included)', () => {
    const table = shippedOnly([finetune, { provider: 'openai', model: 'gpt-4o', input: '2.00', output: '8.00' }, { provider: 'anthropic', model: 'claude-opus-4', input: '1', output: '2' }]);
    expect(table.find('openai', finetune.model)?.entry.input).toBe('0.30');
    expect(table.find('openai', 'gpt-4o-2024-08-06')?.entry.input).toBe('2.00');
    expect(table.find('openai', 'gpt-4o-mini')?.entry.input).toBe('0.15'); // untouched
    expect(table.find('anthropic', 'claude-opus-4-0')).toBeUndefined(); // the replaced entry's alias went with it
    expect(table.entries().filter((e) => e.model === 'gpt-4o')).toHaveLength(1);
  });

  it('can move an alias to another entry, and an id always beats an alias', () => {
    const table = shippedOnly([
      { provider: 'anthropic', model: 'claude-opus-4-1-custom', aliases: ['claude-opus-4-0'], input: '1', output: '2' },
      { provider: 'openai', model: 'my-router', aliases: ['gpt-4o'], input: '9', output: '9' },
    ]);
    expect(table.find('anthropic', 'claude-opus-4-0')?.entry.model).toBe('claude-opus-4-1-custom');
    expect(table.find('openai', 'gpt-4o')?.entry.model).toBe('gpt-4o');
  });

  it('are validated by the same entry schema, with readable paths', () => {
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: '-1', output: 'cheap' })).map((s) => s.split(':')[0])).toEqual(['input', 'output']);
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: 2.5, output: '1' }))).toEqual([expect.stringMatching(/^input: .*quote it/)]);
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: '0.0000001', output: '1' }))).toEqual([expect.stringMatching(/^input: .*at most 6 decimals/)]);
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'azure', model: 'x', input: '1', output: '1' })).map((s) => s.split(':')[0])).toEqual(['provider']);
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: '1', output: '1', inputPrice: '1' }))[0]).toMatch(/inputPrice/);
    expect(issuesOf(PriceEntrySchema.safeParse({ provider: 'openai', model: 'x', input: '1', output: '1', tiers: [{ aboveInputTokens: -5, input: '1', output: '1' }] })).map((s) => s.split(':')[0])).toEqual(['tiers.0.aboveInputTokens']);
  });

  it('reject a tier that omits a cache rate its entry sets, and duplicate tiers', () => {
    const r = PriceEntrySchema.safeParse({
      provider: 'anthropic',
      model: 'x',
      input: '3',
      output: '15',
      cacheRead: '0.30',
      tiers: [
        { aboveInputTokens: 200000, input: '6', output: '22.50' },
        { aboveInputTokens: 200000, input: '6', output: '22.50', cacheRead: '0.60' },
      ],
    });
    expect(issuesOf(r)).toEqual(['tiers.0.cacheRead: required: the entry sets cacheRead, so each tier must too', 'tiers.1.aboveInputTokens: duplicate tier threshold 200000']);
  });

  it('reject the same name twice within the overrides or within a price file', () => {
    expect(issuesOf(PriceOverridesSchema.safeParse([finetune, { ...finetune, input: '1' }]))).toEqual([`1.model: duplicate openai model name "${finetune.model}" (also in entry 0)`]);
    const file = { ...EMPTY, models: [{ provider: 'openai', model: 'a', input: '1', output: '1' }, { provider: 'openai', model: 'b', aliases: ['a'], input: '1', output: '1' }] };
    expect(issuesOf(PriceFileSchema.safeParse(file))).toEqual(['models.1.aliases.0: duplicate openai model name "a" (also in entry 0)']);
    // Same name under two providers is fine.
    expect(PriceOverridesSchema.safeParse([{ ...finetune, model: 'm' }, { ...finetune, provider: 'anthropic', model: 'm' }]).success).toBe(true);
  });

  it('createPriceTable throws one readable error naming the config key and path', () => {
    expect(() => createPriceTable(EMPTY, [{ provider: 'openai', model: 'x', input: '-1', output: '1' }])).toThrow(/invalid pricing overrides \(pricing\.models\):[\s\S]*at \[0\]\.input/);
  });
});

describe('loadPriceFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prices-'));

  it('loads another table from a path', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ ...EMPTY, models: [{ provider: 'openai', model: 'm', input: '1', output: '2' }] }));
    expect(shippedOnly([], path).find('openai', 'm')?.entry.output).toBe('2');
  });

  it('names the file and the bad field when a table is invalid', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ ...EMPTY, models: [{ provider: 'openai', model: 'm', input: '1', output: '1,50' }] }));
    expect(() => loadPriceFile(path)).toThrow(new RegExp(`invalid price table ${path}:[\\s\\S]*at models\\[0\\]\\.output`));
  });
});
