// llm_evaluations.Feature: the evaluated call's feature (llm_calls.Feature), copied by the evaluator
// when it writes a score. The quality-drop alert compares scores per evaluator × feature over 35
// days; it joined every score to llm_calls by span id to find the feature: 0.73 s at 10 M calls
// over 7 days (test/dashboards/bench-panels.ts), now a read of llm_evaluations alone.
// Backfill, once, for the rows written before: each scored row (FINAL: the latest version) whose
// Feature is still '' and whose call is in llm_calls with a feature is written again with it, same
// key and same EvaluatedAt, so the new row replaces the old one (ReplacingMergeTree keeps the last
// inserted of equal versions; FINAL reads it at once, merges drop the old one later). Idempotent: a
// re-run finds no such row any more. Two processes running it at once both insert the same rows,
// which FINAL collapses the same way (readers without FINAL, e.g. the evaluator-stalled rule, only
// test presence; a replicated table drops the second insert by its token). The gap, documented in dashboards/README.md: scores of calls that llm_calls no
// longer holds (TTL) and scores written by an older evaluator still running during an upgrade
// keep Feature '' (the "(none)" feature of the alert).
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

/** The columns of migration 005, listed (not derived from the schema: a later column must not change this migration). */
const KEPT = [
  E.Timestamp, E.EvaluatedAt, E.TraceId, E.SpanId, E.ServiceName, E.Route, E.RequestModel, E.Evaluator, E.EvaluatorVersion,
  E.ScoreValue, E.ScoreLabel, E.Explanation, E.ErrorType, E.JudgeModel, E.JudgeInputTokens, E.JudgeOutputTokens, E.JudgeCostUsd,
];

export const llmEvaluationsFeature: Migration = {
  id: 14,
  name: 'llm-evaluations-feature',
  statements: ({ database }) => {
    const evaluations = qualified(database, TABLE_LLM_EVALUATIONS);
    return [
      `ALTER TABLE ${evaluations} ADD COLUMN IF NOT EXISTS ${E.Feature} LowCardinality(String)`,
      // On a sharded cluster (cluster-ddl.ts) both reads go through the Distributed tables and the
      // insert is routed by TraceId, the shard of the rows it replaces. The token lets a replicated
      // table drop the second of two identical runs (a plain MergeTree keeps no insert tokens).
      `INSERT INTO ${evaluations}
(${KEPT.join(', ')}, ${E.Feature})
SETTINGS insert_deduplication_token = '${database}.${TABLE_LLM_EVALUATIONS}.backfill', distributed_foreground_insert = 1
SELECT ${KEPT.map((c) => `e.${c}`).join(', ')}, c.${C.Feature}
FROM (
    SELECT * FROM ${evaluations} FINAL
    WHERE ${E.Feature} = ''
) AS e
INNER JOIN (
    SELECT ${C.TraceId}, ${C.SpanId}, ${C.Feature}
    FROM ${qualified(database, TABLE_LLM_CALLS)}
    WHERE ${C.EvalSampled} = 1 AND ${C.Feature} != ''
) AS c ON e.${E.TraceId} = c.${C.TraceId} AND e.${E.SpanId} = c.${C.SpanId}`,
    ];
  },
};
