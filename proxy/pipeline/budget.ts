// Stage "budget" (only with a `budgets` section): per-request limits (reject, or trim to the newest
// turns that fit, keeping the system prompt; max tokens capped and set), then an atomic reservation
// of the estimate against every budget and rate limit, trued up to the actual usage by the record
// stage when the call ends (settleReservation).
import { SidecarError, type ApiDialect } from '../../shared/errors.ts';
import { ZERO_USAGE, type NormalizedUsage } from '../../shared/usage.ts';
import type { BudgetsConfig } from '../../shared/config/budgets.ts';
import type { BudgetEnforcer, IdentityResolver, Rejection, Reservation } from '../budget/index.ts';
import { applyRequestLimits, requestLimitsFor, requestShapeOf } from '../budget/index.ts';
import type { CallRecord } from '../call-record.ts';
import type { LlmEndpoint } from '../endpoints.ts';
import type { JsonObject } from '../request-body.ts';
import type { RoutePlan } from '../routing.ts';
import { estimateTokens } from '../token-estimate.ts';
import { planOf, type LlmRequest, type PipelineEnv } from './context.ts';

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

/**
 * A refusal the client can act on: a 429 or 503 carries Retry-After until the window resets; a
 * 400 (input too large) none, since it stays a 400 however long one waits.
 */
function rejection(r: Rejection): SidecarError {
  const e = rejectionError(r);
  const retryAfter = e.status === 429 || e.status === 503 ? { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterS))) } : undefined;
  return new SidecarError(e.code, e.message, { headers: retryAfter });
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
  if (r.rejected) throw rejection(r);
  return { body, changed, reservation: r };
}

/**
 * True the reservation up to what the call really used (a cut stream: what it produced; a cascade:
 * the answers it rejected too, `extraTokens`, whose cost is in the record's); nothing when no
 * provider was called.
 */
export function settleReservation(reservation: Reservation, record: CallRecord, extraTokens = 0): void {
  const u = record.usage;
  if (!u && record.attempts === 0) void reservation.release();
  else void reservation.commit({ tokens: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0) + extraTokens, usd: record.costUsd ?? '0' });
}

/** The stage: admit the request (its body possibly trimmed) and hold its reservation. */
export async function budget(ctx: LlmRequest, env: PipelineEnv): Promise<void> {
  if (!env.budgets) return;
  const admitted = await admit(env.budgets, { endpoint: ctx.endpoint, pathname: ctx.path, body: ctx.body, plan: planOf(ctx), tenant: ctx.tenant, user: ctx.user, price: env.price });
  ctx.reservation = admitted.reservation;
  if (admitted.changed) {
    ctx.body = admitted.body;
    ctx.raw = Buffer.from(JSON.stringify(admitted.body));
  }
}
