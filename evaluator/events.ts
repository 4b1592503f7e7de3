// The OpenTelemetry form of a result: a `gen_ai.evaluation.result` event (semconv v1.41.1)
// parented to the evaluated operation's span. The OTel JS tracing API has no stand-alone events,
// so the event rides on a zero-length INTERNAL span that is a child of the evaluated span (known
// from TraceId/SpanId): trace views show the score under the call it judged. The span carries no
// gen_ai.operation.name, so llm_calls' view never mistakes it for an LLM call.
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import * as A from '../shared/telemetry/semconv.ts';

export interface EvaluationEvent {
  traceId: string;
  spanId: string;
  evaluator: string;
  version: string;
  value: number | null;
  label: string;
  explanation: string;
  errorType: string;
  responseId?: string;
  timeMs: number;
}

export const ATTR_LLM_SIDECAR_EVALUATOR_VERSION = 'llm_sidecar.evaluator.version';

export function emitEvaluationEvent(tracer: Tracer, e: EvaluationEvent): void {
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: e.traceId, spanId: e.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const attrs: Attributes = { [A.ATTR_GEN_AI_EVALUATION_NAME]: e.evaluator };
  if (e.value !== null) attrs[A.ATTR_GEN_AI_EVALUATION_SCORE_VALUE] = e.value;
  if (e.label) attrs[A.ATTR_GEN_AI_EVALUATION_SCORE_LABEL] = e.label;
  if (e.explanation) attrs[A.ATTR_GEN_AI_EVALUATION_EXPLANATION] = e.explanation;
  if (e.responseId) attrs[A.ATTR_GEN_AI_RESPONSE_ID] = e.responseId;
  if (e.errorType) attrs[A.ATTR_ERROR_TYPE] = e.errorType;
  const span = tracer.startSpan(
    `evaluation ${e.evaluator}`,
    { kind: SpanKind.INTERNAL, startTime: e.timeMs, attributes: { [A.ATTR_GEN_AI_EVALUATION_NAME]: e.evaluator, [ATTR_LLM_SIDECAR_EVALUATOR_VERSION]: e.version } },
    parent,
  );
  span.addEvent(A.EVENT_GEN_AI_EVALUATION_RESULT, attrs, e.timeMs);
  span.end(e.timeMs);
}
