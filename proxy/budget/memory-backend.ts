// Counters for a single sidecar. Each operation runs start to finish in one synchronous block (no
// await inside), so concurrent requests cannot interleave between the check and the reservation:
// the same all-or-none guarantee the Redis script gives across replicas.
import { admits, type AdjustResult, type BudgetBackend, type CounterAdjust, type CounterReserve, type ReserveResult } from './backend.ts';

interface Entry {
  value: number;
  expiresAt: number;
}

/** Expired entries are swept after this many operations (keys embed their window, so stale ones are only garbage). */
const SWEEP_EVERY = 1_024;

export class MemoryBudgetBackend implements BudgetBackend {
  readonly kind = 'memory' as const;
  /** In memory a settlement cannot be lost: no leases needed. */
  readonly leases = false;
  readonly started = true;
  private readonly entries = new Map<string, Entry>();
  private ops = 0;

  /** Number of live and not yet swept keys (for tests and memory checks). */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(now: number): void {
    if (++this.ops % SWEEP_EVERY !== 0) return;
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }

  reserveSync(counters: readonly CounterReserve[], now: number): ReserveResult {
    this.sweep(now);
    const values = counters.map((c) => this.live(c.key, now)?.value ?? 0);
    for (let i = 0; i < counters.length; i++) {
      const c = counters[i] as CounterReserve;
      if (!admits(values[i] as number, c.amount, c.limit)) return { ok: false, values };
    }
    for (let i = 0; i < counters.length; i++) {
      const c = counters[i] as CounterReserve;
      const e = this.live(c.key, now);
      if (e === undefined) this.entries.set(c.key, { value: c.amount, expiresAt: now + c.ttlMs });
      else {
        e.value += c.amount;
        e.expiresAt = now + c.ttlMs;
      }
      values[i] = (values[i] as number) + c.amount;
    }
    return { ok: true, values };
  }

  adjustSync(adjustments: readonly CounterAdjust[], now: number): AdjustResult {
    this.sweep(now);
    const values: number[] = [];
    const alerts: number[] = [];
    adjustments.forEach((a, i) => {
      let e = this.live(a.key, now);
      if (a.delta > 0) {
        if (e === undefined) {
          e = { value: 0, expiresAt: 0 };
          this.entries.set(a.key, e);
        }
        e.value += a.delta;
        e.expiresAt = now + a.ttlMs;
      } else if (a.delta < 0 && e !== undefined) {
        e.value = Math.max(0, e.value + a.delta);
      }
      const value = e?.value ?? -1;
      values.push(value);
      if (a.alert !== undefined && a.alert.threshold > 0 && value >= a.alert.threshold && this.live(a.alert.key, now) === undefined) {
        this.entries.set(a.alert.key, { value: 1, expiresAt: now + a.ttlMs });
        alerts.push(i);
      }
    });
    return { values, alerts };
  }

  reserve(counters: readonly CounterReserve[], now: number): Promise<ReserveResult> {
    return Promise.resolve(this.reserveSync(counters, now));
  }

  adjust(adjustments: readonly CounterAdjust[], now: number): Promise<AdjustResult> {
    return Promise.resolve(this.adjustSync(adjustments, now));
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}
