// The two tests the weekly digest needs to say whether a week-over-week change is more than noise,
// chosen by the score type: pass/fail scores (0/1) → two-proportion z-test; scales → Mann-Whitney U
// (ranks: no assumption about the scale's distribution), both two-sided with the normal
// approximation (with the tie correction for U). Small and dependency-free; checked against
// textbook values in test/dashboards/weekly-report.test.ts.

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface TestResult {
  test: 'two-proportion' | 'mann-whitney';
  /** z statistic (positive: this week higher). */
  z: number;
  /** Two-sided p-value; 1 when the test cannot say anything (no variance, an empty side). */
  p: number;
}

/** Two-proportion z-test (pooled) on successes a of n (last week) vs b of m (this week). */
export function twoProportionTest(a: number, n: number, b: number, m: number): TestResult {
  if (n === 0 || m === 0) return { test: 'two-proportion', z: 0, p: 1 };
  const pooled = (a + b) / (n + m);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m));
  if (se === 0) return { test: 'two-proportion', z: 0, p: 1 };
  const z = (b / m - a / n) / se;
  return { test: 'two-proportion', z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

/** Mann-Whitney U (normal approximation, tie-corrected) of `after` against `before`. */
export function mannWhitneyTest(before: readonly number[], after: readonly number[]): TestResult {
  const n1 = before.length;
  const n2 = after.length;
  if (n1 === 0 || n2 === 0) return { test: 'mann-whitney', z: 0, p: 1 };
  const all = [...before.map((v) => ({ v, after: false })), ...after.map((v) => ({ v, after: true }))].sort((x, y) => x.v - y.v);
  let rankSumAfter = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j += 1;
    const rank = (i + j) / 2 + 1;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    for (let k = i; k <= j; k += 1) if ((all[k] as { after: boolean }).after) rankSumAfter += rank;
    i = j + 1;
  }
  const u = rankSumAfter - (n2 * (n2 + 1)) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { test: 'mann-whitney', z: 0, p: 1 };
  const z = (u - (n1 * n2) / 2) / Math.sqrt(variance);
  return { test: 'mann-whitney', z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

/** Pass/fail when every score is 0 or 1; else a scale. */
export function isPassFail(scores: readonly number[]): boolean {
  return scores.every((s) => s === 0 || s === 1);
}

/** The test suited to the scores of both weeks. */
export function weekOverWeekTest(lastWeek: readonly number[], thisWeek: readonly number[]): TestResult {
  if (isPassFail([...lastWeek, ...thisWeek])) {
    const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    return twoProportionTest(sum(lastWeek), lastWeek.length, sum(thisWeek), thisWeek.length);
  }
  return mannWhitneyTest(lastWeek, thisWeek);
}
