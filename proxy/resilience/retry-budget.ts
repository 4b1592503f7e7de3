// A retry budget per target: retries may add at most `ratio` of the requests seen over a sliding
// window (plus a small floor so a quiet target can still retry), so a failing provider gets a
// trickle of retries, not a storm.
export interface RetryBudgetOptions {
  ratio: number;
  windowMs: number;
  minRetries: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = { ratio: 0.2, windowMs: 10_000, minRetries: 3 };

export class RetryBudget {
  private requests: number[] = [];
  private retries: number[] = [];

  constructor(
    private readonly options: RetryBudgetOptions = DEFAULT_RETRY_BUDGET,
    private readonly now: () => number = Date.now,
  ) {}

  recordRequest(): void {
    this.requests.push(this.now());
  }

  /** Takes a retry from the budget if one is available. */
  tryRetry(): boolean {
    const cutoff = this.now() - this.options.windowMs;
    this.requests = this.requests.filter((t) => t > cutoff);
    this.retries = this.retries.filter((t) => t > cutoff);
    if (this.retries.length >= this.options.minRetries + this.options.ratio * this.requests.length) return false;
    this.retries.push(this.now());
    return true;
  }
}
