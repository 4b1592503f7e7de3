// One llm_evaluations row per call × evaluator × version — the record of the semconv event
// gen_ai.evaluation.result: Evaluator = gen_ai.evaluation.name, ScoreValue = score.value (0..1,
// higher is better), ScoreLabel = score.label, Explanation = explanation, ErrorType = error.type.
// Timestamp is the CALL's (it is in the table's key: a re-run lands on the same key and replaces).
import { LLM_EVALUATIONS as E, SCORE_LABEL_NOT_APPLICABLE } from '../shared/clickhouse/schema.ts';
import { formatPicoUsd } from '../shared/pricing/cost.ts';
import type { NormalizedUsage } from '../shared/usage.ts';
import type { CallRow } from './calls.ts';
import { msToDateTime64, nsToDateTime64 } from './time.ts';

/** Label of a row whose evaluator does not apply to the call (no score, no error). */
export const NOT_APPLICABLE = SCORE_LABEL_NOT_APPLICABLE;

export interface EvaluationResult {
  value: number | null;
  label: string;
  explanation: string;
  errorType: string;
  judgeModel: string;
  usage?: NormalizedUsage;
  /** Pico-USD; undefined with a judge = unknown price (NULL, never $0). */
  costPico?: bigint;
  judged: boolean;
}

export type EvaluationRow = Record<(typeof E)[keyof typeof E], string | number | null>;

export function evaluationRow(call: CallRow, evaluator: { name: string; version: string }, r: EvaluationResult, evaluatedAtMs: number): EvaluationRow {
  return {
    [E.Timestamp]: nsToDateTime64(call.tsNs),
    [E.EvaluatedAt]: msToDateTime64(evaluatedAtMs),
    [E.TraceId]: call.traceId,
    [E.SpanId]: call.spanId,
    [E.ServiceName]: call.serviceName,
    [E.Route]: call.route,
    [E.RequestModel]: call.requestModel,
    [E.Feature]: call.feature,
    [E.Evaluator]: evaluator.name,
    [E.EvaluatorVersion]: evaluator.version,
    [E.ScoreValue]: r.value,
    [E.ScoreLabel]: r.label,
    [E.Explanation]: r.explanation,
    [E.ErrorType]: r.errorType,
    [E.JudgeModel]: r.judgeModel,
    [E.JudgeInputTokens]: r.usage?.inputTokens ?? 0,
    [E.JudgeOutputTokens]: r.usage?.outputTokens ?? 0,
    // No judge call: no cost (0, not unknown); a judge call with an unpriced model: NULL.
    [E.JudgeCostUsd]: r.judged ? (r.costPico !== undefined ? formatPicoUsd(r.costPico) : null) : '0',
  };
}
