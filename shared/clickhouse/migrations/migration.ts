// The shape of one numbered schema migration. Every statement must be idempotent on its own
// (CREATE … IF NOT EXISTS, ALTER … MODIFY SETTING): a migration interrupted half-way, or run by two
// processes at once, is simply run again.

export interface MigrationContext {
  database: string;
  /** Row TTL of spans and calls, in days; 0 keeps them forever. */
  ttlDays: number;
  /** TTL of the message-content columns of llm_calls, in days; 0 keeps them as long as the row. */
  contentTtlDays: number;
  /** Row TTL of the per-minute rollup, in days; 0 keeps it forever. */
  rollupTtlDays: number;
}

export interface Migration {
  /** Order of application; never reuse or renumber an id that has shipped. */
  id: number;
  name: string;
  statements(ctx: MigrationContext): string[];
}

/** `TTL <expr> + toIntervalDay(n)` (with a leading space), or '' when days is 0. */
export function ttl(expression: string, days: number): string {
  return days > 0 ? ` TTL ${expression} + toIntervalDay(${days})` : '';
}

/**
 * Blocks a table remembers for insert deduplication. Non-replicated MergeTree keeps none by
 * default; the span exporter's replay relies on it (same insert_deduplication_token → skipped),
 * and every table fed by a view from otel_traces needs it too, or a deduplicated source block is
 * still pushed into the views' targets and counted twice there.
 */
export const DEDUP_WINDOW_BLOCKS = 1000;
