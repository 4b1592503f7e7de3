// Agreement between the judge and human labels. Categorical outputs: accuracy and Cohen's kappa
// (agreement corrected for chance, so a judge that always says "pass" on a mostly-pass set does not
// look good). Numeric scales: exact-match rate, Spearman's rank correlation (does the judge order
// answers like the humans do) and mean absolute error on the scale's own units.

/** Cohen's kappa of two label sequences; null when chance agreement is total (one label everywhere on both sides). */
export function cohensKappa(human: readonly string[], judge: readonly string[]): number | null {
  const n = human.length;
  if (n === 0 || judge.length !== n) return null;
  let agree = 0;
  const h = new Map<string, number>();
  const j = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const a = human[i] as string;
    const b = judge[i] as string;
    if (a === b) agree += 1;
    h.set(a, (h.get(a) ?? 0) + 1);
    j.set(b, (j.get(b) ?? 0) + 1);
  }
  const po = agree / n;
  let pe = 0;
  for (const [label, count] of h) pe += (count / n) * ((j.get(label) ?? 0) / n);
  if (pe === 1) return null;
  return (po - pe) / (1 - pe);
}

export function accuracy<T>(human: readonly T[], judge: readonly T[]): number | null {
  if (human.length === 0 || judge.length !== human.length) return null;
  return human.filter((v, i) => v === judge[i]).length / human.length;
}

/** Ranks 1..n, ties get the average of the ranks they span. */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && (order[end + 1] as { v: number }).v === (order[start] as { v: number }).v) end += 1;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) out[(order[k] as { i: number }).i] = rank;
    start = end + 1;
  }
  return out;
}

function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rho (Pearson correlation of the ranks, ties averaged); null when either side is constant. */
export function spearman(human: readonly number[], judge: readonly number[]): number | null {
  if (human.length !== judge.length) return null;
  return pearson(ranks(human), ranks(judge));
}

export function meanAbsoluteError(human: readonly number[], judge: readonly number[]): number | null {
  if (human.length === 0 || judge.length !== human.length) return null;
  return human.reduce((sum, v, i) => sum + Math.abs(v - (judge[i] as number)), 0) / human.length;
}

/** counts[human][judge] */
export function confusion(human: readonly string[], judge: readonly string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  human.forEach((h, i) => {
    const row = (out[h] ??= {});
    const j = judge[i] as string;
    row[j] = (row[j] ?? 0) + 1;
  });
  return out;
}
