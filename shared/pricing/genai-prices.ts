// The second shipped price source: @pydantic/genai-prices, a maintained table of many providers'
// prices, read from the data bundled in the npm package (its remote auto-update is never switched
// on: the sidecar stays offline and reproducible). It answers only for models prices.json does not
// list: prices.json stays first because its figures are exact decimals, reviewed here, with cache
// writes per TTL and long-context tiers checked against the providers' pages.
//
// A genai-prices entry is converted to our entry format once per model name: its float USD per
// million tokens become decimal strings (6 decimals, the format's precision), its tiers ("start")
// become `aboveInputTokens`, and the result is validated by the same schema as prices.json. An entry
// that does not convert, or that the schema refuses (an unknown price shape), is no price at all —
// never a guessed one.
//
// Loaded lazily: the package bundles its whole data set (~13 MB of RSS once parsed), and prices.json
// prices the models most calls use, so the package is required (synchronously, its CommonJS build:
// a price lookup is synchronous) only the first time a model is missing from the table. A sidecar
// whose traffic prices.json covers never loads it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as GenaiPricesModule from '@pydantic/genai-prices';
import type { ModelPrice, TieredPrices } from '@pydantic/genai-prices';

const requireHere = createRequire(import.meta.url);
type GenaiPrices = typeof GenaiPricesModule;
let genaiPrices: GenaiPrices | undefined;
/** The package, required on first use. */
function calcPrice(...args: Parameters<GenaiPrices['calcPrice']>): ReturnType<GenaiPrices['calcPrice']> {
  genaiPrices ??= requireHere('@pydantic/genai-prices') as GenaiPrices;
  return genaiPrices.calcPrice(...args);
}

/** Whether the package's data has been loaded in this process (tests: it stays unloaded until needed). */
export function genaiPricesLoaded(): boolean {
  return genaiPrices !== undefined;
}

/** An entry in prices.json's format, not validated yet: price-table.ts checks it with the same schema. */
export interface CandidateEntry {
  provider: 'openai' | 'anthropic';
  model: string;
  input: string;
  output: string;
  cacheRead?: string;
  cacheWrite5m?: string;
  cacheWrite1h?: string;
  tiers?: ({ aboveInputTokens: number } & Rates)[];
  contextWindow?: number;
}
type Rates = { input: string; output: string; cacheRead?: string; cacheWrite5m?: string; cacheWrite1h?: string };

/** The package version the bundled data came with (its package.json is not exported: read it beside the entry point). */
export const GENAI_PRICES_VERSION: string = (() => {
  const entry = requireHere.resolve('@pydantic/genai-prices');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
})();

type Field = number | TieredPrices | undefined;

function decimal(n: number | undefined): string | undefined {
  if (n === undefined || !Number.isFinite(n) || n < 0) return undefined;
  return n.toFixed(6).replace(/\.?0+$/, '') || '0';
}

function baseOf(f: Field): number | undefined {
  return typeof f === 'number' ? f : f?.base;
}

/** The price of a field for a request above `threshold` input tokens. */
function atThreshold(f: Field, threshold: number): number | undefined {
  if (f === undefined || typeof f === 'number') return f;
  let price = f.base;
  for (const t of [...f.tiers].sort((a, b) => a.start - b.start)) if (t.start <= threshold) price = t.price;
  return price;
}

function rates(p: ModelPrice, pick: (f: Field) => number | undefined): Rates | undefined {
  const input = decimal(pick(p.input_mtok));
  const output = decimal(pick(p.output_mtok));
  if (input === undefined || output === undefined) return undefined;
  const out: Rates = { input, output };
  const cacheRead = decimal(pick(p.cache_read_mtok));
  const cacheWrite5m = decimal(pick(p.cache_write_mtok));
  const cacheWrite1h = decimal(pick(p.cache_write_1h_mtok));
  if (cacheRead !== undefined) out.cacheRead = cacheRead;
  if (cacheWrite5m !== undefined) out.cacheWrite5m = cacheWrite5m;
  if (cacheWrite1h !== undefined) out.cacheWrite1h = cacheWrite1h;
  return out;
}

/** Our entry for a model of an OpenAI or Anthropic API, from genai-prices; undefined when it has none. */
export function genaiPricesEntry(provider: 'openai' | 'anthropic', model: string, now: Date = new Date()): CandidateEntry | undefined {
  let found: ReturnType<typeof calcPrice>;
  try {
    found = calcPrice({ input_tokens: 1 }, model, { providerId: provider, timestamp: now });
  } catch {
    return undefined;
  }
  if (!found) return undefined;
  const p = found.model_price;
  const base = rates(p, baseOf);
  if (!base) return undefined;
  const thresholds = new Set<number>();
  for (const f of [p.input_mtok, p.output_mtok, p.cache_read_mtok, p.cache_write_mtok, p.cache_write_1h_mtok] as Field[]) {
    if (f !== undefined && typeof f !== 'number') for (const t of f.tiers) thresholds.add(t.start);
  }
  const tiers: ({ aboveInputTokens: number } & Rates)[] = [];
  for (const t of [...thresholds].sort((a, b) => a - b)) {
    const r = rates(p, (f) => atThreshold(f, t));
    if (!r || t <= 0) return undefined;
    tiers.push({ aboveInputTokens: t, ...r });
  }
  return {
    provider,
    model: found.model.id,
    ...base,
    ...(tiers.length > 0 ? { tiers } : {}),
    ...(found.model.context_window !== undefined ? { contextWindow: found.model.context_window } : {}),
  };
}
