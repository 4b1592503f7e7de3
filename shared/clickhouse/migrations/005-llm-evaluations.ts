// llm_evaluations: the evaluator's scores, one row per evaluated call × evaluator × evaluator
// version. ReplacingMergeTree on that key with EvaluatedAt as version makes writes idempotent: a
// re-run (crash, retry, backfill) replaces instead of double-counting. The call's Timestamp is in
// the key (and the partition), so it must be copied from llm_calls, never the evaluation time.
import { LLM_EVALUATIONS as C, TABLE_LLM_EVALUATIONS, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export const llmEvaluations: Migration = {
  id: 5,
  name: 'llm-evaluations',
  statements: ({ database }) => [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_EVALUATIONS)} (
    ${C.Timestamp} DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    ${C.EvaluatedAt} DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    ${C.TraceId} String CODEC(ZSTD(1)),
    ${C.SpanId} String CODEC(ZSTD(1)),
    ${C.ServiceName} LowCardinality(String),
    ${C.Route} LowCardinality(String),
    ${C.RequestModel} LowCardinality(String),
    ${C.Evaluator} LowCardinality(String),
    ${C.EvaluatorVersion} LowCardinality(String),
    ${C.ScoreValue} Nullable(Float64),
    ${C.ScoreLabel} LowCardinality(String),
    ${C.Explanation} String CODEC(ZSTD(3)),
    ${C.ErrorType} LowCardinality(String),
    ${C.JudgeModel} LowCardinality(String),
    ${C.JudgeInputTokens} UInt64,
    ${C.JudgeOutputTokens} UInt64,
    ${C.JudgeCostUsd} Nullable(Decimal(38, 12)),
    INDEX idx_trace_id ${C.TraceId} TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplacingMergeTree(${C.EvaluatedAt})
PARTITION BY toYYYYMM(${C.Timestamp})
ORDER BY (${C.ServiceName}, ${C.Evaluator}, toStartOfHour(${C.Timestamp}), ${C.TraceId}, ${C.SpanId}, ${C.EvaluatorVersion})
SETTINGS index_granularity = 8192`,
  ],
};
