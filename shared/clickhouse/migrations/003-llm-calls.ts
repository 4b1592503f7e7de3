// llm_calls: one typed row per gen_ai CLIENT span, derived in ClickHouse from otel_traces by a
// materialized view, so spans from the proxy's own exporter and from a collector produce the same
// rows and nothing LLM-specific is computed twice. Attribute values are strings in otel_traces:
// every number is cast here (…OrZero for counters, …OrNull where "absent" must stay visible).
import * as A from '../../telemetry/semconv.ts';
import { LLM_CALLS as C, OTEL_TRACES as T, SPAN_KIND_CLIENT_VALUES_SQL, STATUS_CODE, STATUS_CODE_ERROR_VALUES_SQL, STATUS_CODE_OK_VALUES_SQL, TABLE_LLM_CALLS, TABLE_OTEL_TRACES, VIEW_LLM_CALLS_MV, qualified } from '../schema.ts';
import { DEDUP_WINDOW_BLOCKS, ttl, type Migration } from './migration.ts';

/** `t.SpanAttributes['name']` for an attribute-name constant. */
function attr(name: string): string {
  return `t.${T.SpanAttributes}['${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

/**
 * The view's SELECT: one llm_calls row per gen_ai CLIENT span. Migration 003 created the view with
 * it as it shipped; later migrations that add a column re-state it (ALTER … MODIFY QUERY) with
 * `since` set to their id, so this one function stays the only definition.
 */
export function llmCallsSelectSql(database: string, since = 3): string {
  const sampled = `${attr(A.ATTR_LLM_SIDECAR_EVAL_SAMPLED)} IN ('true', '1')`;
  const extra = since >= 9 ? `,\n    toDecimal128OrNull(${attr(A.ATTR_LLM_SIDECAR_CACHE_SAVED_USD)}, 12) AS ${C.CacheSavedUsd}` : '';
  // Source columns are written t.X: an alias equal to a column it reads is a cyclic alias.
  return `SELECT
    t.${T.Timestamp} AS ${C.Timestamp},
    t.${T.TraceId} AS ${C.TraceId},
    t.${T.SpanId} AS ${C.SpanId},
    t.${T.ParentSpanId} AS ${C.ParentSpanId},
    t.${T.ServiceName} AS ${C.ServiceName},
    ${attr(A.ATTR_LLM_SIDECAR_ROUTE)} AS ${C.Route},
    ${attr(A.ATTR_LLM_SIDECAR_TENANT)} AS ${C.Tenant},
    ${attr(A.ATTR_LLM_SIDECAR_USER)} AS ${C.User},
    ${attr(A.ATTR_LLM_SIDECAR_FEATURE)} AS ${C.Feature},
    ${attr(A.ATTR_GEN_AI_PROVIDER_NAME)} AS ${C.Provider},
    ${attr(A.ATTR_LLM_SIDECAR_PROVIDER)} AS ${C.ProviderConfigName},
    ${attr(A.ATTR_GEN_AI_REQUEST_MODEL)} AS ${C.RequestModel},
    ${attr(A.ATTR_GEN_AI_RESPONSE_MODEL)} AS ${C.ResponseModel},
    ${attr(A.ATTR_GEN_AI_OPERATION_NAME)} AS ${C.Operation},
    toUInt8(${attr(A.ATTR_GEN_AI_REQUEST_STREAM)} IN ('true', '1')) AS ${C.Stream},
    multiIf(t.${T.StatusCode} IN (${STATUS_CODE_ERROR_VALUES_SQL}), '${STATUS_CODE.Error}',
            t.${T.StatusCode} IN (${STATUS_CODE_OK_VALUES_SQL}), '${STATUS_CODE.Ok}', '${STATUS_CODE.Unset}') AS ${C.StatusCode},
    ${attr(A.ATTR_ERROR_TYPE)} AS ${C.ErrorType},
    toUInt16OrZero(${attr(A.ATTR_HTTP_RESPONSE_STATUS_CODE)}) AS ${C.HttpStatus},
    t.${T.Duration} / 1e6 AS ${C.DurationMs},
    toFloat64OrNull(${attr(A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)}) * 1000 AS ${C.TtftMs},
    toFloat64OrZero(${attr(A.ATTR_LLM_SIDECAR_OVERHEAD_MS)}) AS ${C.OverheadMs},
    toUInt64OrZero(${attr(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS)}) AS ${C.InputTokens},
    toUInt64OrZero(${attr(A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS)}) AS ${C.OutputTokens},
    toUInt64OrZero(${attr(A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)}) AS ${C.CacheReadTokens},
    toUInt64OrZero(${attr(A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)}) AS ${C.CacheWriteTokens},
    toUInt64OrZero(${attr(A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)}) AS ${C.ReasoningTokens},
    toDecimal128OrNull(${attr(A.ATTR_LLM_SIDECAR_COST_USD)}, 12) AS ${C.CostUsd},
    ${attr(A.ATTR_LLM_SIDECAR_CACHE_STATUS)} AS ${C.CacheStatus},
    toUInt16OrZero(${attr(A.ATTR_LLM_SIDECAR_ATTEMPTS)}) AS ${C.Attempts},
    toUInt16OrZero(${attr(A.ATTR_LLM_SIDECAR_FALLBACK_INDEX)}) AS ${C.FallbackIndex},
    toUInt8(${sampled}) AS ${C.EvalSampled},
    if(${sampled}, ${attr(A.ATTR_GEN_AI_INPUT_MESSAGES)}, '') AS ${C.InputMessages},
    if(${sampled}, ${attr(A.ATTR_GEN_AI_OUTPUT_MESSAGES)}, '') AS ${C.OutputMessages},
    if(${sampled}, ${attr(A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS)}, '') AS ${C.SystemInstructions}${extra}
FROM ${qualified(database, TABLE_OTEL_TRACES)} AS t
WHERE t.${T.SpanKind} IN (${SPAN_KIND_CLIENT_VALUES_SQL})
  AND mapContains(t.${T.SpanAttributes}, '${A.ATTR_GEN_AI_OPERATION_NAME}')`;
}

export const llmCalls: Migration = {
  id: 3,
  name: 'llm-calls',
  statements: ({ database, ttlDays, contentTtlDays }) => {
    const calls = qualified(database, TABLE_LLM_CALLS);
    // Content expires sooner than the row; with no row TTL it still expires on its own schedule.
    const contentTtl = ttl(`toDateTime(${C.Timestamp})`, contentTtlDays);
    return [
      `CREATE TABLE IF NOT EXISTS ${calls} (
    ${C.Timestamp} DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    ${C.TraceId} String CODEC(ZSTD(1)),
    ${C.SpanId} String CODEC(ZSTD(1)),
    ${C.ParentSpanId} String CODEC(ZSTD(1)),
    ${C.ServiceName} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Route} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Tenant} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.User} String CODEC(ZSTD(1)),
    ${C.Feature} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Provider} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.ProviderConfigName} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.RequestModel} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.ResponseModel} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Operation} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Stream} UInt8,
    ${C.StatusCode} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.ErrorType} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.HttpStatus} UInt16,
    ${C.DurationMs} Float64 CODEC(ZSTD(1)),
    ${C.TtftMs} Nullable(Float64) CODEC(ZSTD(1)),
    ${C.OverheadMs} Float64 CODEC(ZSTD(1)),
    ${C.InputTokens} UInt64 CODEC(T64, ZSTD(1)),
    ${C.OutputTokens} UInt64 CODEC(T64, ZSTD(1)),
    ${C.CacheReadTokens} UInt64 CODEC(T64, ZSTD(1)),
    ${C.CacheWriteTokens} UInt64 CODEC(T64, ZSTD(1)),
    ${C.ReasoningTokens} UInt64 CODEC(T64, ZSTD(1)),
    ${C.CostUsd} Nullable(Decimal(38, 12)) CODEC(ZSTD(1)),
    ${C.CacheStatus} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.Attempts} UInt16,
    ${C.FallbackIndex} UInt16,
    ${C.EvalSampled} UInt8,
    ${C.InputMessages} String CODEC(ZSTD(3))${contentTtl},
    ${C.OutputMessages} String CODEC(ZSTD(3))${contentTtl},
    ${C.SystemInstructions} String CODEC(ZSTD(3))${contentTtl},
    INDEX idx_trace_id ${C.TraceId} TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_eval_sampled ${C.EvalSampled} TYPE minmax GRANULARITY 1,
    INDEX idx_tenant ${C.Tenant} TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user ${C.User} TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = MergeTree()
PARTITION BY toDate(${C.Timestamp})
ORDER BY (${C.ServiceName}, toStartOfHour(${C.Timestamp}), ${C.Timestamp})
${ttl(`toDateTime(${C.Timestamp})`, ttlDays)}
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`,

      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_LLM_CALLS_MV)}
TO ${calls}
AS ${llmCallsSelectSql(database)}`,
    ];
  },
};
