// The price table: data (prices.json, versioned) validated with zod, overridable from config, and
// looked up per request. Prices are decimal strings (USD per million tokens, at most 6 decimals)
// turned once, at load, into BigInt pico-USD per token (1e-12 USD; numerically the same integer as
// micro-USD per million tokens), so no float ever touches a price. Cost arithmetic is in cost.ts.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { genaiPricesEntry } from './genai-prices.ts';

const PRICE_HELP = 'a price is a non-negative decimal string of USD per million tokens with at most 6 decimals, e.g. "2.50"';

// A string, not a number: JSON/YAML numbers are floats, and quoting keeps the figure exact.
const Price = z.string({ error: `${PRICE_HELP} (quote it: a number would be a float)` }).regex(/^\d+(\.\d{1,6})?$/, PRICE_HELP);

const CACHE_RATES = ['cacheRead', 'cacheWrite5m', 'cacheWrite1h'] as const;

const Rates = {
  input: Price,
  output: Price,
  /** Cache hits. Absent: billed at the input rate. */
  cacheRead: Price.optional(),
  /** Cache writes with the default TTL (Anthropic 5 minutes; OpenAI models that bill writes). */
  cacheWrite5m: Price.optional(),
  /** Cache writes with a 1-hour TTL (Anthropic). */
  cacheWrite1h: Price.optional(),
};

export const PriceTierSchema = z.strictObject({
  /** The tier applies to a request whose input (cached included) is ABOVE this many tokens. */
  aboveInputTokens: z.number().int().positive(),
  ...Rates,
});

export const PriceEntrySchema = z
  .strictObject({
    provider: z.enum(['openai', 'anthropic']),
    /** The model id as the provider names it, without a date suffix (dated snapshots resolve to it). */
    model: z.string().min(1),
    aliases: z.array(z.string().min(1)).optional(),
    ...Rates,
    tiers: z.array(PriceTierSchema).optional(),
    contextWindow: z.number().int().positive().optional(),
    maxOutputTokens: z.number().int().positive().optional(),
  })
  .superRefine((entry, ctx) => {
    const seen = new Set<number>();
    entry.tiers?.forEach((tier, i) => {
      if (seen.has(tier.aboveInputTokens)) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'aboveInputTokens'], message: `duplicate tier threshold ${tier.aboveInputTokens}` });
      seen.add(tier.aboveInputTokens);
      // A tier that omitted a cache rate the base sets would fall back to the tier's input rate:
      // a 10× overcharge on cache reads. Make the author say it.
      for (const rate of CACHE_RATES) {
        if (entry[rate] !== undefined && tier[rate] === undefined) ctx.addIssue({ code: 'custom', path: ['tiers', i, rate], message: `required: the entry sets ${rate}, so each tier must too` });
      }
    });
  });

/** One model name (id or alias) per provider may appear once, or one entry would silently shadow another. */
function uniqueNames(entries: PriceEntry[], ctx: z.RefinementCtx, pathPrefix: (string | number)[]): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const names: [string, (string | number)[]][] = [[entry.model, ['model']], ...(entry.aliases ?? []).map((a, j): [string, (string | number)[]] => [a, ['aliases', j]])];
    for (const [name, path] of names) {
      const key = nameKey(entry.provider, name);
      const first = seen.get(key);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [...pathPrefix, i, ...path], message: `duplicate ${entry.provider} model name "${name}" (also in entry ${first})` });
      else seen.set(key, i);
    }
  });
}

/** Config overrides (`pricing.models`): entries that replace (same provider and model) or add to the shipped table. */
export const PriceOverridesSchema = z.array(PriceEntrySchema).superRefine((entries, ctx) => uniqueNames(entries, ctx, []));

export const PriceFileSchema = z
  .strictObject({
    /** The date the prices were last checked against the providers (YYYY-MM-DD). */
    version: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'version is the date the prices were checked, YYYY-MM-DD'),
    currency: z.literal('USD'),
    unit: z.literal('per_million_tokens'),
    models: z.array(PriceEntrySchema),
  })
  .superRefine((file, ctx) => uniqueNames(file.models, ctx, ['models']));

export type PriceTier = z.infer<typeof PriceTierSchema>;
export type PriceEntry = z.infer<typeof PriceEntrySchema>;
export type PriceFile = z.infer<typeof PriceFileSchema>;
export type Provider = PriceEntry['provider'];

/** Rates in pico-USD (1e-12 USD) per token. */
export interface Rates {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite5m: bigint;
  cacheWrite1h: bigint;
}

/** Where an entry came from, for `llm-sidecar prices` and the docs. */
export type PriceSource = 'config' | 'prices.json' | 'genai-prices';

/** A validated entry with its rates converted once, ready for computeCost. */
export interface CompiledEntry {
  readonly entry: PriceEntry;
  readonly source: PriceSource;
  readonly base: Rates;
  /** Long-context tiers, highest threshold first (the first one the input exceeds applies). */
  readonly tiers: readonly { readonly above: number; readonly rates: Rates }[];
}

/** "2.50" USD per million tokens → 2_500_000n pico-USD per token (1e6 tokens × 1e-12 USD = 1e-6 USD). */
export function toPicoUsdPerToken(decimal: string): bigint {
  const [int = '0', frac = ''] = decimal.split('.');
  return BigInt(int) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
}

/**
 * Missing cache rates fall back so a cost is never free and never guessed: a cache read to the
 * input rate; a cache write to the other write rate (1h and 5m stand in for each other), and only
 * when the entry has neither, to the input rate (OpenAI models without a write charge).
 */
function compileRates(r: Omit<PriceTier, 'aboveInputTokens'>): Rates {
  const input = toPicoUsdPerToken(r.input);
  const w5m = r.cacheWrite5m ?? r.cacheWrite1h;
  const w1h = r.cacheWrite1h ?? r.cacheWrite5m;
  return {
    input,
    output: toPicoUsdPerToken(r.output),
    cacheRead: r.cacheRead !== undefined ? toPicoUsdPerToken(r.cacheRead) : input,
    cacheWrite5m: w5m !== undefined ? toPicoUsdPerToken(w5m) : input,
    cacheWrite1h: w1h !== undefined ? toPicoUsdPerToken(w1h) : input,
  };
}

function compile(entry: PriceEntry, source: PriceSource): CompiledEntry {
  return {
    entry,
    source,
    base: compileRates(entry),
    tiers: (entry.tiers ?? []).map((t) => ({ above: t.aboveInputTokens, rates: compileRates(t) })).sort((a, b) => b.above - a.above),
  };
}

// The provider is an enum without ':', so the key is unambiguous even for names with ':' (fine-tunes).
const nameKey = (provider: string, model: string): string => `${provider}:${model}`;

// Dated snapshots and moving aliases resolve to their family: gpt-4o-2024-08-06 → gpt-4o,
// claude-sonnet-4-5-20250929 → claude-sonnet-4-5, claude-3-7-sonnet-latest → claude-3-7-sonnet,
// claude-sonnet-4-5@20250929 (Vertex naming) → claude-sonnet-4-5. Only a whole date or "latest"
// at the very end is stripped, and the rest must then match exactly: gpt-4o-mini can never fall
// back to gpt-4o, and gpt-3.5-turbo-1106 (MMDD snapshots were priced differently) stays unknown.
const SNAPSHOT_SUFFIX = /[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/** Resolved names cached per (provider, model); bounded because the model name comes from clients. */
const MAX_CACHED_NAMES = 10_000;

/** A second source asked for models the table does not list (genai-prices.ts); what it returns is validated here. */
export type PriceFallback = (provider: Provider, model: string) => unknown;

export class PriceTable {
  readonly version: string;
  private readonly byName = new Map<string, CompiledEntry>();
  private readonly resolved = new Map<string, CompiledEntry | null>();

  /** Prefer createPriceTable, which validates; this trusts its (typed) input. */
  constructor(
    file: PriceFile,
    overrides: readonly PriceEntry[] = [],
    private readonly fallback?: PriceFallback,
  ) {
    this.version = file.version;
    // An override replaces the shipped entry of the same provider and model, aliases included.
    const merged = new Map<string, PriceEntry>();
    for (const entry of file.models) merged.set(nameKey(entry.provider, entry.model), entry);
    for (const entry of overrides) {
      merged.delete(nameKey(entry.provider, entry.model)); // re-inserted last: its aliases win below
      merged.set(nameKey(entry.provider, entry.model), entry);
    }
    const fromConfig = new Set(overrides);
    const compiled = [...merged.values()].map((e) => compile(e, fromConfig.has(e) ? 'config' : 'prices.json'));
    // Aliases first (a later entry's alias wins), then ids: an id always beats someone's alias.
    for (const c of compiled) for (const alias of c.entry.aliases ?? []) this.byName.set(nameKey(c.entry.provider, alias), c);
    for (const c of compiled) this.byName.set(nameKey(c.entry.provider, c.entry.model), c);
  }

  /**
   * The entry for a model as the provider names it in a request or response: exact id or alias,
   * else a dated snapshot / `-latest` of a known id or alias. Undefined means cost unknown.
   */
  find(provider: string, model: string): CompiledEntry | undefined {
    const key = nameKey(provider, model);
    const hit = this.resolved.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let found = this.byName.get(key);
    if (!found && SNAPSHOT_SUFFIX.test(model)) found = this.byName.get(nameKey(provider, model.replace(SNAPSHOT_SUFFIX, '')));
    if (!found && this.fallback && (provider === 'openai' || provider === 'anthropic')) {
      const entry = PriceEntrySchema.safeParse(this.fallback(provider, model) ?? null);
      if (entry.success) found = compile(entry.data, 'genai-prices');
    }
    if (this.resolved.size >= MAX_CACHED_NAMES) this.resolved.clear();
    this.resolved.set(key, found ?? null);
    return found;
  }

  /** Every entry, overrides applied (for listing and docs). */
  entries(): PriceEntry[] {
    return [...new Set(this.byName.values())].map((c) => c.entry);
  }
}

function invalid(what: string, error: z.ZodError): Error {
  return new Error(`invalid ${what}:\n${z.prettifyError(error)}`, { cause: error });
}

/** A table from a price file and config overrides, both validated (throws a readable error). */
export function createPriceTable(base: PriceFile, overrides: readonly PriceEntry[] = [], fallback?: PriceFallback): PriceTable {
  const file = PriceFileSchema.safeParse(base);
  if (!file.success) throw invalid('price table', file.error);
  const extra = PriceOverridesSchema.safeParse(overrides);
  if (!extra.success) throw invalid('pricing overrides (pricing.models)', extra.error);
  return new PriceTable(file.data, extra.data, fallback);
}

export const DEFAULT_PRICE_FILE = new URL('./prices.json', import.meta.url);
let shipped: PriceFile | undefined;

/** Reads and validates a price file; the shipped one is read once per process. */
export function loadPriceFile(path: URL | string = DEFAULT_PRICE_FILE): PriceFile {
  const isDefault = path === DEFAULT_PRICE_FILE;
  if (isDefault && shipped) return shipped;
  const parsed = PriceFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw invalid(`price table ${String(path)}`, parsed.error);
  if (isDefault) shipped = parsed.data;
  return parsed.data;
}

/**
 * The shipped table (or the file at `path`) with config overrides applied on top, and — for models
 * neither lists — genai-prices (`pricing.genaiPrices`, on by default). Order: config, prices.json, genai-prices.
 */
export function loadPriceTable(overrides: readonly PriceEntry[] = [], path: URL | string = DEFAULT_PRICE_FILE, options: { genaiPrices?: boolean } = {}): PriceTable {
  return createPriceTable(loadPriceFile(path), overrides, options.genaiPrices === false ? undefined : genaiPricesEntry);
}
