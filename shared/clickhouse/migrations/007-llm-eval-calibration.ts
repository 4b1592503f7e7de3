// llm_eval_calibration: how well each evaluator version agrees with human labels, per labelled set
// (`llm-sidecar evaluator calibrate`); the Quality dashboard shows it beside the live scores. In the
// shared schema (not only created by the evaluator) so the dashboard's query works on any
// installation, calibrated or not. Re-running a set replaces its row (ReplacingMergeTree by RunAt).
import { LLM_EVAL_CALIBRATION as C, TABLE_LLM_EVAL_CALIBRATION, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export function llmEvalCalibrationDdl(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_EVAL_CALIBRATION)} (
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
ORDER BY (${C.Evaluator}, ${C.EvaluatorVersion}, ${C.LabelsHash})`;
}

export const llmEvalCalibration: Migration = {
  id: 7,
  name: 'llm-eval-calibration',
  statements: ({ database }) => [llmEvalCalibrationDdl(database)],
};
