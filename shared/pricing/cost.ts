// Exact cost of one call: token counts × rates held as BigInt pico-USD (1e-12 USD) per token,
// summed as BigInt and printed as a trimmed decimal. Per-million prices have at most 6 decimals,
// so every product is an exact integer: no rounding anywhere, and sums of printed costs
// (parsePicoUsd) are exact too.
import type { NormalizedUsage } from '../usage.ts';
import type { CompiledEntry, PriceTable } from './price-table.ts';

const COST_DECIMALS = 12;
const PICO_PER_USD = 10n ** BigInt(COST_DECIMALS);

/** Exact decimal text of an amount in 1e-12 USD, trailing zeros trimmed ("0.000125", "3", "0"). */
export function formatPicoUsd(pico: bigint): string {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  const frac = (abs % PICO_PER_USD).toString().padStart(COST_DECIMALS, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / PICO_PER_USD}${frac ? `.${frac}` : ''}`;
}

/** Inverse of formatPicoUsd, for exact sums of costs (metrics, reports). Digits past 1e-12 are dropped. */
export function parsePicoUsd(decimal: string): bigint {
  const neg = decimal.startsWith('-');
  const [int = '0', frac = ''] = (neg ? decimal.slice(1) : decimal).split('.');
  const v = BigInt(int || '0') * PICO_PER_USD + BigInt(frac.slice(0, COST_DECIMALS).padEnd(COST_DECIMALS, '0'));
  return neg ? -v : v;
}

export interface CostBreakdown {
  /** Exact decimal USD, trimmed ("0.000125"). */
  totalUsd: string;
  /** The same as a float, for metrics and sorting only: never sum these for money. */
  usd: number;
  /** Exact decimal USD per part; they add up to totalUsd. cacheWrite is 5m and 1h writes together. */
  parts: { input: string; cacheRead: string; cacheWrite: string; output: string };
  /** Threshold of the long-context tier that priced the whole call, when one did. */
  tierAboveInputTokens?: number;
}

export type PricedCall = ({ known: true } & CostBreakdown) | { known: false };

/** A token count as a BigInt; anything but a non-negative finite number counts as 0 (BigInt(1.5) would throw). */
function tokens(v: number): bigint {
  return Number.isFinite(v) && v > 0 ? BigInt(Math.floor(v)) : 0n;
}

/**
 * Cost of one call. Uncached input = all input − cache reads − cache writes, at the input rate;
 * cache reads and writes at their own rates; output (reasoning included: it is already inside
 * outputTokens, never added again) at the output rate. When the input, cached tokens included,
 * is ABOVE a tier's threshold, every part of the call uses that tier's rates (Anthropic's rule).
 * Inconsistent usage (cache parts larger than the input) never yields a negative part.
 */
function costParts(compiled: CompiledEntry, usage: NormalizedUsage) {
  const input = tokens(usage.inputTokens);
  const read = tokens(usage.cacheReadTokens);
  const w5m = tokens(usage.cacheWrite5mTokens);
  const w1h = tokens(usage.cacheWrite1hTokens);
  const uncached = input - read - w5m - w1h;

  const tier = compiled.tiers.find((t) => input > BigInt(t.above));
  const r = tier?.rates ?? compiled.base;

  const parts = {
    input: (uncached > 0n ? uncached : 0n) * r.input,
    cacheRead: read * r.cacheRead,
    cacheWrite: w5m * r.cacheWrite5m + w1h * r.cacheWrite1h,
    output: tokens(usage.outputTokens) * r.output,
  };
  return { parts, total: parts.input + parts.cacheRead + parts.cacheWrite + parts.output, tier };
}

export function computeCost(compiled: CompiledEntry, usage: NormalizedUsage): CostBreakdown {
  const { parts, total, tier } = costParts(compiled, usage);
  const totalUsd = formatPicoUsd(total);
  return {
    totalUsd,
    usd: Number(totalUsd),
    parts: { input: formatPicoUsd(parts.input), cacheRead: formatPicoUsd(parts.cacheRead), cacheWrite: formatPicoUsd(parts.cacheWrite), output: formatPicoUsd(parts.output) },
    ...(tier ? { tierAboveInputTokens: tier.above } : {}),
  };
}

/** Only the exact total (what the proxy needs per request): computeCost(...).totalUsd, without the breakdown. */
export function totalCostUsd(table: PriceTable, provider: string, model: string, usage: NormalizedUsage): string | undefined {
  const entry = table.find(provider, model);
  return entry ? formatPicoUsd(costParts(entry, usage).total) : undefined;
}

export function computeCostFor(table: PriceTable, provider: string, model: string, usage: NormalizedUsage): PricedCall {
  const entry = table.find(provider, model);
  return entry ? { known: true, ...computeCost(entry, usage) } : { known: false };
}

export const priceCall = computeCostFor;
