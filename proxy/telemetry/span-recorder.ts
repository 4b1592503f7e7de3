// Turns finished calls into OpenTelemetry spans, after the answer went out (off the request path):
//   SERVER  "POST /v1/chat/completions"       the inbound request, child of the app's traceparent
//   └ CLIENT "chat gpt-4o"                     the logical LLM operation (gen_ai.*, llm_sidecar.*)
//     └ CLIENT "POST"                          one per physical attempt (http.request.resend_count on retries)
// Spans are created with their real start and end times, so building them late changes nothing
// in the trace but keeps span bookkeeping out of the latency the app sees.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import * as A from '../../shared/telemetry/semconv.ts';
import type { Redactor } from '../../shared/telemetry/redact.ts';
import type { CallRecord, CallRecorder, PassthroughRecord } from '../call-record.ts';
import type { PresetTraceIdGenerator } from './tracing.ts';

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
};

/** The app's trace context when it sent one; otherwise a new trace. */
function parentContext(traceparent: string | undefined, tracestate: string | undefined): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, getter);
}

function setIfDefined(attrs: Attributes, key: string, value: string | number | boolean | string[] | undefined): void {
  if (value !== undefined) attrs[key] = value;
}

export interface SpanRecorderOptions {
  tracer: Tracer;
  /** Gives root spans the trace id chosen during the request. */
  ids?: PresetTraceIdGenerator;
  /** Applied to captured content before it is put on a span. */
  redactor: Redactor;
}

export class SpanRecorder implements CallRecorder {
  private readonly tracer: Tracer;
  private readonly ids: PresetTraceIdGenerator | undefined;
  private readonly redactor: Redactor;

  constructor(options: SpanRecorderOptions) {
    this.tracer = options.tracer;
    this.ids = options.ids;
    this.redactor = options.redactor;
  }

  record(call: CallRecord): void {
    const parent = parentContext(call.traceparent, call.tracestate);
    if (this.ids && trace.getSpanContext(parent) === undefined) this.ids.next = call.traceId;
    const server = this.tracer.startSpan(
      `${call.method} ${call.path}`,
      {
        kind: SpanKind.SERVER,
        startTime: call.startEpochMs,
        attributes: {
          [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
          [A.ATTR_HTTP_ROUTE]: call.path,
          [A.ATTR_URL_PATH]: call.path,
          [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus,
          [A.ATTR_LLM_SIDECAR_REQUEST_ID]: call.requestId,
        },
      },
      parent,
    );
    if (call.httpStatus >= 500) {
      server.setAttribute(A.ATTR_ERROR_TYPE, call.errorType ?? String(call.httpStatus));
      server.setStatus({ code: SpanStatusCode.ERROR });
    }

    const attributes = operationAttributes(call);
    if (call.content) {
      const c = call.content;
      attributes[A.ATTR_GEN_AI_INPUT_MESSAGES] = this.redactor.redact(JSON.stringify(c.input));
      attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES] = this.redactor.redact(JSON.stringify(c.output));
      if (c.system) attributes[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = this.redactor.redact(JSON.stringify(c.system));
    }
    const op = this.tracer.startSpan(
      `${call.operation} ${call.requestModel}`,
      { kind: SpanKind.CLIENT, startTime: call.operationStartEpochMs, attributes },
      trace.setSpan(parent, server),
    );
    if (call.errorType !== undefined) op.setStatus({ code: SpanStatusCode.ERROR, message: call.errorCode ?? call.errorType });
    for (const ev of call.events) op.addEvent(ev.name, ev.attributes, ev.epochMs);

    const opContext = trace.setSpan(parent, op);
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
      const span = this.tracer.startSpan(call.method, { kind: SpanKind.CLIENT, startTime: attempt.startEpochMs, attributes: attrs }, opContext);
      if (attempt.errorType !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(attempt.endEpochMs);
    });
    op.end(call.endEpochMs);
    server.end(call.endEpochMs);
  }

  recordPassthrough(call: PassthroughRecord): void {
    const parent = parentContext(call.traceparent, call.tracestate);
    const server = this.tracer.startSpan(
      call.method,
      {
        kind: SpanKind.SERVER,
        startTime: call.startEpochMs,
        attributes: {
          [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
          [A.ATTR_URL_PATH]: call.path,
          [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus,
          [A.ATTR_LLM_SIDECAR_REQUEST_ID]: call.requestId,
          [A.ATTR_LLM_SIDECAR_ROUTE]: call.route,
        },
      },
      parent,
    );
    const attrs: Attributes = {
      [A.ATTR_HTTP_REQUEST_METHOD]: call.method,
      [A.ATTR_SERVER_ADDRESS]: call.serverAddress,
      [A.ATTR_SERVER_PORT]: call.serverPort,
      [A.ATTR_LLM_SIDECAR_PROVIDER]: call.providerName,
    };
    setIfDefined(attrs, A.ATTR_HTTP_RESPONSE_STATUS_CODE, call.upstreamStatus);
    setIfDefined(attrs, A.ATTR_ERROR_TYPE, call.errorType);
    const client = this.tracer.startSpan(call.method, { kind: SpanKind.CLIENT, startTime: call.startEpochMs, attributes: attrs }, trace.setSpan(parent, server));
    if (call.errorType !== undefined) {
      client.setStatus({ code: SpanStatusCode.ERROR });
      if (call.httpStatus >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
    }
    client.end(call.endEpochMs);
    server.end(call.endEpochMs);
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
  setIfDefined(attrs, A.ATTR_HTTP_RESPONSE_STATUS_CODE, call.upstreamStatus);
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
