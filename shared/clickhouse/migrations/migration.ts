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
  /**
   * The type of a skip index as it exists right before this migration runs (system.data_skipping_indices
   * `type_full`, e.g. `bloom_filter(0.001)`), or undefined when it does not exist or is not known
   * (plannedStatements has no server). Lets a migration leave alone what is already in its target state.
   */
  skipIndexType(table: string, index: string): string | undefined;
}

export interface Migration {
  /** Order of application; never reuse or renumber an id that has shipped. */
  id: number;
  name: string;
  /**
   * Lowest ClickHouse server version (`major.minor`) the migration is for. On an older server it is
   * deferred: not run and not recorded, so it applies at the first start after the server is upgraded.
   */
  minServerVersion?: string;
  statements(ctx: MigrationContext): string[];
}

/** Whether `version` (e.g. '26.7.2.1', as `SELECT version()` answers) is at least `min` ('26.2'). An unreadable version is not. */
export function versionAtLeast(version: string, min: string): boolean {
  const parse = (v: string) => /^(\d+)\.(\d+)/.exec(v.trim());
  const have = parse(version);
  const want = parse(min);
  if (!have || !want) return false;
  const [haveMajor, haveMinor] = [Number(have[1]), Number(have[2])];
  const [wantMajor, wantMinor] = [Number(want[1]), Number(want[2])];
  return haveMajor > wantMajor || (haveMajor === wantMajor && haveMinor >= wantMinor);
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
