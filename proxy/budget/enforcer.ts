// Budgets and rate limits, exact under any concurrency and across replicas.
//
// reserve() checks the request's estimate (estimated input + max output tokens, estimated USD)
// against every window that applies and reserves it in all of them or in none, in ONE atomic
// backend operation (a synchronous block in memory, one Lua script on Redis):
//   user-daily-tokens / user-daily-usd        per tenant+user, UTC calendar day
//   tenant-monthly-tokens / tenant-monthly-usd per tenant, UTC calendar month
//   {user,tenant,route}-{rpm,tpm}             fixed UTC minutes (rateLimits)
// Reservation.commit() trues every counter up to the actual usage (less or more than reserved:
// more counts fully); release() gives everything back for calls that never reached a provider.
// A true-up after its window ended: a positive delta is charged to the current window (spend is
// never forgotten), a negative one is dropped (that window is gone).
// Alerts fire once per window and key (across replicas) when a budget's counter reaches alertAt
// of its limit at a commit. Backend failures never throw: fail-open admits unmetered, fail-closed
// rejects, and onBackendError hears about each.
// On Redis every reservation carries a lease (reservationTtlSeconds): a commit or release that
// failed is retried in the background while the lease lasts (a retry never applies twice), and a
// reservation never settled is given back by Redis when its lease ends — it is never counted for
// the rest of its window.
import { randomUUID } from 'node:crypto';
import { budgetKeyPrefix, effectiveLimits, type BudgetsConfig } from '../../shared/config/budgets.ts';
import { admits, type BudgetBackend, type CounterAdjust, type Lease, type ReserveResult } from './backend.ts';
import { MemoryBudgetBackend } from './memory-backend.ts';
import { RedisBudgetBackend } from './redis-backend.ts';
import { microsToUsd, toMicroUsd } from './usd.ts';
import { windowAt, type Window, type WindowKind } from './windows.ts';

export type BudgetScope =
  | 'user-daily-tokens'
  | 'user-daily-usd'
  | 'tenant-monthly-tokens'
  | 'tenant-monthly-usd'
  | 'user-rpm'
  | 'user-tpm'
  | 'tenant-rpm'
  | 'tenant-tpm'
  | 'route-rpm'
  | 'route-tpm';

export type BudgetUnit = 'tokens' | 'usd' | 'requests';

export interface ReserveRequest {
  tenant: string;
  user: string;
  route: string;
  /** Estimated input tokens + the answer's max tokens. */
  tokens: number;
  /** Estimated cost in USD (decimal string, e.g. the pricing module's totalUsd, or a number); absent → 0. */
  usd?: number | string;
  /** Clock override for this call (ms since the epoch). */
  now?: number;
}

export interface ActualUsage {
  /** Tokens actually used (input + output); for a cut stream, what was produced. */
  tokens: number;
  /** Actual cost in USD; absent → the reserved USD estimate stands. */
  usd?: number | string;
  now?: number;
}

export interface Reservation {
  readonly rejected: false;
  /** False when admitted unmetered because the backend was unavailable (fail-open). */
  readonly enforced: boolean;
  readonly tokens: number;
  readonly usdMicros: number;
  /** True up to the actual usage. Idempotent; never throws. */
  commit(actual: ActualUsage): Promise<void>;
  /** Give the whole reservation back (the call never reached a provider). Idempotent; never throws. */
  release(now?: number): Promise<void>;
}

export interface Rejection {
  readonly rejected: true;
  /** budget (429, insufficient quota), rate-limit (429) or unavailable (503, fail-closed). */
  kind: 'budget' | 'rate-limit' | 'unavailable';
  /** Human-readable, safe to return to the app. */
  reason: string;
  scope: BudgetScope | 'backend';
  /** The subject: "tenant/user", "tenant", the route, or the backend kind. */
  key: string;
  limit: number;
  unit: BudgetUnit | 'none';
  used: number;
  requested: number;
  /** Seconds until the window resets (Retry-After). */
  retryAfterS: number;
  /** The request alone is larger than the limit: waiting does not help (answer 400 rather than 429). */
  permanent: boolean;
}

export interface BudgetAlert {
  scope: BudgetScope;
  key: string;
  tenant: string;
  user: string | undefined;
  used: number;
  limit: number;
  ratio: number;
  unit: BudgetUnit;
  windowStart: number;
  windowEnd: number;
}

export interface BackendErrorEvent {
  op: 'reserve' | 'commit' | 'release' | 'connect';
  backend: 'memory' | 'redis';
  error: Error;
  timedOut: boolean;
  /** What the enforcer did about it. */
  outcome: 'admitted-unmetered' | 'rejected' | 'usage-not-recorded' | 'reconnecting';
}

export interface BudgetGauge {
  scope: BudgetScope;
  key: string;
  tenant: string;
  user: string | undefined;
  used: number;
  limit: number;
  ratio: number;
  unit: BudgetUnit;
  windowEnd: number;
}

export interface BudgetEnforcerOptions {
  clock?: () => number;
  onAlert?: (alert: BudgetAlert) => void;
  onBackendError?: (event: BackendErrorEvent) => void;
  /** Budget gauges kept for snapshot(), most recently updated first out when full. Default 1,000. */
  snapshotMaxKeys?: number;
  /** Backend calls slower than this count as failures. Default: config.backend.timeoutMs on Redis, none in memory. */
  timeoutMs?: number;
  /** Policy when the backend fails. Default: config.backend.onUnavailable on Redis, fail-open in memory. */
  onUnavailable?: 'fail-open' | 'fail-closed';
  /** Key prefix. Default: config.backend.keyPrefix on Redis, "llm-sidecar:budget:" in memory. */
  keyPrefix?: string;
  /** How long an unsettled reservation is held (backends with leases). Default: config.backend.reservationTtlSeconds, else 900 s. */
  reservationTtlMs?: number;
  /** Pause between retries of failed settlements. Default 1 s. */
  retryEveryMs?: number;
}

/** Keys outlive their window by this much, so a replica whose clock lags a little still finds them. */
const GRACE_MS = 5_000;
const DEFAULT_SNAPSHOT_KEYS = 1_000;
/** Default limit on a Redis call (see budgets.backend.timeoutMs). */
const DEFAULT_TIMEOUT_MS = 500;
/** Failed settlements waiting for a retry, at most (beyond that, their leases give them back). */
const MAX_RETRIES_QUEUED = 10_000;

interface CounterDef {
  scope: BudgetScope;
  unit: BudgetUnit;
  window: WindowKind;
  subject: 'user' | 'tenant' | 'route';
  code: string;
  /** Budgets (not rate limits) alert and appear in snapshot(). */
  budget: boolean;
}

const DEFS = {
  'user-daily-tokens': { scope: 'user-daily-tokens', unit: 'tokens', window: 'day', subject: 'user', code: 'ud.tok', budget: true },
  'user-daily-usd': { scope: 'user-daily-usd', unit: 'usd', window: 'day', subject: 'user', code: 'ud.usd', budget: true },
  'tenant-monthly-tokens': { scope: 'tenant-monthly-tokens', unit: 'tokens', window: 'month', subject: 'tenant', code: 'tm.tok', budget: true },
  'tenant-monthly-usd': { scope: 'tenant-monthly-usd', unit: 'usd', window: 'month', subject: 'tenant', code: 'tm.usd', budget: true },
  'user-rpm': { scope: 'user-rpm', unit: 'requests', window: 'minute', subject: 'user', code: 'u.rpm', budget: false },
  'user-tpm': { scope: 'user-tpm', unit: 'tokens', window: 'minute', subject: 'user', code: 'u.tpm', budget: false },
  'tenant-rpm': { scope: 'tenant-rpm', unit: 'requests', window: 'minute', subject: 'tenant', code: 't.rpm', budget: false },
  'tenant-tpm': { scope: 'tenant-tpm', unit: 'tokens', window: 'minute', subject: 'tenant', code: 't.tpm', budget: false },
  'route-rpm': { scope: 'route-rpm', unit: 'requests', window: 'minute', subject: 'route', code: 'r.rpm', budget: false },
  'route-tpm': { scope: 'route-tpm', unit: 'tokens', window: 'minute', subject: 'route', code: 'r.tpm', budget: false },
} as const satisfies Record<BudgetScope, CounterDef>;

/** One counter touched by one request. */
interface Counter {
  def: CounterDef;
  /** Display subject: "tenant/user", "tenant" or the route. */
  key: string;
  tenant: string;
  user: string | undefined;
  /** Key without prefix and window label. */
  base: string;
  window: Window;
  storeKey: string;
  /** In the counter's unit (micro-USD for usd). */
  limit: number;
  amount: number;
}

/** A tenant's budget limits with USD in micro-dollars. */
export interface ResolvedLimits {
  tier: string | undefined;
  userDailyTokens?: number;
  userDailyUsdMicros?: number;
  tenantMonthlyTokens?: number;
  tenantMonthlyUsdMicros?: number;
}

function nonNegativeInt(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

class BackendTimeout extends Error {
  constructor(ms: number) {
    super(`budget backend did not answer within ${ms} ms`);
    this.name = 'BackendTimeout';
  }
}

function display(def: CounterDef, value: number): number {
  return def.unit === 'usd' ? microsToUsd(value) : value;
}

const SCOPE_TEXT: Record<BudgetScope, string> = {
  'user-daily-tokens': 'daily token budget of user',
  'user-daily-usd': 'daily USD budget of user',
  'tenant-monthly-tokens': 'monthly token budget of tenant',
  'tenant-monthly-usd': 'monthly USD budget of tenant',
  'user-rpm': 'requests-per-minute limit of user',
  'user-tpm': 'tokens-per-minute limit of user',
  'tenant-rpm': 'requests-per-minute limit of tenant',
  'tenant-tpm': 'tokens-per-minute limit of tenant',
  'route-rpm': 'requests-per-minute limit of route',
  'route-tpm': 'tokens-per-minute limit of route',
};

class BudgetReservation implements Reservation {
  readonly rejected = false as const;
  private settled: Promise<void> | undefined;

  constructor(
    private readonly enforcer: BudgetEnforcer,
    private readonly counters: readonly Counter[],
    readonly tokens: number,
    readonly usdMicros: number,
    readonly enforced: boolean,
    private readonly lease: Lease | undefined,
  ) {}

  commit(actual: ActualUsage): Promise<void> {
    this.settled ??= this.enforcer.settle(this.counters, 'commit', nonNegativeInt(actual.tokens), actual.usd === undefined ? this.usdMicros : toMicroUsd(actual.usd), actual.now, this.lease);
    return this.settled;
  }

  release(now?: number): Promise<void> {
    this.settled ??= this.enforcer.settle(this.counters, 'release', 0, 0, now, this.lease);
    return this.settled;
  }
}

export class BudgetEnforcer {
  private readonly clock: () => number;
  private readonly prefix: string;
  private readonly timeoutMs: number | undefined;
  private readonly failOpen: boolean;
  private readonly alertAt: number;
  private readonly tenantLimits = new Map<string, ResolvedLimits>();
  private readonly defaultLimits: ResolvedLimits;
  private readonly rates: { scope: 'user' | 'tenant' | 'route'; rpm: number | undefined; tpm: number | undefined }[];
  private readonly gauges = new Map<string, BudgetGauge>();
  private readonly snapshotMax: number;
  private readonly lastWindow: Partial<Record<WindowKind, Window>> = {};
  private readonly leaseMs: number;
  private readonly retries: (() => Promise<boolean>)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    config: BudgetsConfig,
    readonly backend: BudgetBackend,
    private readonly options: BudgetEnforcerOptions = {},
  ) {
    const redis = config.backend.type === 'redis' ? config.backend : undefined;
    this.clock = options.clock ?? Date.now;
    this.prefix = options.keyPrefix ?? (redis ? budgetKeyPrefix(redis) : 'llm-sidecar:budget:');
    this.timeoutMs = options.timeoutMs ?? (backend.kind === 'redis' ? (redis?.timeoutMs ?? DEFAULT_TIMEOUT_MS) : undefined);
    this.leaseMs = options.reservationTtlMs ?? (redis?.reservationTtlSeconds ?? 900) * 1000;
    this.failOpen = (options.onUnavailable ?? redis?.onUnavailable ?? 'fail-open') === 'fail-open';
    this.alertAt = config.alertAt;
    this.snapshotMax = Math.max(1, options.snapshotMaxKeys ?? DEFAULT_SNAPSHOT_KEYS);
    const resolve = (tenant: string): ResolvedLimits => {
      const e = effectiveLimits(config, tenant);
      const out: ResolvedLimits = { tier: e.tier };
      if (e.userDailyTokens !== undefined) out.userDailyTokens = e.userDailyTokens;
      if (e.userDailyUsd !== undefined) out.userDailyUsdMicros = toMicroUsd(e.userDailyUsd);
      if (e.tenantMonthlyTokens !== undefined) out.tenantMonthlyTokens = e.tenantMonthlyTokens;
      if (e.tenantMonthlyUsd !== undefined) out.tenantMonthlyUsdMicros = toMicroUsd(e.tenantMonthlyUsd);
      return out;
    };
    for (const tenant of Object.keys(config.tenants)) this.tenantLimits.set(tenant, resolve(tenant));
    // A tenant that is not listed gets the default tier; no listed tenant can be named like this.
    this.defaultLimits = resolve('\u0000unlisted');
    // Several entries for one scope share its counters: the strictest limit of each kind applies.
    const min = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
    this.rates = (['user', 'tenant', 'route'] as const).flatMap((scope) => {
      const entries = config.rateLimits.filter((r) => r.scope === scope);
      if (entries.length === 0) return [];
      return [{ scope, rpm: entries.reduce<number | undefined>((m, r) => min(m, r.requestsPerMinute), undefined), tpm: entries.reduce<number | undefined>((m, r) => min(m, r.tokensPerMinute), undefined) }];
    });
  }

  /** The budget limits that apply to a tenant (USD in micro-dollars). */
  limitsFor(tenant: string): ResolvedLimits {
    return this.tenantLimits.get(tenant) ?? this.defaultLimits;
  }

  private counters(req: ReserveRequest, now: number, tokens: number, usdMicros: number): Counter[] {
    const out: Counter[] = [];
    const limits = this.limitsFor(req.tenant);
    const t = encodeURIComponent(req.tenant);
    const subjects = {
      user: { enc: `${t}/${encodeURIComponent(req.user)}`, key: `${req.tenant}/${req.user}`, user: req.user as string | undefined },
      tenant: { enc: t, key: req.tenant, user: undefined },
      route: { enc: encodeURIComponent(req.route), key: req.route, user: undefined },
    };
    const windows: Partial<Record<WindowKind, Window>> = {};
    const add = (def: CounterDef, limit: number | undefined, amount: number): void => {
      if (limit === undefined) return;
      const s = subjects[def.subject];
      const window = (windows[def.window] ??= this.window(def.window, now));
      const base = `${def.code}:${s.enc}:`;
      out.push({ def, key: s.key, tenant: req.tenant, user: s.user, base, window, storeKey: this.prefix + base + window.label, limit, amount });
    };
    add(DEFS['user-daily-tokens'], limits.userDailyTokens, tokens);
    add(DEFS['user-daily-usd'], limits.userDailyUsdMicros, usdMicros);
    add(DEFS['tenant-monthly-tokens'], limits.tenantMonthlyTokens, tokens);
    add(DEFS['tenant-monthly-usd'], limits.tenantMonthlyUsdMicros, usdMicros);
    for (const r of this.rates) {
      add(DEFS[`${r.scope}-rpm`], r.rpm, 1);
      add(DEFS[`${r.scope}-tpm`], r.tpm, tokens);
    }
    return out;
  }

  /** The window of `now`, reusing the last one computed for that kind (most requests share it). */
  private window(kind: WindowKind, now: number): Window {
    const last = this.lastWindow[kind];
    if (last !== undefined && now >= last.start && now < last.end) return last;
    const w = windowAt(kind, now);
    this.lastWindow[kind] = w;
    return w;
  }

  /** Whether the backend has been ready (connected, scripts loaded) at least once: /readyz waits for it. */
  get started(): boolean {
    return this.backend.started;
  }

  /**
   * Runs a backend call under timeoutMs; a late answer is handed to onLate. The deadline is
   * judged after the event loop has read its sockets (setImmediate after the timer): timers run
   * before I/O in a loop turn, so a busy loop would otherwise call an answer that already arrived
   * "late" — a healthy Redis turned into 503s or unmetered admissions under a burst.
   */
  private timed<T>(call: Promise<T>, onLate?: (value: T) => void): Promise<T> {
    const ms = this.timeoutMs;
    if (ms === undefined) return call;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (done) return;
          done = true;
          reject(new BackendTimeout(ms));
          call.then((v) => onLate?.(v), () => undefined);
        });
      }, ms);
      call.then(
        (v) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(toError(err));
        },
      );
    });
  }

  private report(op: BackendErrorEvent['op'], err: unknown, outcome: BackendErrorEvent['outcome']): void {
    const error = toError(err);
    try {
      this.options.onBackendError?.({ op, backend: this.backend.kind, error, timedOut: error instanceof BackendTimeout, outcome });
    } catch {
      // a failing callback must not break the request path
    }
  }

  /** Checks and reserves atomically against every applicable window. Never throws. */
  async reserve(req: ReserveRequest): Promise<Reservation | Rejection> {
    let now = this.clock();
    let tokens = 0;
    let usdMicros = 0;
    let counters: Counter[] = [];
    try {
      now = req.now ?? now;
      tokens = nonNegativeInt(req.tokens);
      usdMicros = toMicroUsd(req.usd);
      counters = this.counters(req, now, tokens, usdMicros);
      if (counters.length === 0) return new BudgetReservation(this, counters, tokens, usdMicros, true, undefined);
      const ops = counters.map((c) => ({ key: c.storeKey, amount: c.amount, limit: c.limit, ttlMs: c.window.end - now + GRACE_MS }));
      const reserved = counters;
      const lease: Lease | undefined = this.backend.leases ? { id: randomUUID(), deadline: now + this.leaseMs } : undefined;
      const result: ReserveResult = await this.timed(this.backend.reserve(ops, now, lease), (late) => {
        // Timed out, but the script ran: give the reservation back (the request was decided without it).
        if (late.ok) void this.settle(reserved, 'release', 0, 0, now, lease);
      });
      if (result.ok) {
        this.observe(counters, result.values, now);
        return new BudgetReservation(this, counters, tokens, usdMicros, true, lease);
      }
      this.observe(counters, result.values, now);
      return this.rejection(counters, result.values, now);
    } catch (err) {
      if (this.failOpen) {
        this.report('reserve', err, 'admitted-unmetered');
        // Nothing is held; commit() still charges the actual usage if the backend is back by then.
        return new BudgetReservation(this, counters.map((c) => ({ ...c, amount: 0 })), tokens, usdMicros, false, undefined);
      }
      this.report('reserve', err, 'rejected');
      const error = toError(err);
      return {
        rejected: true,
        kind: 'unavailable',
        reason: `budget store (${this.backend.kind}) unavailable: ${error.message}; budgets.backend.onUnavailable is "fail-closed", so requests are rejected until it is back`,
        scope: 'backend',
        key: this.backend.kind,
        limit: 0,
        unit: 'none',
        used: 0,
        requested: tokens,
        retryAfterS: 1,
        permanent: false,
      };
    }
  }

  private rejection(counters: readonly Counter[], values: readonly number[], now: number): Rejection {
    let pick: { c: Counter; used: number } | undefined;
    counters.forEach((c, i) => {
      const used = values[i] ?? 0;
      if (admits(used, c.amount, c.limit)) return;
      const permanent = c.amount > c.limit;
      if (pick === undefined) pick = { c, used };
      else {
        const pickPermanent = pick.c.amount > pick.c.limit;
        // A request that can never fit is the most useful answer; else the longest wait.
        if ((permanent && !pickPermanent) || (permanent === pickPermanent && c.window.end > pick.c.window.end)) pick = { c, used };
      }
    });
    const { c, used } = pick ?? { c: counters[0] as Counter, used: values[0] ?? 0 };
    const d = c.def;
    const permanent = c.amount > c.limit;
    const fmt = (v: number): string => (d.unit === 'usd' ? `$${microsToUsd(v)}` : `${v} ${d.unit}`);
    const resets = new Date(c.window.end).toISOString();
    const reason = permanent
      ? `${SCOPE_TEXT[d.scope]} "${c.key}" is ${fmt(c.limit)}; this request alone needs up to ${fmt(c.amount)}`
      : `${SCOPE_TEXT[d.scope]} "${c.key}" reached: ${fmt(used)} of ${fmt(c.limit)} used, this request needs up to ${fmt(c.amount)}; resets at ${resets}`;
    return {
      rejected: true,
      kind: d.budget ? 'budget' : 'rate-limit',
      reason,
      scope: d.scope,
      key: c.key,
      limit: display(d, c.limit),
      unit: d.unit,
      used: display(d, used),
      requested: display(d, c.amount),
      retryAfterS: Math.max(1, Math.ceil((c.window.end - now) / 1000)),
      permanent,
    };
  }

  /**
   * @internal True-up (commit) or give-back (release) of a reservation's counters, used by
   * Reservation. Never throws. A failure is retried in the background while the lease lasts.
   */
  async settle(counters: readonly Counter[], op: 'commit' | 'release', actualTokens: number, actualMicros: number, at: number | undefined, lease: Lease | undefined): Promise<void> {
    const ok = await this.trySettle(counters, op, actualTokens, actualMicros, at, lease, true);
    if (ok || lease === undefined || this.closed) return;
    // A retry whose lease is gone changes nothing, so it is safe even when the failed call did run.
    this.queueRetry(() => this.trySettle(counters, op, actualTokens, actualMicros, undefined, lease, false, true), lease);
  }

  private queueRetry(retry: () => Promise<boolean>, lease: Lease): void {
    if (this.retries.length >= MAX_RETRIES_QUEUED) this.retries.shift(); // its lease gives it back
    // Past its lease, the reservation is given back: a retry then could not tell whether it already ran.
    this.retries.push(() => (this.clock() >= lease.deadline ? Promise.resolve(true) : retry()));
    this.scheduleRetries();
  }

  private scheduleRetries(): void {
    if (this.retryTimer !== undefined || this.closed || this.retries.length === 0) return;
    this.retryTimer = setTimeout(() => {
      void this.runRetries();
    }, this.options.retryEveryMs ?? 1_000);
    this.retryTimer.unref();
  }

  private async runRetries(): Promise<void> {
    while (this.retries.length > 0 && !this.closed) {
      const next = this.retries[0] as () => Promise<boolean>;
      if (!(await next())) break; // still failing: try again later, in order
      this.retries.shift();
    }
    this.retryTimer = undefined;
    this.scheduleRetries();
  }

  /** Failed settlements waiting for a retry. */
  get pendingSettlements(): number {
    return this.retries.length;
  }

  private async trySettle(counters: readonly Counter[], op: 'commit' | 'release', actualTokens: number, actualMicros: number, at: number | undefined, lease: Lease | undefined, reportFailure: boolean, retry = false): Promise<boolean> {
    try {
      const now = at ?? this.clock();
      const adjustments: CounterAdjust[] = [];
      const owners: { c: Counter; window: Window }[] = [];
      for (const c of counters) {
        let delta: number;
        if (op === 'release') delta = -c.amount;
        else delta = c.def.unit === 'tokens' ? actualTokens - c.amount : c.def.unit === 'usd' ? actualMicros - c.amount : 0;
        const alerting = op === 'commit' && c.def.budget && c.limit > 0;
        let window = c.window;
        let storeKey = c.storeKey;
        if (now >= c.window.end) {
          // The reservation's window is over: only unreserved spend carries into the current one.
          if (delta <= 0) continue;
          window = this.window(c.def.window, now);
          storeKey = this.prefix + c.base + window.label;
        } else if (delta === 0 && !alerting && lease === undefined) continue;
        const adj: CounterAdjust = { key: storeKey, delta, ttlMs: window.end - now + GRACE_MS };
        // A lease that lapsed gave back what it held: the backend then adds it to the delta.
        if (lease !== undefined && storeKey === c.storeKey) adj.reserved = c.amount;
        if (alerting) adj.alert = { key: `${this.prefix}alert:${c.base}${window.label}`, threshold: Math.max(1, Math.ceil(c.limit * this.alertAt)) };
        adjustments.push(adj);
        owners.push({ c, window });
      }
      // With a lease, the backend must hear about the settlement even when nothing changes (it ends the lease).
      if (adjustments.length === 0 && lease === undefined) return true;
      let result;
      try {
        result = await this.timed(this.backend.adjust(adjustments, now, lease === undefined ? undefined : { id: lease.id, retry }));
      } catch (err) {
        if (reportFailure) this.report(op, err, 'usage-not-recorded');
        return false;
      }
      owners.forEach(({ c, window }, i) => {
        const v = result.values[i];
        if (v !== undefined && v >= 0 && c.def.budget) this.gauge(c, window, v);
      });
      for (const i of result.alerts) {
        const o = owners[i];
        const v = result.values[i];
        if (o === undefined || v === undefined) continue;
        this.alert(o.c, o.window, v);
      }
      return true;
    } catch (err) {
      if (reportFailure) this.report(op, err, 'usage-not-recorded');
      return false;
    }
  }

  private alert(c: Counter, window: Window, value: number): void {
    const d = c.def;
    try {
      this.options.onAlert?.({
        scope: d.scope,
        key: c.key,
        tenant: c.tenant,
        user: c.user,
        used: display(d, value),
        limit: display(d, c.limit),
        ratio: c.limit > 0 ? value / c.limit : 1,
        unit: d.unit,
        windowStart: window.start,
        windowEnd: window.end,
      });
    } catch {
      // a failing callback must not break the request path
    }
  }

  private observe(counters: readonly Counter[], values: readonly number[], _now: number): void {
    counters.forEach((c, i) => {
      const v = values[i];
      if (c.def.budget && v !== undefined && v >= 0) this.gauge(c, c.window, v);
    });
  }

  private gauge(c: Counter, window: Window, value: number): void {
    const id = `${c.def.scope}\u0000${c.key}`;
    this.gauges.delete(id);
    this.gauges.set(id, {
      scope: c.def.scope,
      key: c.key,
      tenant: c.tenant,
      user: c.user,
      used: display(c.def, value),
      limit: display(c.def, c.limit),
      ratio: c.limit > 0 ? value / c.limit : value > 0 ? Infinity : 0,
      unit: c.def.unit,
      windowEnd: window.end,
    });
    while (this.gauges.size > this.snapshotMax) {
      const oldest = this.gauges.keys().next().value;
      if (oldest === undefined) break;
      this.gauges.delete(oldest);
    }
  }

  /**
   * Budget usage (user-day, tenant-month) of the keys this sidecar served recently, as last seen
   * in the backend (on Redis: all replicas' usage at that moment). At most snapshotMaxKeys entries;
   * entries whose window has ended are dropped.
   */
  snapshot(now: number = this.clock()): BudgetGauge[] {
    const out: BudgetGauge[] = [];
    for (const [id, g] of this.gauges) {
      if (g.windowEnd <= now) this.gauges.delete(id);
      else out.push({ ...g });
    }
    return out;
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    return this.backend.close();
  }
}

/** Builds the enforcer and its backend from the `budgets` config (connecting to Redis when configured; never throws on an unreachable Redis). */
export async function createBudgetEnforcer(config: BudgetsConfig, options: BudgetEnforcerOptions & { backend?: BudgetBackend } = {}): Promise<BudgetEnforcer> {
  if (options.backend !== undefined) return new BudgetEnforcer(config, options.backend, options);
  const b = config.backend;
  if (b.type === 'memory') return new BudgetEnforcer(config, new MemoryBudgetBackend(), options);
  const backend = await RedisBudgetBackend.connect({
    connection: b,
    keyPrefix: options.keyPrefix ?? budgetKeyPrefix(b),
    commandTimeoutMs: Math.max(2_000, 4 * b.timeoutMs),
    onConnectionError: (error) => {
      try {
        options.onBackendError?.({ op: 'connect', backend: 'redis', error, timedOut: false, outcome: 'reconnecting' });
      } catch {
        // ignore
      }
    },
  });
  return new BudgetEnforcer(config, backend, options);
}
