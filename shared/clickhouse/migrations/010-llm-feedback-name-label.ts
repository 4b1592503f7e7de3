// llm_feedback.Name and .Label, for feedback over HTTP (`POST /llm-sidecar/v1/feedback`): the kind
// of feedback (`thumbs`, `stars`, `correct`…) and a label value ("wrong-order", "hallucination")
// beside the integer Score. Name joins the sorting key so a ReplacingMergeTree row is one per
// call × user × source × name: a user's thumbs and stars on the same call are two rows, and a
// repeated or changed thumbs replaces the earlier one (idempotent per call, name and user).
// ClickHouse lets a sorting key grow only by columns added in the same ALTER, without a default
// expression (hence no DEFAULT on Name: '' is the type's default anyway). Re-running the statement
// is a no-op (checked on chdb 26.x).
import { LLM_FEEDBACK as C, TABLE_LLM_FEEDBACK, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export const llmFeedbackNameLabel: Migration = {
  id: 10,
  name: 'llm-feedback-name-label',
  statements: ({ database }) => [
    `ALTER TABLE ${qualified(database, TABLE_LLM_FEEDBACK)}
    ADD COLUMN IF NOT EXISTS ${C.Name} LowCardinality(String),
    ADD COLUMN IF NOT EXISTS ${C.Label} String CODEC(ZSTD(1)),
    MODIFY ORDER BY (${C.ServiceName}, ${C.TraceId}, ${C.SpanId}, ${C.User}, ${C.Source}, ${C.Name})`,
  ],
};
