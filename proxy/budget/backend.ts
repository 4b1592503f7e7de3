// What the enforcer needs from a counter store: one atomic check-and-reserve over many counters
// (all or none), and one atomic adjustment (true-up, release) that also claims alerts. Counters
// are integers (tokens, requests, micro-USD) under keys that embed their window; every write
// sets the key's time to live to the end of its window (plus a grace period).
// A reservation may carry a lease: a backend that can lose a settlement (Redis) records what the
// reservation holds and gives it back by itself once the lease ends unsettled, so a reservation
// whose commit or release never arrived is never counted for the rest of its window.

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
  /**
   * What the lease holds on this key. When the lease already ended (the backend gave it back),
   * `delta + reserved` is applied instead of `delta`: a commit then charges the whole actual usage,
   * a release nothing.
   */
  reserved?: number;
}

/** Identifies a reservation in the backend until its deadline (ms since the epoch). */
export interface Lease {
  id: string;
  deadline: number;
}

/**
 * Ends a lease. `retry`: an earlier attempt failed or timed out, so it may have run: a lease found
 * already gone is then taken as settled by that attempt (nothing is applied). Retries stop at the
 * lease's deadline, so a lease cannot have been given back before a retry.
 */
export interface LeaseEnd {
  id: string;
  retry: boolean;
}

export interface AdjustResult {
  /** Value after the adjustment; -1 when the key does not exist. */
  values: number[];
  /** Indices of the adjustments whose alert was claimed by THIS call. */
  alerts: number[];
}

export interface BudgetBackend {
  readonly kind: 'memory' | 'redis';
  /** With a lease, what is reserved is given back at `lease.deadline` unless adjust() settles it first. */
  reserve(counters: readonly CounterReserve[], now: number, lease?: Lease): Promise<ReserveResult>;
  /** With a lease, ends it (see CounterAdjust.reserved and LeaseEnd). */
  adjust(adjustments: readonly CounterAdjust[], now: number, lease?: LeaseEnd): Promise<AdjustResult>;
  /** Whether the backend has been ready (connected, scripts loaded) at least once. */
  readonly started: boolean;
  /** Whether leases are kept (settlements can be lost only where they are). */
  readonly leases: boolean;
  close(): Promise<void>;
}

/** The admission rule, shared by both backends (the Redis script implements the same). */
export function admits(used: number, amount: number, limit: number): boolean {
  return used + amount <= limit && (amount > 0 || used < limit);
}
