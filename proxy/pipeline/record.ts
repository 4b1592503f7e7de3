// Stage "record", always last and always run: the one place a CallRecord is built — for answers,
// cache hits, the stale fallback and refusals alike — from the request context and the outcome
// the answering stage left. It runs in the same turn as the answer's last write, so a crash right
// after an answer still finds its spans in the journal (shared/clickhouse/span-journal.ts). A
// budget reservation is trued up here to what the call really used.
import type { CallRecord } from '../call-record.ts';
import { epochNow } from '../llm-call.ts';
import { settleReservation } from './budget.ts';
import type { CallOutcome, LlmRequest, PipelineEnv } from './context.ts';

export function buildCallRecord(ctx: LlmRequest, o: CallOutcome): CallRecord {
  const plan = ctx.plan;
  const first = plan?.candidates[0];
  const endEpochMs = epochNow();
  const operationStartEpochMs = performance.timeOrigin + ctx.t0;
  const durationMs = endEpochMs - operationStartEpochMs;
  const attempts = o.attempts ?? [];
  const last = attempts[attempts.length - 1];
  const served = o.served ?? { providerName: first?.target.providerName ?? '', providerType: first?.target.provider.type ?? ctx.endpoint.dialect, model: first?.model ?? ctx.requestModel, index: 0 };
  const sampled = o.evalSampled ?? false;
  return {
    requestId: ctx.requestId,
    startEpochMs: ctx.startEpochMs,
    operationStartEpochMs,
    endEpochMs,
    traceparent: ctx.traceparent,
    tracestate: ctx.tracestate,
    traceId: ctx.traceId,
    evalSampled: sampled,
    content: o.content ?? (sampled && ctx.capture ? { system: ctx.capture.system, input: ctx.capture.input, output: o.output ?? [] } : undefined),
    semanticMatch: o.semanticMatch,
    method: 'POST',
    path: ctx.path,
    serverAddress: last?.serverAddress ?? '',
    serverPort: last?.serverPort ?? 0,
    requestParams: ctx.requestParams,
    attemptDetails: attempts,
    dialect: ctx.endpoint.dialect,
    operation: ctx.endpoint.operationName,
    route: plan?.routeName ?? '',
    strategy: plan?.strategy ?? '',
    decision: o.decision ?? plan?.decision ?? '',
    events: o.events ?? [],
    fallbackIndex: served.index,
    providerName: served.providerName,
    providerType: served.providerType,
    requestModel: ctx.requestModel,
    upstreamModel: served.model,
    responseModel: o.observed?.responseModel,
    responseId: o.observed?.responseId,
    finishReasons: o.observed?.finishReasons,
    stream: ctx.stream,
    tenant: ctx.tenant,
    user: ctx.user,
    feature: ctx.feature,
    httpStatus: o.httpStatus,
    upstreamStatus: last?.statusCode,
    errorCode: o.error?.code,
    errorType: o.errorType ?? o.error?.errorType,
    usage: o.observed?.usage,
    costUsd: o.costUsd,
    cacheStatus: o.cacheStatus,
    savedUsd: o.savedUsd,
    durationMs,
    timeToFirstChunkMs: o.timeToFirstChunkMs,
    overheadMs: o.overheadMs ?? durationMs,
    attempts: attempts.length,
    completed: o.observed?.completed ?? false,
    clientAborted: o.clientAborted ?? false,
  };
}

export function record(ctx: LlmRequest, env: PipelineEnv): void {
  if (ctx.recorded || !ctx.outcome) return;
  ctx.recorded = true;
  const rec = buildCallRecord(ctx, ctx.outcome);
  if (ctx.reservation) settleReservation(ctx.reservation, rec, ctx.outcome.escalatedTokens);
  env.emit(rec);
}
