// Turns finished calls into OpenTelemetry spans, after the answer went out (off the request path):
//   SERVER  "POST /v1/chat/completions"       the inbound request, child of the app's traceparent
//   └ CLIENT "chat gpt-4o"                     the logical LLM operation (gen_ai.*, llm_sidecar.*)
//     └ CLIENT "POST"                          one per physical attempt (http.request.resend_count on retries)
// The spans are built finished, with their real start and end times, as the SDK's ReadableSpan, and
// handed to the tracer's processors (SpanSink). Everything about them is known when the call ends, so
// the SDK's live-span bookkeeping (context, sampler, per-attribute checks, three objects per call)
// would only cost CPU on the proxy's thread: about 60 µs per call, a fifth of a saturated proxy's
// budget. Spans of other events (budget alerts) still come from the tracer.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator, hrTimeDuration, millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import * as A from '../../shared/telemetry/semconv.ts';
import type { Redactor } from '../../shared/telemetry/redact.ts';
import type { CallRecord, CallRecorder, PassthroughRecord } from '../call-record.ts';
import type { SemanticMatch } from '../call-record.ts';
import { randomHex } from '../../shared/telemetry/ids.ts';
import type { SpanSink } from '../../shared/telemetry/tracing.ts';

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
};

/** The app's span context when it sent a valid traceparent. */
function remoteParent(traceparent: string | undefined, tracestate: string | undefined): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const sc = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, getter));
  return sc !== undefined && trace.isSpanContextValid(sc) ? sc : undefined;
}

function setIfDefined(attrs: Attributes, key: string, value: string | number | boolean | string[] | undefined): void {
  if (value !== undefined) attrs[key] = value;
}

const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const ERROR: SpanStatus = { code: SpanStatusCode.ERROR };
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const ZERO: HrTime = [0, 0];

/** A finished span, as the SDK's processors and exporters read it. */
class FinishedSpan implements ReadableSpan {
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly ended = true;
  readonly links = NO_LINKS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    endTime: HrTime,
    readonly attributes: Attributes,
    readonly status: SpanStatus,
    readonly events: TimedEvent[],
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
  ) {
    // As the SDK does: an end before the start gives a zero duration, not a negative one.
    const d = hrTimeDuration(startTime, endTime);
    this.endTime = d[0] < 0 ? startTime : endTime;
    this.duration = d[0] < 0 ? ZERO : d;
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

export interface SpanRecorderOptions {
  sink: SpanSink;
  /** Applied to captured content before it is put on a span. */
  redactor: Redactor;
}

export class SpanRecorder implements CallRecorder {
  private readonly sink: SpanSink;
  private readonly redactor: Redactor;

  constructor(options: SpanRecorderOptions) {
    this.sink = options.sink;
    this.redactor = options.redactor;
  }

  private span(name: string, kind: SpanKind, context: SpanContext, parent: SpanContext | undefined, startMs: number, endMs: number, attributes: Attributes, status: SpanStatus, events = NO_EVENTS): SpanContext {
    this.sink.emit(new FinishedSpan(name, kind, context, parent, millisToHrTime(startMs), millisToHrTime(endMs), attributes, status, events, this.sink.resource, this.sink.scope));
    return context;
  }

  /** A new span's context in the trace of `parent` (or in `traceId` for a root), keeping the app's tracestate. */
  private static child(parent: SpanContext | undefined, traceId: string): SpanContext {
    return { traceId: parent?.traceId ?? traceId, spanId: randomHex(8), traceFlags: TraceFlags.SAMPLED, traceState: parent?.traceState };
  }

  record(call: CallRecord): void {
    const remote = remoteParent(call.traceparent, call.tracestate);
    const serverCtx = SpanRecorder.child(remote, call.traceId);
    const serverAttrs: Attributes = {
      [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
      [A.ATTR_HTTP_ROUTE]: call.path,
      [A.ATTR_URL_PATH]: call.path,
      [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus,
      [A.ATTR_LLM_SIDECAR_REQUEST_ID]: call.requestId,
    };
    let serverStatus = UNSET;
    if (call.httpStatus >= 500) {
      serverAttrs[A.ATTR_ERROR_TYPE] = call.errorType ?? String(call.httpStatus);
      serverStatus = ERROR;
    }

    const attributes = operationAttributes(call);
    if (call.content) {
      const c = call.content;
      attributes[A.ATTR_GEN_AI_INPUT_MESSAGES] = this.redactor.redact(JSON.stringify(c.input));
      attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES] = this.redactor.redact(JSON.stringify(c.output));
      if (c.system) attributes[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = this.redactor.redact(JSON.stringify(c.system));
    }
    // A semantic hit is where a wrong answer can hide: what it matched, and how closely (the matched
    // question only where content is captured for this call).
    if (call.semanticMatch) Object.assign(attributes, semanticHitAttributes(call.semanticMatch, call.content !== undefined, this.redactor));
    const opCtx = SpanRecorder.child(serverCtx, call.traceId);
    const events: TimedEvent[] = call.events.map((ev) => ({ name: ev.name, attributes: ev.attributes, time: millisToHrTime(ev.epochMs), droppedAttributesCount: 0 }));
    const opStatus: SpanStatus = call.errorType !== undefined ? { code: SpanStatusCode.ERROR, message: call.errorCode ?? call.errorType } : UNSET;

    // Children end first, as live spans would.
    call.attemptDetails.forEach((attempt, i) => {
      const attrs: Attributes = {
        [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
        [A.ATTR_SERVER_ADDRESS]: attempt.serverAddress,
        [A.ATTR_SERVER_PORT]: attempt.serverPort,
        [A.ATTR_LLM_SIDECAR_PROVIDER]: attempt.providerName,
        [A.ATTR_GEN_AI_REQUEST_MODEL]: attempt.model,
      };
      if (i > 0) attrs[A.ATTR_HTTP_REQUEST_RESEND_COUNT] = i;
      setIfDefined(attrs, A.ATTR_HTTP_RESPONSE_STATUS_CODE, attempt.statusCode);
      setIfDefined(attrs, A.ATTR_ERROR_TYPE, attempt.errorType);
      this.span(call.method, SpanKind.CLIENT, SpanRecorder.child(opCtx, call.traceId), opCtx, attempt.startEpochMs, attempt.endEpochMs, attrs, attempt.errorType !== undefined ? ERROR : UNSET);
    });
    this.span(`${call.operation} ${call.requestModel}`, SpanKind.CLIENT, opCtx, serverCtx, call.operationStartEpochMs, call.endEpochMs, attributes, opStatus, events);
    this.span(`${call.method} ${call.path}`, SpanKind.SERVER, serverCtx, remote, call.startEpochMs, call.endEpochMs, serverAttrs, serverStatus);
  }

  recordPassthrough(call: PassthroughRecord): void {
    const remote = remoteParent(call.traceparent, call.tracestate);
    const traceId = remote?.traceId ?? randomHex(16);
    const serverCtx = SpanRecorder.child(remote, traceId);
    const attrs: Attributes = {
      [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
      [A.ATTR_SERVER_ADDRESS]: call.serverAddress,
      [A.ATTR_SERVER_PORT]: call.serverPort,
      [A.ATTR_LLM_SIDECAR_PROVIDER]: call.providerName,
    };
    setIfDefined(attrs, A.ATTR_HTTP_RESPONSE_STATUS_CODE, call.upstreamStatus);
    setIfDefined(attrs, A.ATTR_ERROR_TYPE, call.errorType);
    const failed = call.errorType !== undefined;
    this.span(call.method, SpanKind.CLIENT, SpanRecorder.child(serverCtx, traceId), serverCtx, call.startEpochMs, call.endEpochMs, attrs, failed ? ERROR : UNSET);
    this.span(
      call.method,
      SpanKind.SERVER,
      serverCtx,
      remote,
      call.startEpochMs,
      call.endEpochMs,
      {
        [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
        [A.ATTR_URL_PATH]: call.path,
        [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus,
        [A.ATTR_LLM_SIDECAR_REQUEST_ID]: call.requestId,
        [A.ATTR_LLM_SIDECAR_ROUTE]: call.route,
      },
      failed && call.httpStatus >= 500 ? ERROR : UNSET,
    );
  }
}

/** Attributes of the gen_ai CLIENT span (semconv v1.41.1 + llm_sidecar.*). */
export function operationAttributes(call: CallRecord): Attributes {
  const attrs: Attributes = {
    [A.ATTR_GEN_AI_OPERATION_NAME]: call.operation,
    [A.ATTR_GEN_AI_PROVIDER_NAME]: call.providerType,
    [A.ATTR_GEN_AI_REQUEST_MODEL]: call.requestModel,
    [A.ATTR_GEN_AI_REQUEST_STREAM]: call.stream,
    [A.ATTR_SERVER_ADDRESS]: call.serverAddress,
    [A.ATTR_SERVER_PORT]: call.serverPort,
    [A.ATTR_LLM_SIDECAR_PROVIDER]: call.providerName,
    [A.ATTR_LLM_SIDECAR_ROUTE]: call.route,
    [A.ATTR_LLM_SIDECAR_ATTEMPTS]: call.attempts,
    [A.ATTR_LLM_SIDECAR_FALLBACK_INDEX]: call.fallbackIndex,
    [A.ATTR_LLM_SIDECAR_ROUTING_STRATEGY]: call.strategy,
    [A.ATTR_LLM_SIDECAR_ROUTING_DECISION]: call.decision,
    [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: call.cacheStatus,
    [A.ATTR_LLM_SIDECAR_OVERHEAD_MS]: Math.round(call.overheadMs * 1000) / 1000,
    [A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]: call.evalSampled,
    [A.ATTR_LLM_SIDECAR_REQUEST_ID]: call.requestId,
  };
  const p = call.requestParams;
  setIfDefined(attrs, A.ATTR_GEN_AI_REQUEST_MAX_TOKENS, p.maxTokens);
  setIfDefined(attrs, A.ATTR_GEN_AI_REQUEST_TEMPERATURE, p.temperature);
  setIfDefined(attrs, A.ATTR_GEN_AI_REQUEST_TOP_P, p.topP);
  setIfDefined(attrs, A.ATTR_GEN_AI_REQUEST_SEED, p.seed);
  setIfDefined(attrs, A.ATTR_GEN_AI_RESPONSE_MODEL, call.responseModel);
  setIfDefined(attrs, A.ATTR_GEN_AI_RESPONSE_ID, call.responseId);
  setIfDefined(attrs, A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, call.finishReasons);
  if (call.timeToFirstChunkMs !== undefined) attrs[A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.timeToFirstChunkMs / 1000;
  // A call answered without a provider (a refusal, a cache hit) carries the status the app got, never 0 in llm_calls.
  setIfDefined(attrs, A.ATTR_HTTP_RESPONSE_STATUS_CODE, call.upstreamStatus ?? (call.attempts === 0 ? call.httpStatus : undefined));
  setIfDefined(attrs, A.ATTR_ERROR_TYPE, call.errorType);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_ERROR_CODE, call.errorCode);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_TENANT, call.tenant);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_USER, call.user);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_FEATURE, call.feature);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_COST_USD, call.costUsd);
  setIfDefined(attrs, A.ATTR_LLM_SIDECAR_CACHE_SAVED_USD, call.savedUsd);
  if (call.stream) attrs[A.ATTR_LLM_SIDECAR_STREAM_COMPLETED] = call.completed;
  if (call.clientAborted) attrs[A.ATTR_LLM_SIDECAR_CLIENT_ABORTED] = true;
  const u = call.usage;
  if (u) {
    attrs[A.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = u.inputTokens;
    attrs[A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = u.outputTokens;
    attrs[A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = u.cacheReadTokens;
    attrs[A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWrite5mTokens + u.cacheWrite1hTokens;
    attrs[A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = u.reasoningTokens;
    if (u.cacheWrite1hTokens > 0) attrs[A.ATTR_LLM_SIDECAR_CACHE_WRITE_1H_TOKENS] = u.cacheWrite1hTokens;
  }
  return attrs;
}

/**
 * The audit trail of a semantic hit: its similarity and kind always; the cached question it matched
 * only when content capture is on, redacted like captured messages (it is another user's text).
 */
export function semanticHitAttributes(m: SemanticMatch, captureContent: boolean, redactor: Redactor): Attributes {
  const attrs: Attributes = { [A.ATTR_LLM_SIDECAR_CACHE_SEMANTIC_SIMILARITY]: Math.round(m.similarity * 10_000) / 10_000, [A.ATTR_LLM_SIDECAR_CACHE_SEMANTIC_KIND]: m.kind };
  if (captureContent) attrs[A.ATTR_LLM_SIDECAR_CACHE_SEMANTIC_MATCHED_QUESTION] = redactor.redact(m.question);
  return attrs;
}

/**
 * A budget crossing its alert threshold: an INTERNAL span carrying a `llm_sidecar.budget.alert`
 * event, so the alert is a row in otel_traces the dashboards can show (once per window and key).
 */
export function recordBudgetAlert(tracer: Tracer, a: { scope: string; key: string; tenant: string; user?: string; used: number; limit: number; ratio: number; unit: string; windowEnd: number }): void {
  const attrs: Attributes = {
    [A.ATTR_LLM_SIDECAR_BUDGET_SCOPE]: a.scope,
    [A.ATTR_LLM_SIDECAR_BUDGET_KEY]: a.key,
    [A.ATTR_LLM_SIDECAR_TENANT]: a.tenant,
    [A.ATTR_LLM_SIDECAR_BUDGET_USED]: a.used,
    [A.ATTR_LLM_SIDECAR_BUDGET_LIMIT]: a.limit,
    [A.ATTR_LLM_SIDECAR_BUDGET_RATIO]: a.ratio,
    [A.ATTR_LLM_SIDECAR_BUDGET_UNIT]: a.unit,
  };
  if (a.user !== undefined) attrs[A.ATTR_LLM_SIDECAR_USER] = a.user;
  const span = tracer.startSpan(A.EVENT_LLM_SIDECAR_BUDGET_ALERT, { kind: SpanKind.INTERNAL, attributes: attrs });
  span.addEvent(A.EVENT_LLM_SIDECAR_BUDGET_ALERT, attrs);
  span.end();
}
