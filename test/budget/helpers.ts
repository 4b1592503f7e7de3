// Shared helpers of the budget tests: an enforcer on either backend with a fake clock.
import { randomUUID } from 'node:crypto';
import { BudgetsSchema, type BudgetsConfigInput } from '../../shared/config/budgets.ts';
import { createBudgetEnforcer, type BackendErrorEvent, type BudgetAlert, type BudgetEnforcer, type Rejection, type Reservation } from '../../proxy/budget/enforcer.ts';

export type BackendKind = 'memory' | 'redis' | 'redis-cluster' | 'redis-sentinel';

export interface FakeClock {
  now: number;
  read: () => number;
  set(iso: string): void;
  advance(ms: number): void;
}

export function fakeClock(iso = '2025-03-14T12:00:00.000Z'): FakeClock {
  const c: FakeClock = {
    now: Date.parse(iso),
    read: () => c.now,
    set: (s) => {
      c.now = Date.parse(s);
    },
    advance: (ms) => {
      c.now += ms;
    },
  };
  return c;
}

export interface Harness {
  enforcer: BudgetEnforcer;
  clock: FakeClock;
  alerts: BudgetAlert[];
  errors: BackendErrorEvent[];
}

export async function harness(kind: BackendKind, budgets: Omit<BudgetsConfigInput, 'backend'>, opts: { redisUrl?: string; clusterNodes?: string[]; sentinel?: { name: string; sentinels: string[] }; onUnavailable?: 'fail-open' | 'fail-closed'; timeoutMs?: number; clock?: FakeClock; snapshotMaxKeys?: number; keyPrefix?: string; reservationTtlMs?: number; retryEveryMs?: number } = {}): Promise<Harness> {
  const common = { type: 'redis' as const, onUnavailable: opts.onUnavailable ?? 'fail-closed', timeoutMs: opts.timeoutMs ?? 1_000 };
  const backend: BudgetsConfigInput['backend'] =
    kind === 'memory'
      ? { type: 'memory' }
      : kind === 'redis'
        ? { ...common, url: opts.redisUrl ?? 'redis://127.0.0.1:1', keyPrefix: opts.keyPrefix ?? `test:${randomUUID()}:` }
        : kind === 'redis-sentinel'
          ? { ...common, sentinel: opts.sentinel ?? { name: 'none', sentinels: ['127.0.0.1:1'] }, keyPrefix: opts.keyPrefix ?? `test:${randomUUID()}:` }
          : // On a cluster the prefix carries a hash tag: every key of one script in one slot.
          { ...common, cluster: { nodes: opts.clusterNodes ?? ['redis://127.0.0.1:1'] }, keyPrefix: opts.keyPrefix ?? `{test:${randomUUID()}}:` };
  const config = BudgetsSchema.parse({ ...budgets, backend });
  const clock = opts.clock ?? fakeClock();
  const alerts: BudgetAlert[] = [];
  const errors: BackendErrorEvent[] = [];
  const enforcer = await createBudgetEnforcer(config, {
    clock: clock.read,
    onAlert: (a) => alerts.push(a),
    onBackendError: (e) => errors.push(e),
    ...(opts.snapshotMaxKeys === undefined ? {} : { snapshotMaxKeys: opts.snapshotMaxKeys }),
    ...(opts.reservationTtlMs === undefined ? {} : { reservationTtlMs: opts.reservationTtlMs }),
    ...(opts.retryEveryMs === undefined ? {} : { retryEveryMs: opts.retryEveryMs }),
  });
  return { enforcer, clock, alerts, errors };
}

export function admitted(r: Reservation | Rejection): r is Reservation {
  return !r.rejected;
}

export function rejected(r: Reservation | Rejection): Rejection {
  if (!r.rejected) throw new Error('expected a rejection, got a reservation');
  return r;
}

export function reservation(r: Reservation | Rejection): Reservation {
  if (r.rejected) throw new Error(`expected a reservation, got a rejection: ${r.reason}`);
  return r;
}
