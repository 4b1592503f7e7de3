// The price table: data (prices.json, versioned) validated with zod, overridable from config, and
// exact cost computation. Prices are decimal strings with at most 6 decimals per million tokens,
// held as integers (micro-USD per million tokens); a cost is tokens × that, in units of 1e-12 USD,
// summed as BigInt and printed as an exact decimal. No float ever touches a price.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { NormalizedUsage } from '../usage.ts';

const price = z.string().regex(/^\d+(\.\d{1,6})?$/, 'a price is a non-negative decimal string with at most 6 decimals, USD per million tokens');

const RatesSchema = {
  input: price,
  output: price,
  cacheRead: price.optional(),
  cacheWrite5m: price.optional(),
  cacheWrite1h: price.optional(),
};

export const PriceTierSchema = z.strictObject({
  /** The tier applies to a request whose input (cached included) is ABOVE this many tokens. */
  aboveInputTokens: z.number().int().positive(),
  ...RatesSchema,
});

export const PriceEntrySchema = z.strictObject({
  provider: z.enum(['openai', 'anthropic']),
  model: z.string().min(1),
  aliases: z.array(z.string().min(1)).optional(),
  ...RatesSchema,
  tiers: z.array(PriceTierSchema).optional(),
  contextWindow: z.number().int().positive().optional(),
  maxOutputTokens: z.number().int().positive().optional(),
});

export const PriceFileSchema = z.strictObject({
  version: z.string().min(1),
  currency: z.literal('USD'),
  unit: z.literal('per_million_tokens'),
  models: z.array(PriceEntrySchema),
});

export type PriceEntry = z.infer<typeof PriceEntrySchema>;
export type PriceFile = z.infer<typeof PriceFileSchema>;

interface Rates {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite5m: bigint;
  cacheWrite1h: bigint;
}

interface CompiledEntry {
  entry: PriceEntry;
  base: Rates;
  /** Sorted by threshold, highest first. */
  tiers: { above: number; rates: Rates }[];
}

const SCALE = 1_000_000n; // micro-USD per million tokens
const COST_DECIMALS = 12; // tokens × micro-USD/M = 1e-12 USD

function toMicro(decimal: string): bigint {
  const [int = '0', frac = ''] = decimal.split('.');
  return BigInt(int) * SCALE + BigInt(frac.padEnd(6, '0'));
}

/** Missing cache rates fall back to the input rate: never cheaper than it should be, never free. */
function compileRates(r: { input: string; output: string; cacheRead?: string; cacheWrite5m?: string; cacheWrite1h?: string }): Rates {
  const input = toMicro(r.input);
  const cacheWrite5m = r.cacheWrite5m !== undefined ? toMicro(r.cacheWrite5m) : input;
  return {
    input,
    output: toMicro(r.output),
    cacheRead: r.cacheRead !== undefined ? toMicro(r.cacheRead) : input,
    cacheWrite5m,
    cacheWrite1h: r.cacheWrite1h !== undefined ? toMicro(r.cacheWrite1h) : cacheWrite5m,
  };
}

/** Exact decimal text of an amount in 1e-12 USD, trailing zeros trimmed ("0.000125", "3", "0"). */
export function formatPicoUsd(pico: bigint): string {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  const div = 10n ** BigInt(COST_DECIMALS);
  const int = abs / div;
  const frac = (abs % div).toString().padStart(COST_DECIMALS, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** Inverse of formatPicoUsd, for exact sums of costs (metrics, reports). */
export function parsePicoUsd(decimal: string): bigint {
  const neg = decimal.startsWith('-');
  const [int = '0', frac = ''] = (neg ? decimal.slice(1) : decimal).split('.');
  const v = BigInt(int) * 10n ** BigInt(COST_DECIMALS) + BigInt(frac.slice(0, COST_DECIMALS).padEnd(COST_DECIMALS, '0'));
  return neg ? -v : v;
}

export interface CostBreakdown {
  /** Exact decimal USD. */
  totalUsd: string;
  /** Convenience for metrics (may lose precision beyond ~15 digits). */
  usd: number;
  parts: { input: string; cacheRead: string; cacheWrite: string; output: string };
  /** The long-context tier applied, if any. */
  tierAboveInputTokens?: number;
}

export function computeCost(compiled: CompiledEntry, usage: NormalizedUsage): CostBreakdown {
  const tier = compiled.tiers.find((t) => usage.inputTokens > t.above);
  const r = tier?.rates ?? compiled.base;
  const cacheWrite = usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  const uncached = Math.max(0, usage.inputTokens - usage.cacheReadTokens - cacheWrite);
  const input = BigInt(uncached) * r.input;
  const cacheRead = BigInt(usage.cacheReadTokens) * r.cacheRead;
  const write = BigInt(usage.cacheWrite5mTokens) * r.cacheWrite5m + BigInt(usage.cacheWrite1hTokens) * r.cacheWrite1h;
  const output = BigInt(usage.outputTokens) * r.output;
  const total = input + cacheRead + write + output;
  const totalUsd = formatPicoUsd(total);
  return {
    totalUsd,
    usd: Number(totalUsd),
    parts: { input: formatPicoUsd(input), cacheRead: formatPicoUsd(cacheRead), cacheWrite: formatPicoUsd(write), output: formatPicoUsd(output) },
    tierAboveInputTokens: tier?.above,
  };
}

// Dated snapshots and moving aliases resolve to their family: gpt-4o-2024-08-06 → gpt-4o,
// claude-sonnet-4-5-20250929 → claude-sonnet-4-5, claude-3-7-sonnet-latest → claude-3-7-sonnet.
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

export class PriceTable {
  readonly version: string;
  private readonly byName = new Map<string, CompiledEntry>();
  private readonly resolved = new Map<string, CompiledEntry | null>();

  constructor(file: PriceFile, overrides: PriceEntry[] = []) {
    this.version = file.version;
    for (const entry of [...file.models, ...overrides]) {
      const compiled: CompiledEntry = {
        entry,
        base: compileRates(entry),
        tiers: (entry.tiers ?? []).map((t) => ({ above: t.aboveInputTokens, rates: compileRates(t) })).sort((a, b) => b.above - a.above),
      };
      for (const name of [entry.model, ...(entry.aliases ?? [])]) this.byName.set(`${entry.provider}:${name}`, compiled);
    }
  }

  /** The entry for a model as a provider names it, or undefined (cost unknown). Cached per name. */
  find(provider: string, model: string): CompiledEntry | undefined {
    const key = `${provider}:${model}`;
    const hit = this.resolved.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let found = this.byName.get(key);
    if (!found && SNAPSHOT_SUFFIX.test(model)) found = this.byName.get(`${provider}:${model.replace(SNAPSHOT_SUFFIX, '')}`);
    if (this.resolved.size < 10_000) this.resolved.set(key, found ?? null);
    return found;
  }
}

export type PricedCall = ({ known: true } & CostBreakdown) | { known: false };

export function priceCall(table: PriceTable, provider: string, model: string, usage: NormalizedUsage): PricedCall {
  const entry = table.find(provider, model);
  if (!entry) return { known: false };
  return { known: true, ...computeCost(entry, usage) };
}

const DEFAULT_FILE = new URL('./prices.json', import.meta.url);

/** The shipped table with config overrides applied on top (same entry schema). */
export function loadPriceTable(overrides: PriceEntry[] = [], file: URL | string = DEFAULT_FILE): PriceTable {
  const data = PriceFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return new PriceTable(data, overrides);
}
