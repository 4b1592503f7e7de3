// A minmax skip index on llm_evaluations.EvaluatedAt. The evaluator's daily spend-cap read sums an
// evaluator version's judge cost since midnight (WHERE EvaluatedAt >= today), and EvaluatedAt is in
// neither the partition nor the sort key: without the index that read scanned every row the
// version ever wrote, growing with history (test/evaluator/bench-evaluator.ts). Rows are written
// in evaluation order, so each granule's EvaluatedAt range is narrow and minmax prunes well.
// New parts get the index at once; parts that exist already get it when they are merged (no
// MATERIALIZE INDEX: a start-up migration must not launch a rewrite of a large table).
import { LLM_EVALUATIONS as C, TABLE_LLM_EVALUATIONS, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export const llmEvaluationsEvaluatedAtIndex: Migration = {
  id: 8,
  name: 'llm-evaluations-evaluated-at-index',
  statements: ({ database }) => [
    `ALTER TABLE ${qualified(database, TABLE_LLM_EVALUATIONS)} ADD INDEX IF NOT EXISTS idx_evaluated_at ${C.EvaluatedAt} TYPE minmax GRANULARITY 1`,
  ],
};
