// otel_traces, otel_traces_trace_id_ts and its view, exactly as the OpenTelemetry Collector's
// ClickHouse exporter creates them (exporter/clickhouseexporter/internal/sqltemplates/
// traces_table.sql without full-text search, traces_id_ts_lookup_table.sql and _mv.sql), so spans
// written by the proxy and by a collector land in the same table and either may create it first.
import { OTEL_TRACES as C, OTEL_TRACES_TRACE_ID_TS as L, TABLE_OTEL_TRACES, TABLE_OTEL_TRACES_TRACE_ID_TS, VIEW_OTEL_TRACES_TRACE_ID_TS_MV, qualified } from '../schema.ts';
import { ttl, type Migration } from './migration.ts';

export const otelTraces: Migration = {
  id: 1,
  name: 'otel-traces',
  statements: ({ database, ttlDays }) => {
    const traces = qualified(database, TABLE_OTEL_TRACES);
    const lookup = qualified(database, TABLE_OTEL_TRACES_TRACE_ID_TS);
    return [
      `CREATE TABLE IF NOT EXISTS ${traces} (
    ${C.Timestamp} DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    ${C.TraceId} String CODEC(ZSTD(1)),
    ${C.SpanId} String CODEC(ZSTD(1)),
    ${C.ParentSpanId} String CODEC(ZSTD(1)),
    ${C.TraceState} String CODEC(ZSTD(1)),
    ${C.SpanName} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.SpanKind} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.ServiceName} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.ResourceAttributes} Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ${C.ScopeName} String CODEC(ZSTD(1)),
    ${C.ScopeVersion} String CODEC(ZSTD(1)),
    ${C.SpanAttributes} Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ${C.Duration} UInt64 CODEC(T64, ZSTD(1)),
    ${C.StatusCode} LowCardinality(String) CODEC(ZSTD(1)),
    ${C.StatusMessage} String CODEC(ZSTD(1)),
    ${C.Events} Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ${C.Links} Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(${C.ResourceAttributes}, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(${C.SpanAttributes}, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id ${C.TraceId} TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(${C.ResourceAttributes}) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(${C.ResourceAttributes}) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(${C.SpanAttributes}) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(${C.SpanAttributes}) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration ${C.Duration} TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(${C.SpanName}) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(${C.Timestamp})
PRIMARY KEY (${C.ServiceName}, ${C.SpanName}, toDateTime(${C.Timestamp}))
ORDER BY (${C.ServiceName}, ${C.SpanName}, toDateTime(${C.Timestamp}), ${C.Timestamp})
${ttl(`toDateTime(${C.Timestamp})`, ttlDays)}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,

      `CREATE TABLE IF NOT EXISTS ${lookup} (
    ${L.TraceId} String CODEC(ZSTD(1)),
    ${L.Start} SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    ${L.End} SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(${L.Start})
ORDER BY (${L.TraceId})
${ttl(`toDateTime(${L.Start})`, ttlDays)}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,

      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_OTEL_TRACES_TRACE_ID_TS_MV)}
TO ${lookup}
AS SELECT
    ${C.TraceId} AS ${L.TraceId},
    min(${C.Timestamp}) AS ${L.Start},
    max(${C.Timestamp}) AS ${L.End}
FROM ${traces}
WHERE ${C.TraceId} != ''
GROUP BY ${C.TraceId}`,
    ];
  },
};
