// Two rollups of llm_calls for the dashboards' default view over a week or more, where the
// per-minute rollup (004) holds ~40 % as many rows as llm_calls (its key has the tenant) and
// panels on columns it lacks read every call (test/dashboards/bench-panels.ts, 10 M calls / 7 days):
// - llm_calls_10m: per 10 minutes × service, route, provider, model, feature, status, error type,
//   without the tenant (a few hundred thousand rows a week): error rate by error type, spend by
//   feature, latency percentiles (t-digest states as in llm_calls_1m);
// - llm_calls_users_1h: per hour × tenant × user: the top users by spend.
// The dashboards read them only when every variable they lack is at "All" and the range is long
// (dashboards/sql.ts, `rollupOrRaw`); otherwise they read llm_calls as before. Both are fed by
// views on llm_calls (a chain, like 004) and backfilled once from the calls already stored
// (backfillSql in 012: one part, before the view exists, deduplicated by token).
import {
  LLM_CALLS as C,
  LLM_CALLS_10M as D,
  LLM_CALLS_USERS_1H as U,
  ROLLUP_QUANTILES_SQL,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  VIEW_LLM_CALLS_10M_MV,
  VIEW_LLM_CALLS_USERS_1H_MV,
  qualified,
} from '../schema.ts';
import { backfillSql, whileEmpty } from './012-otel-traces-rollups.ts';
import { DEDUP_WINDOW_BLOCKS, ttl, type Migration } from './migration.ts';

const ZERO_USD = 'toDecimal128(0, 12)';

export const llmCalls10mUsers1h: Migration = {
  id: 13,
  name: 'llm-calls-10m-users-1h',
  statements: ({ database, rollupTtlDays }) => {
    const calls = qualified(database, TABLE_LLM_CALLS);
    const tenMinutes = qualified(database, TABLE_LLM_CALLS_10M);
    const users = qualified(database, TABLE_LLM_CALLS_USERS_1H);
    const q = `quantilesTDigest(${ROLLUP_QUANTILES_SQL})`;
    const qState = `quantilesTDigestState(${ROLLUP_QUANTILES_SQL})`;
    const keys10m = [D.ServiceName, D.Route, D.Provider, D.RequestModel, D.Feature, D.StatusCode, D.ErrorType] as const;
    const select10m = (where: string) => `SELECT
    toStartOfTenMinutes(c.${C.Timestamp}) AS ${D.Bucket},
${keys10m.map((k) => `    c.${k} AS ${k},`).join('\n')}
    count() AS ${D.Calls},
    countIf(c.${C.CostUsd} IS NOT NULL) AS ${D.PricedCalls},
    sum(ifNull(c.${C.CostUsd}, ${ZERO_USD})) AS ${D.CostUsd},
    ${qState}(c.${C.DurationMs}) AS ${D.DurationMsQuantiles},
    ${qState}(c.${C.TtftMs}) AS ${D.TtftMsQuantiles},
    ${qState}(c.${C.OverheadMs}) AS ${D.OverheadMsQuantiles}
FROM ${calls} AS c${where}
GROUP BY ${D.Bucket}, ${keys10m.join(', ')}`;
    const selectUsers = (where: string) => `SELECT
    toStartOfHour(c.${C.Timestamp}) AS ${U.Hour},
    c.${C.Tenant} AS ${U.Tenant},
    c.${C.User} AS ${U.User},
    count() AS ${U.Calls},
    countIf(c.${C.CostUsd} IS NOT NULL) AS ${U.PricedCalls},
    sum(ifNull(c.${C.CostUsd}, ${ZERO_USD})) AS ${U.CostUsd}
FROM ${calls} AS c${where}
GROUP BY ${U.Hour}, ${U.Tenant}, ${U.User}`;
    const settings = `SETTINGS index_granularity = 8192, non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`;
    return [
      `CREATE TABLE IF NOT EXISTS ${tenMinutes} (
    ${D.Bucket} DateTime CODEC(Delta(4), ZSTD(1)),
${keys10m.map((k) => `    ${k} LowCardinality(String),`).join('\n')}
    ${D.Calls} SimpleAggregateFunction(sum, UInt64),
    ${D.PricedCalls} SimpleAggregateFunction(sum, UInt64),
    ${D.CostUsd} SimpleAggregateFunction(sum, Decimal(38, 12)),
    ${D.DurationMsQuantiles} AggregateFunction(${q}, Float64),
    ${D.TtftMsQuantiles} AggregateFunction(${q}, Nullable(Float64)),
    ${D.OverheadMsQuantiles} AggregateFunction(${q}, Float64)
) ENGINE = AggregatingMergeTree()
ORDER BY (${D.ServiceName}, ${D.Bucket}, ${keys10m.slice(1).join(', ')})
${ttl(D.Bucket, rollupTtlDays)}
${settings}`,
      `CREATE TABLE IF NOT EXISTS ${users} (
    ${U.Hour} DateTime CODEC(Delta(4), ZSTD(1)),
    ${U.Tenant} LowCardinality(String),
    ${U.User} String CODEC(ZSTD(1)),
    ${U.Calls} SimpleAggregateFunction(sum, UInt64),
    ${U.PricedCalls} SimpleAggregateFunction(sum, UInt64),
    ${U.CostUsd} SimpleAggregateFunction(sum, Decimal(38, 12))
) ENGINE = AggregatingMergeTree()
ORDER BY (${U.Hour}, ${U.Tenant}, ${U.User})
${ttl(U.Hour, rollupTtlDays)}
${settings}`,
      backfillSql(database, TABLE_LLM_CALLS_10M, select10m(`\nWHERE ${whileEmpty(database, TABLE_LLM_CALLS_10M)}`)),
      backfillSql(database, TABLE_LLM_CALLS_USERS_1H, selectUsers(`\nWHERE ${whileEmpty(database, TABLE_LLM_CALLS_USERS_1H)}`)),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_LLM_CALLS_10M_MV)}
TO ${tenMinutes}
AS ${select10m('')}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_LLM_CALLS_USERS_1H_MV)}
TO ${users}
AS ${selectUsers('')}`,
    ];
  },
};
