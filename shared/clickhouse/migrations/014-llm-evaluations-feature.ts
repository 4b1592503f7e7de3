// llm_evaluations.Feature: the evaluated call's feature (llm_calls.Feature), copied by the evaluator
// when it writes a score. The quality-drop alert compares scores per evaluator × feature over 35
// days; it joined every score to llm_calls by span id to find the feature: 0.73 s at 10 M calls
// over 7 days (test/dashboards/bench-panels.ts), now a read of llm_evaluations alone.
// Backfill, once, for the rows stored before: a mutation sets Feature on the rows where it is still
// '' from a map of the sampled calls' ids to their feature (a scalar subquery on llm_calls, one hash
// table; `transform`), rewriting the Feature column of each part in place — no second row per
// score, so FINAL has no more work and readers without FINAL count nothing twice. Synchronous
// (mutations_sync = 2: the migration returns when every part, every replica, is done). Idempotent:
// a re-run only touches rows still without a feature. On a sharded cluster (cluster-ddl.ts) it runs
// on each shard's local tables, which hold the same traces (both sharded by TraceId); a replicated
// table needs allow_nondeterministic_mutations for a mutation with a subquery. The gap, documented
// in dashboards/README.md: scores of calls that llm_calls no longer holds (TTL) and scores written by
// an older evaluator still running during an upgrade keep Feature '' (the alert's "(none)"). The
// map holds one entry per sampled call with a score and no feature yet (at 30 M calls with 2 %
// sampled: 600 k ids, tens of MB).
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export const llmEvaluationsFeature: Migration = {
  id: 14,
  name: 'llm-evaluations-feature',
  statements: ({ database }) => {
    const evaluations = qualified(database, TABLE_LLM_EVALUATIONS);
    const id = (t: { TraceId: string; SpanId: string }) => `concat(${t.TraceId}, ' ', ${t.SpanId})`;
    // One scalar subquery, written twice (ClickHouse computes an identical scalar subquery once).
    const features = `(
        SELECT (groupArray(${id(C)}), groupArray(toString(${C.Feature})))
        FROM ${qualified(database, TABLE_LLM_CALLS)}
        WHERE ${C.EvalSampled} = 1 AND ${C.Feature} != ''
          AND (${C.TraceId}, ${C.SpanId}) IN (SELECT ${E.TraceId}, ${E.SpanId} FROM ${evaluations} WHERE ${E.Feature} = '')
    )`;
    return [
      `ALTER TABLE ${evaluations} ADD COLUMN IF NOT EXISTS ${E.Feature} LowCardinality(String)`,
      `ALTER TABLE ${evaluations} UPDATE ${E.Feature} = transform(${id(E)}, tupleElement(${features}, 1), tupleElement(${features}, 2), '')
WHERE ${E.Feature} = ''
SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1`,
    ];
  },
};
