// The evaluator's own tables, created by the evaluator at start (CREATE TABLE IF NOT EXISTS: safe
// from several replicas at once). They are evaluator state, not part of the shared telemetry
// schema, so they live here rather than in shared/clickhouse/migrations.
//
// llm_eval_checkpoints — per evaluator × version × replica partition, the watermark: every
//   eligible call with Timestamp < Watermark has its llm_evaluations row. ReplacingMergeTree with
//   the watermark itself as version: the watermark only moves forward, and FINAL / max() keeps the
//   furthest one even when two writes race.
// llm_eval_calibration — judge agreement with human labels per evaluator version and labelled set
//   (calibrate.ts); re-running the same set replaces its row (latest RunAt wins).
import { assertIdentifier, qualified } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';

export const TABLE_LLM_EVAL_CHECKPOINTS = 'llm_eval_checkpoints';
export const TABLE_LLM_EVAL_CALIBRATION = 'llm_eval_calibration';

/** Column names, typed literally (same convention as shared/clickhouse/schema.ts). */
export const CHECKPOINTS = { Evaluator: 'Evaluator', EvaluatorVersion: 'EvaluatorVersion', Partition: 'Partition', Watermark: 'Watermark', UpdatedAt: 'UpdatedAt' } as const;
export const CALIBRATION = {
  RunAt: 'RunAt',
  Evaluator: 'Evaluator',
  EvaluatorVersion: 'EvaluatorVersion',
  JudgeModel: 'JudgeModel',
  LabelsFile: 'LabelsFile',
  LabelsHash: 'LabelsHash',
  OutputType: 'OutputType',
  Examples: 'Examples',
  Judged: 'Judged',
  Errors: 'Errors',
  Accuracy: 'Accuracy',
  Kappa: 'Kappa',
  Spearman: 'Spearman',
  Mae: 'Mae',
  JudgeCostUsd: 'JudgeCostUsd',
  Details: 'Details',
} as const;

export function evaluatorTablesDdl(database: string): string[] {
  assertIdentifier(database, 'database');
  const K = CHECKPOINTS;
  const C = CALIBRATION;
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_EVAL_CHECKPOINTS)} (
    ${K.Evaluator} LowCardinality(String),
    ${K.EvaluatorVersion} LowCardinality(String),
    ${K.Partition} LowCardinality(String),
    ${K.Watermark} DateTime64(9),
    ${K.UpdatedAt} DateTime64(3)
) ENGINE = ReplacingMergeTree(${K.Watermark})
ORDER BY (${K.Evaluator}, ${K.EvaluatorVersion}, ${K.Partition})`,
    `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_EVAL_CALIBRATION)} (
    ${C.RunAt} DateTime64(3),
    ${C.Evaluator} LowCardinality(String),
    ${C.EvaluatorVersion} LowCardinality(String),
    ${C.JudgeModel} LowCardinality(String),
    ${C.LabelsFile} String,
    ${C.LabelsHash} String,
    ${C.OutputType} LowCardinality(String),
    ${C.Examples} UInt32,
    ${C.Judged} UInt32,
    ${C.Errors} UInt32,
    ${C.Accuracy} Nullable(Float64),
    ${C.Kappa} Nullable(Float64),
    ${C.Spearman} Nullable(Float64),
    ${C.Mae} Nullable(Float64),
    ${C.JudgeCostUsd} Nullable(Decimal(38, 12)),
    ${C.Details} String CODEC(ZSTD(3))
) ENGINE = ReplacingMergeTree(${C.RunAt})
ORDER BY (${C.Evaluator}, ${C.EvaluatorVersion}, ${C.LabelsHash})`,
  ];
}

export async function ensureEvaluatorTables(store: ClickHouseStore, database: string = store.database): Promise<void> {
  for (const ddl of evaluatorTablesDdl(database)) await store.command(ddl);
}
