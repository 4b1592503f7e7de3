// A circuit breaker per route target: trips when the failure ratio over a sliding window exceeds a
// threshold (with a minimum number of requests, so two failures out of three do not trip it),
// skips the target while open, and lets exactly one probe through after the cooldown (half-open).
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Trip above this failure ratio (0–1). */
  failureRatio: number;
  windowMs: number;
  minRequests: number;
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureRatio: 0.5, windowMs: 30_000, minRequests: 10, cooldownMs: 30_000 };

const BUCKETS = 10;

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private openedAt = 0;
  private probeInFlight = false;
  private readonly ok = new Array<number>(BUCKETS).fill(0);
  private readonly failed = new Array<number>(BUCKETS).fill(0);
  private bucketStart = Number.NaN;
  private bucket = 0;

  constructor(
    private readonly options: BreakerOptions = DEFAULT_BREAKER,
    private readonly onChange?: (from: BreakerState, to: BreakerState) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) this.transition('half_open');
    return this.state;
  }

  /** May a request go to this target now? In half-open state only one probe is let through. */
  allow(): boolean {
    const s = this.current;
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  record(success: boolean): void {
    if (this.state === 'half_open') {
      this.probeInFlight = false;
      this.resetWindow();
      this.transition(success ? 'closed' : 'open');
      return;
    }
    this.rotate();
    if (success) this.ok[this.bucket] = (this.ok[this.bucket] as number) + 1;
    else this.failed[this.bucket] = (this.failed[this.bucket] as number) + 1;
    if (this.state === 'closed' && !success) {
      const failed = this.failed.reduce((a, b) => a + b, 0);
      const total = failed + this.ok.reduce((a, b) => a + b, 0);
      if (total >= this.options.minRequests && failed / total > this.options.failureRatio) this.transition('open');
    }
  }

  private transition(to: BreakerState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (to === 'open') this.openedAt = this.now();
    if (to === 'closed') this.resetWindow();
    this.onChange?.(from, to);
  }

  /** Advance the ring of buckets to the current time, clearing the ones that fell out of the window. */
  private rotate(): void {
    const width = this.options.windowMs / BUCKETS;
    const t = this.now();
    if (Number.isNaN(this.bucketStart)) this.bucketStart = t;
    let steps = Math.floor((t - this.bucketStart) / width);
    if (steps <= 0) return;
    this.bucketStart += steps * width;
    steps = Math.min(steps, BUCKETS);
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUCKETS;
      this.ok[this.bucket] = 0;
      this.failed[this.bucket] = 0;
    }
  }

  private resetWindow(): void {
    this.ok.fill(0);
    this.failed.fill(0);
  }
}
