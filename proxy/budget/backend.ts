// What the enforcer needs from a counter store: one atomic check-and-reserve over many counters
// (all or none), and one atomic adjustment (true-up, release) that also claims alerts. Counters
// are integers (tokens, requests, micro-USD) under keys that embed their window; every write
// sets the key's time to live to the end of its window (plus a grace period).

export interface CounterReserve {
  key: string;
  /** Added when every counter admits the request. */
  amount: number;
  /** Admit iff used + amount ≤ limit (and, for amount 0, used < limit). */
  limit: number;
  ttlMs: number;
}

export type ReserveResult =
  /** Values after the reservation, in order. */
  | { ok: true; values: number[] }
  /** Nothing was written; the values as they were, in order. */
  | { ok: false; values: number[] };

export interface CounterAdjust {
  key: string;
  /** Positive: added (key created with ttlMs when absent). Negative: subtracted, never below 0, only from an existing key. */
  delta: number;
  ttlMs: number;
  /** When set and the value after the adjustment is ≥ threshold, claim `alertKey` (once per window, across replicas). */
  alert?: { key: string; threshold: number };
}

export interface AdjustResult {
  /** Value after the adjustment; -1 when the key does not exist. */
  values: number[];
  /** Indices of the adjustments whose alert was claimed by THIS call. */
  alerts: number[];
}

export interface BudgetBackend {
  readonly kind: 'memory' | 'redis';
  reserve(counters: readonly CounterReserve[], now: number): Promise<ReserveResult>;
  adjust(adjustments: readonly CounterAdjust[], now: number): Promise<AdjustResult>;
  close(): Promise<void>;
}

/** The admission rule, shared by both backends (the Redis script implements the same). */
export function admits(used: number, amount: number, limit: number): boolean {
  return used + amount <= limit && (amount > 0 || used < limit);
}
