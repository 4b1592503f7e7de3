// The budget stage of the pipeline: per-request limits (reject, or trim to the newest turns that
// fit, keeping the system prompt; max tokens capped and set), then an atomic reservation of the
// estimate against every budget and rate limit, trued up to the actual usage when the call ends.
import { SidecarError, type ApiDialect } from '../shared/errors.ts';
import { ZERO_USAGE, type NormalizedUsage } from '../shared/usage.ts';
import type { BudgetEnforcer, BudgetsConfig, IdentityResolver, Rejection, Reservation } from './budget/index.ts';
import { applyRequestLimits, requestLimitsFor, requestShapeOf } from './budget/index.ts';
import type { CallRecord } from './call-record.ts';
import type { LlmEndpoint } from './endpoints.ts';
import type { JsonObject } from './request-body.ts';
import type { RoutePlan } from './routing.ts';
import { estimateTokens } from './token-estimate.ts';

export interface BudgetGate {
  config: BudgetsConfig;
  identity: IdentityResolver;
  enforcer: BudgetEnforcer;
}

export interface Admitted {
  body: JsonObject;
  changed: boolean;
  reservation: Reservation | undefined;
}

function rejectionError(r: Rejection): SidecarError {
  if (r.kind === 'unavailable') return new SidecarError('LLM_SIDECAR_BUDGET_UNAVAILABLE', r.reason);
  if (r.permanent) return new SidecarError('LLM_SIDECAR_INPUT_TOO_LARGE', r.reason);
  return new SidecarError(r.kind === 'rate-limit' ? 'LLM_SIDECAR_RATE_LIMITED' : 'LLM_SIDECAR_BUDGET_EXCEEDED', r.reason);
}

/** A refusal the client can act on: the error carries Retry-After until the window resets. */
export class BudgetRejection extends SidecarError {
  readonly retryAfterS: number;
  constructor(r: Rejection) {
    const e = rejectionError(r);
    super(e.code, e.message);
    this.retryAfterS = Math.max(1, Math.ceil(r.retryAfterS));
  }
}

export async function admit(
  gate: BudgetGate,
  req: {
    endpoint: LlmEndpoint;
    pathname: string;
    body: JsonObject;
    plan: RoutePlan;
    tenant: string;
    user: string;
    price(providerType: ApiDialect, model: string, usage: NormalizedUsage): string | undefined;
  },
): Promise<Admitted> {
  const shape = requestShapeOf(req.pathname);
  let body = req.body;
  let changed = false;
  let reserveTokens = 0;
  let inputTokens = 0;
  let maxOutput = 0;
  if (shape) {
    const limits = requestLimitsFor(gate.config.perRequest, req.plan.routeName);
    const outcome = applyRequestLimits(shape, body, limits, { estimate: (t) => estimateTokens(t, req.endpoint.dialect) });
    if (!outcome.ok) throw new SidecarError('LLM_SIDECAR_INPUT_TOO_LARGE', outcome.message);
    body = outcome.body;
    changed = outcome.changed;
    reserveTokens = outcome.reserveTokens;
    inputTokens = outcome.inputTokens;
    maxOutput = outcome.maxOutputTokens;
  }
  const first = req.plan.candidates[0];
  const usd = first ? req.price(first.target.provider.type, first.model, { ...ZERO_USAGE, inputTokens, outputTokens: maxOutput }) : undefined;
  const r = await gate.enforcer.reserve({ tenant: req.tenant, user: req.user, route: req.plan.routeName, tokens: reserveTokens, usd });
  if (r.rejected) throw new BudgetRejection(r);
  return { body, changed, reservation: r };
}

/** Wraps the call's finish hook: true up to what the call really used (a cut stream: what it produced). */
export function settleReservation(reservation: Reservation, finish: (record: CallRecord) => void): (record: CallRecord) => void {
  return (record) => {
    const u = record.usage;
    if (!u && record.attempts === 0) void reservation.release();
    else void reservation.commit({ tokens: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0), usd: record.costUsd ?? '0' });
    finish(record);
  };
}
