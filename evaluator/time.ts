// Time as the evaluator handles it. Call timestamps are DateTime64(9): they travel as integer
// nanoseconds (BigInt; a JS number cannot hold them) through toUnixTimestamp64Nano /
// fromUnixTimestamp64Nano, so no time zone or float rounding ever touches a cursor or a key.

export const NS_PER_MS = 1_000_000n;

export function msToNs(ms: number): bigint {
  return BigInt(Math.floor(ms)) * NS_PER_MS;
}

/** DateTime64(9) insert value "seconds.nanoseconds" (time-zone independent, exact). */
export function nsToDateTime64(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${s}.${frac.toString().padStart(9, '0')}`;
}

/** DateTime64(3) insert value from epoch milliseconds. */
export function msToDateTime64(ms: number): string {
  return (Math.floor(ms) / 1000).toFixed(3);
}

/** Start of the UTC day containing `ms`. */
export function utcDayStart(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400_000;
}

export function isoFromNs(ns: bigint): string {
  return new Date(Number(ns / NS_PER_MS)).toISOString();
}
