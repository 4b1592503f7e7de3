// llm_feedback: what end users said about a call (thumbs up/down, a score, a comment), from the
// app or a feedback API. One row per call × user × source; a later change of mind replaces the
// earlier row (ReplacingMergeTree versioned by Timestamp, the time the feedback was given).
import { LLM_FEEDBACK as C, TABLE_LLM_FEEDBACK, qualified } from '../schema.ts';
import type { Migration } from './migration.ts';

export const llmFeedback: Migration = {
  id: 6,
  name: 'llm-feedback',
  statements: ({ database }) => [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, TABLE_LLM_FEEDBACK)} (
    ${C.Timestamp} DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    ${C.TraceId} String CODEC(ZSTD(1)),
    ${C.SpanId} String CODEC(ZSTD(1)),
    ${C.ServiceName} LowCardinality(String),
    ${C.User} String CODEC(ZSTD(1)),
    ${C.Score} Int8,
    ${C.Comment} String CODEC(ZSTD(3)),
    ${C.Source} LowCardinality(String)
) ENGINE = ReplacingMergeTree(${C.Timestamp})
PARTITION BY toYYYYMM(${C.Timestamp})
ORDER BY (${C.ServiceName}, ${C.TraceId}, ${C.SpanId}, ${C.User}, ${C.Source})
SETTINGS index_granularity = 8192`,
  ],
};
