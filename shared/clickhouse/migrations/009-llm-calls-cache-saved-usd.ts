// llm_calls.CacheSavedUsd: what a cache hit saved (llm_sidecar.cache.saved_usd, the cost of the call
// whose answer it served) as a typed column. Read from the span attributes, the Cost dashboard's
// "recorded" saving scanned every gen_ai span's attribute map: 4.8 s over 7 days of 10 M calls
// (test/dashboards/bench-panels.ts). The view is re-stated in place (MODIFY QUERY: no window in
// which inserts would miss it; a plain statement since ClickHouse 24.1, before that behind
// allow_experimental_alter_materialized_view_structure — we require 26.x); rows written before keep NULL.
import { LLM_CALLS as C, TABLE_LLM_CALLS, VIEW_LLM_CALLS_MV, qualified } from '../schema.ts';
import { llmCallsSelectSql } from './003-llm-calls.ts';
import type { Migration } from './migration.ts';

export const llmCallsCacheSavedUsd: Migration = {
  id: 9,
  name: 'llm-calls-cache-saved-usd',
  statements: ({ database }) => [
    `ALTER TABLE ${qualified(database, TABLE_LLM_CALLS)} ADD COLUMN IF NOT EXISTS ${C.CacheSavedUsd} Nullable(Decimal(38, 12)) CODEC(ZSTD(1))`,
    `ALTER TABLE ${qualified(database, VIEW_LLM_CALLS_MV)} MODIFY QUERY ${llmCallsSelectSql(database, 9)}`,
  ],
};
