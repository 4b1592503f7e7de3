// llm_calls_1m: per-minute partial aggregates of llm_calls, so dashboards over weeks read
// thousands of rows instead of tens of millions. Fed by a view on llm_calls (a chain: an insert
// into otel_traces fills llm_calls, which fills this). See schema.ts for how to read it.
import { LLM_CALLS as C, LLM_CALLS_1M as R, ROLLUP_QUANTILES_SQL, STATUS_CODE, TABLE_LLM_CALLS, TABLE_LLM_CALLS_1M, VIEW_LLM_CALLS_1M_MV, qualified } from '../schema.ts';
import { DEDUP_WINDOW_BLOCKS, ttl, type Migration } from './migration.ts';

export const llmCalls1m: Migration = {
  id: 4,
  name: 'llm-calls-1m',
  statements: ({ database, rollupTtlDays }) => {
    const rollup = qualified(database, TABLE_LLM_CALLS_1M);
    const q = `quantilesTDigest(${ROLLUP_QUANTILES_SQL})`;
    const qState = `quantilesTDigestState(${ROLLUP_QUANTILES_SQL})`;
    return [
      `CREATE TABLE IF NOT EXISTS ${rollup} (
    ${R.Minute} DateTime CODEC(Delta(4), ZSTD(1)),
    ${R.ServiceName} LowCardinality(String),
    ${R.Route} LowCardinality(String),
    ${R.Provider} LowCardinality(String),
    ${R.RequestModel} LowCardinality(String),
    ${R.Tenant} LowCardinality(String),
    ${R.Calls} AggregateFunction(count),
    ${R.Errors} AggregateFunction(countIf, UInt8),
    ${R.InputTokens} SimpleAggregateFunction(sum, UInt64),
    ${R.OutputTokens} SimpleAggregateFunction(sum, UInt64),
    ${R.CacheReadTokens} SimpleAggregateFunction(sum, UInt64),
    ${R.CacheWriteTokens} SimpleAggregateFunction(sum, UInt64),
    ${R.ReasoningTokens} SimpleAggregateFunction(sum, UInt64),
    ${R.CostUsd} SimpleAggregateFunction(sum, Decimal(38, 12)),
    ${R.UnpricedCalls} SimpleAggregateFunction(sum, UInt64),
    ${R.DurationMsQuantiles} AggregateFunction(${q}, Float64),
    ${R.TtftMsQuantiles} AggregateFunction(${q}, Nullable(Float64)),
    ${R.OverheadMsQuantiles} AggregateFunction(${q}, Float64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(${R.Minute})
ORDER BY (${R.ServiceName}, ${R.Minute}, ${R.Route}, ${R.Provider}, ${R.RequestModel}, ${R.Tenant})
${ttl(R.Minute, rollupTtlDays)}
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`,

      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_LLM_CALLS_1M_MV)}
TO ${rollup}
AS SELECT
    toStartOfMinute(c.${C.Timestamp}) AS ${R.Minute},
    c.${C.ServiceName} AS ${R.ServiceName},
    c.${C.Route} AS ${R.Route},
    c.${C.Provider} AS ${R.Provider},
    c.${C.RequestModel} AS ${R.RequestModel},
    c.${C.Tenant} AS ${R.Tenant},
    countState() AS ${R.Calls},
    countIfState(c.${C.StatusCode} = '${STATUS_CODE.Error}') AS ${R.Errors},
    sum(c.${C.InputTokens}) AS ${R.InputTokens},
    sum(c.${C.OutputTokens}) AS ${R.OutputTokens},
    sum(c.${C.CacheReadTokens}) AS ${R.CacheReadTokens},
    sum(c.${C.CacheWriteTokens}) AS ${R.CacheWriteTokens},
    sum(c.${C.ReasoningTokens}) AS ${R.ReasoningTokens},
    sum(ifNull(c.${C.CostUsd}, toDecimal128(0, 12))) AS ${R.CostUsd},
    countIf(c.${C.CostUsd} IS NULL) AS ${R.UnpricedCalls},
    ${qState}(c.${C.DurationMs}) AS ${R.DurationMsQuantiles},
    ${qState}(c.${C.TtftMs}) AS ${R.TtftMsQuantiles},
    ${qState}(c.${C.OverheadMs}) AS ${R.OverheadMsQuantiles}
FROM ${qualified(database, TABLE_LLM_CALLS)} AS c
GROUP BY ${R.Minute}, ${R.ServiceName}, ${R.Route}, ${R.Provider}, ${R.RequestModel}, ${R.Tenant}`,
    ];
  },
};
