// Rollups of llm_calls for the dashboards' default view over a week or more, where the per-minute
// rollup (004) holds ~40 % as many rows as llm_calls (its key has the tenant) and panels on
// columns it lacks read every call (test/dashboards/bench-panels.ts, 10 M calls / 7 days):
// - llm_calls_10m: per 10 minutes × service, route, provider, model, without the tenant: calls and
//   the t-digest states of llm_calls_1m (latency, TTFT and overhead percentiles). Few keys on
//   purpose: merging t-digests costs per row.
// - llm_calls_feature_status_10m: per 10 minutes × service, route, provider, model, feature,
//   status, error type, without the tenant: calls, priced calls, spend (error rate by error type,
//   spend by feature). Plain sums, so more keys are cheap.
// - llm_calls_users_1h: per hour × tenant × user: calls, priced calls, spend (top users).
// The dashboards read them only when every variable they lack is at "All" and the range is long
// (dashboards/sql.ts, `coarseOrFine`); otherwise they read llm_calls / llm_calls_1m as before.
// Each is fed by a view on llm_calls (a chain, like 004) and backfilled once from the calls
// already stored (backfillSql in 012: one part, before the view exists, deduplicated by token).
import {
  LLM_CALLS as C,
  LLM_CALLS_10M as D,
  LLM_CALLS_FEATURE_STATUS_10M as F,
  LLM_CALLS_USERS_1H as U,
  ROLLUP_QUANTILES_SQL,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_FEATURE_STATUS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  VIEW_LLM_CALLS_10M_MV,
  VIEW_LLM_CALLS_FEATURE_STATUS_10M_MV,
  VIEW_LLM_CALLS_USERS_1H_MV,
  qualified,
} from '../schema.ts';
import { backfillSql, whileEmpty } from './012-otel-traces-rollups.ts';
import { DEDUP_WINDOW_BLOCKS, ttl, type Migration } from './migration.ts';

const ZERO_USD = 'toDecimal128(0, 12)';

interface Rollup {
  table: string;
  view: string;
  /** Time bucket column and the expression on llm_calls `c` that fills it. */
  time: [string, string];
  /** Key columns, LowCardinality(String) unless listed in `stringKeys`; each is the llm_calls column of the same name. */
  keys: readonly string[];
  stringKeys?: readonly string[];
  /** Value columns: name, type, expression on `c`. */
  values: readonly [string, string, string][];
  /** ORDER BY. */
  order: readonly string[];
}

function statements(database: string, rollupTtlDays: number, r: Rollup): string[] {
  const [timeCol, timeExpr] = r.time;
  const select = (where: string) => `SELECT
    ${timeExpr} AS ${timeCol},
${r.keys.map((k) => `    c.${k} AS ${k},`).join('\n')}
${r.values.map(([name, , expr]) => `    ${expr} AS ${name}`).join(',\n')}
FROM ${qualified(database, TABLE_LLM_CALLS)} AS c${where}
GROUP BY ${timeCol}, ${r.keys.join(', ')}`;
  const table = qualified(database, r.table);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
    ${timeCol} DateTime CODEC(Delta(4), ZSTD(1)),
${r.keys.map((k) => `    ${k} ${r.stringKeys?.includes(k) ? 'String CODEC(ZSTD(1))' : 'LowCardinality(String)'},`).join('\n')}
${r.values.map(([name, type]) => `    ${name} ${type}`).join(',\n')}
) ENGINE = AggregatingMergeTree()
ORDER BY (${r.order.join(', ')})
${ttl(timeCol, rollupTtlDays)}
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`,
    backfillSql(database, r.table, select(`\nWHERE ${whileEmpty(database, r.table)}`)),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, r.view)}
TO ${table}
AS ${select('')}`,
  ];
}

export const llmCalls10mUsers1h: Migration = {
  id: 13,
  name: 'llm-calls-10m-users-1h',
  statements: ({ database, rollupTtlDays }) => {
    const q = `quantilesTDigest(${ROLLUP_QUANTILES_SQL})`;
    const qState = `quantilesTDigestState(${ROLLUP_QUANTILES_SQL})`;
    const calls = (name: string): [string, string, string] => [name, 'SimpleAggregateFunction(sum, UInt64)', 'count()'];
    const priced = (name: string): [string, string, string] => [name, 'SimpleAggregateFunction(sum, UInt64)', `countIf(c.${C.CostUsd} IS NOT NULL)`];
    const cost = (name: string): [string, string, string] => [name, 'SimpleAggregateFunction(sum, Decimal(38, 12))', `sum(ifNull(c.${C.CostUsd}, ${ZERO_USD}))`];
    const tenMinutes: [string, string] = [D.Bucket, `toStartOfTenMinutes(c.${C.Timestamp})`];
    const latencyKeys = [D.ServiceName, D.Route, D.Provider, D.RequestModel] as const;
    const outcomeKeys = [F.ServiceName, F.Route, F.Provider, F.RequestModel, F.Feature, F.StatusCode, F.ErrorType] as const;
    const rollups: Rollup[] = [
      {
        table: TABLE_LLM_CALLS_10M,
        view: VIEW_LLM_CALLS_10M_MV,
        time: tenMinutes,
        keys: latencyKeys,
        values: [
          calls(D.Calls),
          [D.DurationMsQuantiles, `AggregateFunction(${q}, Float64)`, `${qState}(c.${C.DurationMs})`],
          [D.TtftMsQuantiles, `AggregateFunction(${q}, Nullable(Float64))`, `${qState}(c.${C.TtftMs})`],
          [D.OverheadMsQuantiles, `AggregateFunction(${q}, Float64)`, `${qState}(c.${C.OverheadMs})`],
        ],
        order: [D.ServiceName, D.Bucket, D.Route, D.Provider, D.RequestModel],
      },
      {
        table: TABLE_LLM_CALLS_FEATURE_STATUS_10M,
        view: VIEW_LLM_CALLS_FEATURE_STATUS_10M_MV,
        time: [F.Bucket, tenMinutes[1]],
        keys: outcomeKeys,
        values: [calls(F.Calls), priced(F.PricedCalls), cost(F.CostUsd)],
        order: [F.Bucket, ...outcomeKeys],
      },
      {
        table: TABLE_LLM_CALLS_USERS_1H,
        view: VIEW_LLM_CALLS_USERS_1H_MV,
        time: [U.Hour, `toStartOfHour(c.${C.Timestamp})`],
        keys: [U.Tenant, U.User],
        stringKeys: [U.User],
        values: [calls(U.Calls), priced(U.PricedCalls), cost(U.CostUsd)],
        order: [U.Hour, U.Tenant, U.User],
      },
    ];
    // Tables first, then the backfills, then the views (a backfill must run before its view exists).
    const all = rollups.map((r) => statements(database, rollupTtlDays, r));
    return [0, 1, 2].flatMap((i) => all.map((s) => s[i] as string));
  },
};
