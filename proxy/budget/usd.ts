// Money in the budget layer is an integer count of micro-dollars (1e-6 USD): exact to add and
// compare, safe as a JS number up to $9 billion, and what Redis INCRBY takes. Amounts arrive as
// decimal strings (the pricing module's exact `totalUsd`, the config file) or as numbers; both
// are converted through their decimal text, never by multiplying a float.

export const MICROS_PER_USD = 1_000_000;

const DECIMAL = /^(\d+)(?:\.(\d*))?$/;

/**
 * Micro-dollars of a USD amount, rounded UP to the next micro-dollar (a budget never undercounts
 * a spend). Negative, non-finite or unparsable input counts as 0.
 */
export function toMicroUsd(amount: number | string | undefined): number {
  if (amount === undefined) return 0;
  let text: string;
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount) || amount <= 0) return 0;
    if (amount >= 9e9) return Math.ceil(amount) * MICROS_PER_USD;
    // 12 decimals absorb float noise (0.3 is 0.2999…) and keep sub-micro amounts (1e-7 → 1 µ$).
    text = amount.toFixed(12);
  } else {
    text = amount.trim();
  }
  const m = DECIMAL.exec(text);
  if (!m) return 0;
  const int = Number(m[1]);
  const frac = m[2] ?? '';
  const micros = Number(frac.slice(0, 6).padEnd(6, '0'));
  const rest = frac.slice(6);
  const roundUp = /[1-9]/.test(rest) ? 1 : 0;
  return int * MICROS_PER_USD + micros + roundUp;
}

/** USD as a float, for display, alerts and gauges only. */
export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}
