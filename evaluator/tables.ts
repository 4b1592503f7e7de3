// The evaluator's tables, created by the evaluator at start (CREATE TABLE IF NOT EXISTS: safe
// from several replicas at once). The checkpoints are evaluator state, not part of the shared
// telemetry schema, so they live here; the calibration table is read by the Quality dashboard, so
// it is also a shared migration (007) and its DDL and columns come from there.
//
// llm_eval_checkpoints — per evaluator × version × replica partition, the watermark: every
//   eligible call with Timestamp < Watermark has its llm_evaluations row. ReplacingMergeTree with
//   the watermark itself as version: the watermark only moves forward, and FINAL / max() keeps the
//   furthest one even when two writes race.
// llm_eval_calibration — judge agreement with human labels per evaluator version and labelled set
//   (calibrate.ts); re-running the same set replaces its row (latest RunAt wins).
import { LLM_EVAL_CALIBRATION, TABLE_LLM_EVAL_CALIBRATION, assertIdentifier, qualified } from '../shared/clickhouse/schema.ts';
import { llmEvalCalibrationDdl } from '../shared/clickhouse/migrations/007-llm-eval-calibration.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';

export const TABLE_LLM_EVAL_CHECKPOINTS = 'llm_eval_checkpoints';
export { TABLE_LLM_EVAL_CALIBRATION };

/** Column names, typed literally (same convention as shared/clickhouse/schema.ts). */
export const CHECKPOINTS = { Evaluator: 'Evaluator', EvaluatorVersion: 'EvaluatorVersion', Partition: 'Partition', Watermark: 'Watermark', UpdatedAt: 'UpdatedAt' } as const;
/** llm_eval_calibration's columns (the table is in the shared schema: migrations/007). */
export const CALIBRATION = LLM_EVAL_CALIBRATION;

export function evaluatorTablesDdl(database: string): string[] {
  assertIdentifier(database, 'database');
  const K = CHECKPOINTS;
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_EVAL_CHECKPOINTS)} (
    ${K.Evaluator} LowCardinality(String),
    ${K.EvaluatorVersion} LowCardinality(String),
    ${K.Partition} LowCardinality(String),
    ${K.Watermark} DateTime64(9),
    ${K.UpdatedAt} DateTime64(3)
) ENGINE = ReplacingMergeTree(${K.Watermark})
ORDER BY (${K.Evaluator}, ${K.EvaluatorVersion}, ${K.Partition})`,
    // Also a shared migration; created here too, so an evaluator on a store nobody migrated still works.
    llmEvalCalibrationDdl(database),
  ];
}

export async function ensureEvaluatorTables(store: ClickHouseStore, database: string = store.database): Promise<void> {
  for (const ddl of evaluatorTablesDdl(database)) await store.command(ddl);
}
