// Insert deduplication on otel_traces, as a setting change rather than in 001's CREATE: the table
// keeps the collector's exact DDL, and a table the collector created first gets the setting too.
// Why: the span exporter replays spooled batches with the batch's insert_deduplication_token; a
// batch whose first insert did reach ClickHouse (the answer was lost) is then skipped, not doubled.
import { TABLE_OTEL_TRACES, qualified } from '../schema.ts';
import { DEDUP_WINDOW_BLOCKS, type Migration } from './migration.ts';

export const otelTracesDedup: Migration = {
  id: 2,
  name: 'otel-traces-dedup',
  statements: ({ database }) => [
    `ALTER TABLE ${qualified(database, TABLE_OTEL_TRACES)} MODIFY SETTING non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`,
  ],
};
