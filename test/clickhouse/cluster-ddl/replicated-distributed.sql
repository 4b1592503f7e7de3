-- 000-bootstrap
CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `llm`;

-- 000-bootstrap
CREATE TABLE IF NOT EXISTS `otel`.`schema_migrations` ON CLUSTER `llm` (
    Id UInt32,
    Name String,
    AppliedAt DateTime64(3)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/{table}', '{replica}', AppliedAt)
ORDER BY Id;

-- 001-otel-traces
CREATE TABLE IF NOT EXISTS `otel`.`otel_traces_local` ON CLUSTER `llm` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
 TTL toDateTime(Timestamp) + toIntervalDay(30)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- 001-otel-traces
CREATE TABLE IF NOT EXISTS `otel`.`otel_traces` ON CLUSTER `llm` AS `otel`.`otel_traces_local`
ENGINE = Distributed(`llm`, `otel`, `otel_traces_local`, cityHash64(TraceId));

-- 001-otel-traces
CREATE TABLE IF NOT EXISTS `otel`.`otel_traces_trace_id_ts_local` ON CLUSTER `llm` (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
 TTL toDateTime(Start) + toIntervalDay(30)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- 001-otel-traces
CREATE TABLE IF NOT EXISTS `otel`.`otel_traces_trace_id_ts` ON CLUSTER `llm` AS `otel`.`otel_traces_trace_id_ts_local`
ENGINE = Distributed(`llm`, `otel`, `otel_traces_trace_id_ts_local`, cityHash64(TraceId));

-- 001-otel-traces
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`otel_traces_trace_id_ts_mv` ON CLUSTER `llm`
TO `otel`.`otel_traces_trace_id_ts_local`
AS SELECT
    TraceId AS TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM `otel`.`otel_traces_local`
WHERE TraceId != ''
GROUP BY TraceId;

-- 002-otel-traces-dedup
ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `llm` MODIFY SETTING non_replicated_deduplication_window = 1000;

-- 003-llm-calls
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_local` ON CLUSTER `llm` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Route LowCardinality(String) CODEC(ZSTD(1)),
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
    User String CODEC(ZSTD(1)),
    Feature LowCardinality(String) CODEC(ZSTD(1)),
    Provider LowCardinality(String) CODEC(ZSTD(1)),
    ProviderConfigName LowCardinality(String) CODEC(ZSTD(1)),
    RequestModel LowCardinality(String) CODEC(ZSTD(1)),
    ResponseModel LowCardinality(String) CODEC(ZSTD(1)),
    Operation LowCardinality(String) CODEC(ZSTD(1)),
    Stream UInt8,
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    ErrorType LowCardinality(String) CODEC(ZSTD(1)),
    HttpStatus UInt16,
    DurationMs Float64 CODEC(ZSTD(1)),
    TtftMs Nullable(Float64) CODEC(ZSTD(1)),
    OverheadMs Float64 CODEC(ZSTD(1)),
    InputTokens UInt64 CODEC(T64, ZSTD(1)),
    OutputTokens UInt64 CODEC(T64, ZSTD(1)),
    CacheReadTokens UInt64 CODEC(T64, ZSTD(1)),
    CacheWriteTokens UInt64 CODEC(T64, ZSTD(1)),
    ReasoningTokens UInt64 CODEC(T64, ZSTD(1)),
    CostUsd Nullable(Decimal(38, 12)) CODEC(ZSTD(1)),
    CacheStatus LowCardinality(String) CODEC(ZSTD(1)),
    Attempts UInt16,
    FallbackIndex UInt16,
    EvalSampled UInt8,
    InputMessages String CODEC(ZSTD(3)) TTL toDateTime(Timestamp) + toIntervalDay(7),
    OutputMessages String CODEC(ZSTD(3)) TTL toDateTime(Timestamp) + toIntervalDay(7),
    SystemInstructions String CODEC(ZSTD(3)) TTL toDateTime(Timestamp) + toIntervalDay(7),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_eval_sampled EvalSampled TYPE minmax GRANULARITY 1,
    INDEX idx_tenant Tenant TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user User TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, toStartOfHour(Timestamp), Timestamp)
 TTL toDateTime(Timestamp) + toIntervalDay(30)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 003-llm-calls
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls` ON CLUSTER `llm` AS `otel`.`llm_calls_local`
ENGINE = Distributed(`llm`, `otel`, `llm_calls_local`, cityHash64(TraceId));

-- 003-llm-calls
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_calls_mv` ON CLUSTER `llm`
TO `otel`.`llm_calls_local`
AS SELECT
    t.Timestamp AS Timestamp,
    t.TraceId AS TraceId,
    t.SpanId AS SpanId,
    t.ParentSpanId AS ParentSpanId,
    t.ServiceName AS ServiceName,
    t.SpanAttributes['llm_sidecar.route'] AS Route,
    t.SpanAttributes['llm_sidecar.tenant'] AS Tenant,
    t.SpanAttributes['llm_sidecar.user'] AS User,
    t.SpanAttributes['llm_sidecar.feature'] AS Feature,
    t.SpanAttributes['gen_ai.provider.name'] AS Provider,
    t.SpanAttributes['llm_sidecar.provider'] AS ProviderConfigName,
    t.SpanAttributes['gen_ai.request.model'] AS RequestModel,
    t.SpanAttributes['gen_ai.response.model'] AS ResponseModel,
    t.SpanAttributes['gen_ai.operation.name'] AS Operation,
    toUInt8(t.SpanAttributes['gen_ai.request.stream'] IN ('true', '1')) AS Stream,
    multiIf(t.StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 'Error',
            t.StatusCode IN ('Ok', 'STATUS_CODE_OK'), 'Ok', 'Unset') AS StatusCode,
    t.SpanAttributes['error.type'] AS ErrorType,
    toUInt16OrZero(t.SpanAttributes['http.response.status_code']) AS HttpStatus,
    t.Duration / 1e6 AS DurationMs,
    toFloat64OrNull(t.SpanAttributes['gen_ai.response.time_to_first_chunk']) * 1000 AS TtftMs,
    toFloat64OrZero(t.SpanAttributes['llm_sidecar.overhead_ms']) AS OverheadMs,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.input_tokens']) AS InputTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.output_tokens']) AS OutputTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.cache_read.input_tokens']) AS CacheReadTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.cache_creation.input_tokens']) AS CacheWriteTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.reasoning.output_tokens']) AS ReasoningTokens,
    toDecimal128OrNull(t.SpanAttributes['llm_sidecar.cost.usd'], 12) AS CostUsd,
    t.SpanAttributes['llm_sidecar.cache.status'] AS CacheStatus,
    toUInt16OrZero(t.SpanAttributes['llm_sidecar.attempts']) AS Attempts,
    toUInt16OrZero(t.SpanAttributes['llm_sidecar.fallback.index']) AS FallbackIndex,
    toUInt8(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1')) AS EvalSampled,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.input.messages'], '') AS InputMessages,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.output.messages'], '') AS OutputMessages,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.system_instructions'], '') AS SystemInstructions
FROM `otel`.`otel_traces_local` AS t
WHERE t.SpanKind IN ('Client', 'SPAN_KIND_CLIENT')
  AND mapContains(t.SpanAttributes, 'gen_ai.operation.name');

-- 004-llm-calls-1m
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_1m_local` ON CLUSTER `llm` (
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    Route LowCardinality(String),
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    Tenant LowCardinality(String),
    Calls AggregateFunction(count),
    Errors AggregateFunction(countIf, UInt8),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CacheReadTokens SimpleAggregateFunction(sum, UInt64),
    CacheWriteTokens SimpleAggregateFunction(sum, UInt64),
    ReasoningTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Decimal(38, 12)),
    UnpricedCalls SimpleAggregateFunction(sum, UInt64),
    DurationMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    TtftMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64)),
    OverheadMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(Minute)
ORDER BY (ServiceName, Minute, Route, Provider, RequestModel, Tenant)
 TTL Minute + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 004-llm-calls-1m
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_1m` ON CLUSTER `llm` AS `otel`.`llm_calls_1m_local`
ENGINE = Distributed(`llm`, `otel`, `llm_calls_1m_local`, rand());

-- 004-llm-calls-1m
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_calls_1m_mv` ON CLUSTER `llm`
TO `otel`.`llm_calls_1m_local`
AS SELECT
    toStartOfMinute(c.Timestamp) AS Minute,
    c.ServiceName AS ServiceName,
    c.Route AS Route,
    c.Provider AS Provider,
    c.RequestModel AS RequestModel,
    c.Tenant AS Tenant,
    countState() AS Calls,
    countIfState(c.StatusCode = 'Error') AS Errors,
    sum(c.InputTokens) AS InputTokens,
    sum(c.OutputTokens) AS OutputTokens,
    sum(c.CacheReadTokens) AS CacheReadTokens,
    sum(c.CacheWriteTokens) AS CacheWriteTokens,
    sum(c.ReasoningTokens) AS ReasoningTokens,
    sum(ifNull(c.CostUsd, toDecimal128(0, 12))) AS CostUsd,
    countIf(c.CostUsd IS NULL) AS UnpricedCalls,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.DurationMs) AS DurationMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.TtftMs) AS TtftMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.OverheadMs) AS OverheadMsQuantiles
FROM `otel`.`llm_calls_local` AS c
GROUP BY Minute, ServiceName, Route, Provider, RequestModel, Tenant;

-- 005-llm-evaluations
CREATE TABLE IF NOT EXISTS `otel`.`llm_evaluations_local` ON CLUSTER `llm` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    EvaluatedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String),
    Route LowCardinality(String),
    RequestModel LowCardinality(String),
    Evaluator LowCardinality(String),
    EvaluatorVersion LowCardinality(String),
    ScoreValue Nullable(Float64),
    ScoreLabel LowCardinality(String),
    Explanation String CODEC(ZSTD(3)),
    ErrorType LowCardinality(String),
    JudgeModel LowCardinality(String),
    JudgeInputTokens UInt64,
    JudgeOutputTokens UInt64,
    JudgeCostUsd Nullable(Decimal(38, 12)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', EvaluatedAt)
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (ServiceName, Evaluator, toStartOfHour(Timestamp), TraceId, SpanId, EvaluatorVersion)
SETTINGS index_granularity = 8192;

-- 005-llm-evaluations
CREATE TABLE IF NOT EXISTS `otel`.`llm_evaluations` ON CLUSTER `llm` AS `otel`.`llm_evaluations_local`
ENGINE = Distributed(`llm`, `otel`, `llm_evaluations_local`, cityHash64(TraceId));

-- 006-llm-feedback
CREATE TABLE IF NOT EXISTS `otel`.`llm_feedback_local` ON CLUSTER `llm` (
    Timestamp DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String),
    User String CODEC(ZSTD(1)),
    Score Int8,
    Comment String CODEC(ZSTD(3)),
    Source LowCardinality(String)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', Timestamp)
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (ServiceName, TraceId, SpanId, User, Source)
SETTINGS index_granularity = 8192;

-- 006-llm-feedback
CREATE TABLE IF NOT EXISTS `otel`.`llm_feedback` ON CLUSTER `llm` AS `otel`.`llm_feedback_local`
ENGINE = Distributed(`llm`, `otel`, `llm_feedback_local`, cityHash64(TraceId));

-- 007-llm-eval-calibration
CREATE TABLE IF NOT EXISTS `otel`.`llm_eval_calibration_local` ON CLUSTER `llm` (
    RunAt DateTime64(3),
    Evaluator LowCardinality(String),
    EvaluatorVersion LowCardinality(String),
    JudgeModel LowCardinality(String),
    LabelsFile String,
    LabelsHash String,
    OutputType LowCardinality(String),
    Examples UInt32,
    Judged UInt32,
    Errors UInt32,
    Accuracy Nullable(Float64),
    Kappa Nullable(Float64),
    Spearman Nullable(Float64),
    Mae Nullable(Float64),
    JudgeCostUsd Nullable(Decimal(38, 12)),
    Details String CODEC(ZSTD(3))
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', RunAt)
ORDER BY (Evaluator, EvaluatorVersion, LabelsHash);

-- 007-llm-eval-calibration
CREATE TABLE IF NOT EXISTS `otel`.`llm_eval_calibration` ON CLUSTER `llm` AS `otel`.`llm_eval_calibration_local`
ENGINE = Distributed(`llm`, `otel`, `llm_eval_calibration_local`, cityHash64(Evaluator, EvaluatorVersion, LabelsHash));

-- 008-llm-evaluations-evaluated-at-index
ALTER TABLE `otel`.`llm_evaluations_local` ON CLUSTER `llm` ADD INDEX IF NOT EXISTS idx_evaluated_at EvaluatedAt TYPE minmax GRANULARITY 1;

-- 009-llm-calls-cache-saved-usd
ALTER TABLE `otel`.`llm_calls_local` ON CLUSTER `llm` ADD COLUMN IF NOT EXISTS CacheSavedUsd Nullable(Decimal(38, 12)) CODEC(ZSTD(1));

-- 009-llm-calls-cache-saved-usd
ALTER TABLE `otel`.`llm_calls` ON CLUSTER `llm`
    ADD COLUMN IF NOT EXISTS CacheSavedUsd Nullable(Decimal(38, 12));

-- 009-llm-calls-cache-saved-usd
ALTER TABLE `otel`.`llm_calls_mv` ON CLUSTER `llm` MODIFY QUERY SELECT
    t.Timestamp AS Timestamp,
    t.TraceId AS TraceId,
    t.SpanId AS SpanId,
    t.ParentSpanId AS ParentSpanId,
    t.ServiceName AS ServiceName,
    t.SpanAttributes['llm_sidecar.route'] AS Route,
    t.SpanAttributes['llm_sidecar.tenant'] AS Tenant,
    t.SpanAttributes['llm_sidecar.user'] AS User,
    t.SpanAttributes['llm_sidecar.feature'] AS Feature,
    t.SpanAttributes['gen_ai.provider.name'] AS Provider,
    t.SpanAttributes['llm_sidecar.provider'] AS ProviderConfigName,
    t.SpanAttributes['gen_ai.request.model'] AS RequestModel,
    t.SpanAttributes['gen_ai.response.model'] AS ResponseModel,
    t.SpanAttributes['gen_ai.operation.name'] AS Operation,
    toUInt8(t.SpanAttributes['gen_ai.request.stream'] IN ('true', '1')) AS Stream,
    multiIf(t.StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 'Error',
            t.StatusCode IN ('Ok', 'STATUS_CODE_OK'), 'Ok', 'Unset') AS StatusCode,
    t.SpanAttributes['error.type'] AS ErrorType,
    toUInt16OrZero(t.SpanAttributes['http.response.status_code']) AS HttpStatus,
    t.Duration / 1e6 AS DurationMs,
    toFloat64OrNull(t.SpanAttributes['gen_ai.response.time_to_first_chunk']) * 1000 AS TtftMs,
    toFloat64OrZero(t.SpanAttributes['llm_sidecar.overhead_ms']) AS OverheadMs,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.input_tokens']) AS InputTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.output_tokens']) AS OutputTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.cache_read.input_tokens']) AS CacheReadTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.cache_creation.input_tokens']) AS CacheWriteTokens,
    toUInt64OrZero(t.SpanAttributes['gen_ai.usage.reasoning.output_tokens']) AS ReasoningTokens,
    toDecimal128OrNull(t.SpanAttributes['llm_sidecar.cost.usd'], 12) AS CostUsd,
    t.SpanAttributes['llm_sidecar.cache.status'] AS CacheStatus,
    toUInt16OrZero(t.SpanAttributes['llm_sidecar.attempts']) AS Attempts,
    toUInt16OrZero(t.SpanAttributes['llm_sidecar.fallback.index']) AS FallbackIndex,
    toUInt8(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1')) AS EvalSampled,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.input.messages'], '') AS InputMessages,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.output.messages'], '') AS OutputMessages,
    if(t.SpanAttributes['llm_sidecar.eval.sampled'] IN ('true', '1'), t.SpanAttributes['gen_ai.system_instructions'], '') AS SystemInstructions,
    toDecimal128OrNull(t.SpanAttributes['llm_sidecar.cache.saved_usd'], 12) AS CacheSavedUsd
FROM `otel`.`otel_traces_local` AS t
WHERE t.SpanKind IN ('Client', 'SPAN_KIND_CLIENT')
  AND mapContains(t.SpanAttributes, 'gen_ai.operation.name');

-- 010-llm-feedback-name-label
ALTER TABLE `otel`.`llm_feedback_local` ON CLUSTER `llm`
    ADD COLUMN IF NOT EXISTS Name LowCardinality(String),
    ADD COLUMN IF NOT EXISTS Label String CODEC(ZSTD(1)),
    MODIFY ORDER BY (ServiceName, TraceId, SpanId, User, Source, Name);

-- 010-llm-feedback-name-label
ALTER TABLE `otel`.`llm_feedback` ON CLUSTER `llm`
    ADD COLUMN IF NOT EXISTS Name LowCardinality(String),
    ADD COLUMN IF NOT EXISTS Label String;

-- 011-otel-traces-full-text-indexes
ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `llm`
    DROP INDEX IF EXISTS idx_res_attr_value,
    DROP INDEX IF EXISTS idx_span_attr_value,
    DROP INDEX IF EXISTS idx_trace_id,
    ADD INDEX IF NOT EXISTS idx_trace_id TraceId TYPE text(tokenizer = 'array') FIRST,
    DROP INDEX IF EXISTS idx_res_attr_key,
    ADD INDEX IF NOT EXISTS idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array') AFTER idx_trace_id,
    ADD INDEX IF NOT EXISTS idx_res_attr_items ResourceAttributeItems TYPE text(tokenizer = 'array') AFTER idx_res_attr_key,
    DROP INDEX IF EXISTS idx_span_attr_key,
    ADD INDEX IF NOT EXISTS idx_span_attr_key mapKeys(SpanAttributes) TYPE text(tokenizer = 'array') AFTER idx_res_attr_items,
    ADD INDEX IF NOT EXISTS idx_span_attr_items SpanAttributeItems TYPE text(tokenizer = 'array') AFTER idx_span_attr_key;

-- 011-otel-traces-full-text-indexes
ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `llm` MATERIALIZE INDEX idx_res_attr_items SETTINGS mutations_sync = 2;

-- 011-otel-traces-full-text-indexes
ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `llm` MATERIALIZE INDEX idx_span_attr_items SETTINGS mutations_sync = 2;

-- 012-otel-traces-rollups
CREATE TABLE IF NOT EXISTS `otel`.`otel_spans_1m_local` ON CLUSTER `llm` (
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    Spans SimpleAggregateFunction(sum, UInt64),
    LastSpan SimpleAggregateFunction(max, DateTime64(9))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (ServiceName, Minute)
 TTL Minute + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 012-otel-traces-rollups
CREATE TABLE IF NOT EXISTS `otel`.`otel_spans_1m` ON CLUSTER `llm` AS `otel`.`otel_spans_1m_local`
ENGINE = Distributed(`llm`, `otel`, `otel_spans_1m_local`, cityHash64(ServiceName));

-- 012-otel-traces-rollups
CREATE TABLE IF NOT EXISTS `otel`.`llm_call_events_10m_local` ON CLUSTER `llm` (
    Bucket DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    Route LowCardinality(String),
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    EventName LowCardinality(String),
    Reason LowCardinality(String),
    Target LowCardinality(String),
    Events SimpleAggregateFunction(sum, UInt64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (Bucket, ServiceName, Route, Provider, RequestModel, EventName, Reason, Target)
 TTL Bucket + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 012-otel-traces-rollups
CREATE TABLE IF NOT EXISTS `otel`.`llm_call_events_10m` ON CLUSTER `llm` AS `otel`.`llm_call_events_10m_local`
ENGINE = Distributed(`llm`, `otel`, `llm_call_events_10m_local`, cityHash64(ServiceName, Route));

-- 012-otel-traces-rollups
INSERT INTO `otel`.`otel_spans_1m`
SETTINGS insert_deduplication_token = 'otel.otel_spans_1m.backfill', max_insert_threads = 1, min_insert_block_size_rows = 1000000000000, min_insert_block_size_bytes = 1000000000000, max_insert_block_size = 1000000000000, distributed_foreground_insert = 1
SELECT
    toStartOfMinute(t.Timestamp) AS Minute,
    t.ServiceName AS ServiceName,
    count() AS Spans,
    max(t.Timestamp) AS LastSpan
FROM `otel`.`otel_traces` AS t
WHERE (SELECT count() FROM `otel`.`otel_spans_1m`) = 0
GROUP BY Minute, ServiceName;

-- 012-otel-traces-rollups
INSERT INTO `otel`.`llm_call_events_10m`
SETTINGS insert_deduplication_token = 'otel.llm_call_events_10m.backfill', max_insert_threads = 1, min_insert_block_size_rows = 1000000000000, min_insert_block_size_bytes = 1000000000000, max_insert_block_size = 1000000000000, distributed_foreground_insert = 1
SELECT
    toStartOfTenMinutes(t.Timestamp) AS Bucket,
    t.ServiceName AS ServiceName,
    t.SpanAttributes['llm_sidecar.route'] AS Route,
    t.SpanAttributes['gen_ai.provider.name'] AS Provider,
    t.SpanAttributes['gen_ai.request.model'] AS RequestModel,
    event AS EventName,
    event_attrs['reason'] AS Reason,
    event_attrs['target'] AS Target,
    count() AS Events
FROM `otel`.`otel_traces` AS t
ARRAY JOIN t.`Events.Name` AS event, t.`Events.Attributes` AS event_attrs
WHERE hasAny(t.`Events.Name`, ['llm_sidecar.retry', 'llm_sidecar.fallback', 'llm_sidecar.target.skipped', 'llm_sidecar.cascade.escalated'])
  AND t.SpanKind IN ('Client', 'SPAN_KIND_CLIENT')
  AND has(t.SpanAttributes.keys, 'gen_ai.operation.name')
  AND event IN ('llm_sidecar.retry', 'llm_sidecar.fallback', 'llm_sidecar.target.skipped', 'llm_sidecar.cascade.escalated')
  AND (SELECT count() FROM `otel`.`llm_call_events_10m`) = 0
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel, EventName, Reason, Target;

-- 012-otel-traces-rollups
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`otel_spans_1m_mv` ON CLUSTER `llm`
TO `otel`.`otel_spans_1m_local`
AS SELECT
    toStartOfMinute(t.Timestamp) AS Minute,
    t.ServiceName AS ServiceName,
    count() AS Spans,
    max(t.Timestamp) AS LastSpan
FROM `otel`.`otel_traces_local` AS t
GROUP BY Minute, ServiceName;

-- 012-otel-traces-rollups
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_call_events_10m_mv` ON CLUSTER `llm`
TO `otel`.`llm_call_events_10m_local`
AS SELECT
    toStartOfTenMinutes(t.Timestamp) AS Bucket,
    t.ServiceName AS ServiceName,
    t.SpanAttributes['llm_sidecar.route'] AS Route,
    t.SpanAttributes['gen_ai.provider.name'] AS Provider,
    t.SpanAttributes['gen_ai.request.model'] AS RequestModel,
    event AS EventName,
    event_attrs['reason'] AS Reason,
    event_attrs['target'] AS Target,
    count() AS Events
FROM `otel`.`otel_traces_local` AS t
ARRAY JOIN t.`Events.Name` AS event, t.`Events.Attributes` AS event_attrs
WHERE hasAny(t.`Events.Name`, ['llm_sidecar.retry', 'llm_sidecar.fallback', 'llm_sidecar.target.skipped', 'llm_sidecar.cascade.escalated'])
  AND t.SpanKind IN ('Client', 'SPAN_KIND_CLIENT')
  AND has(t.SpanAttributes.keys, 'gen_ai.operation.name')
  AND event IN ('llm_sidecar.retry', 'llm_sidecar.fallback', 'llm_sidecar.target.skipped', 'llm_sidecar.cascade.escalated')
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel, EventName, Reason, Target;

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_10m_local` ON CLUSTER `llm` (
    Bucket DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    Route LowCardinality(String),
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    DurationMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    TtftMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64)),
    OverheadMsQuantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (ServiceName, Bucket, Route, Provider, RequestModel)
 TTL Bucket + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_10m` ON CLUSTER `llm` AS `otel`.`llm_calls_10m_local`
ENGINE = Distributed(`llm`, `otel`, `llm_calls_10m_local`, cityHash64(ServiceName, Route));

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_feature_status_10m_local` ON CLUSTER `llm` (
    Bucket DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    Route LowCardinality(String),
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    Feature LowCardinality(String),
    StatusCode LowCardinality(String),
    ErrorType LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    PricedCalls SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Decimal(38, 12))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (Bucket, ServiceName, Route, Provider, RequestModel, Feature, StatusCode, ErrorType)
 TTL Bucket + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_feature_status_10m` ON CLUSTER `llm` AS `otel`.`llm_calls_feature_status_10m_local`
ENGINE = Distributed(`llm`, `otel`, `llm_calls_feature_status_10m_local`, cityHash64(ServiceName, Route));

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_users_1h_local` ON CLUSTER `llm` (
    Hour DateTime CODEC(Delta(4), ZSTD(1)),
    Tenant LowCardinality(String),
    User String CODEC(ZSTD(1)),
    Calls SimpleAggregateFunction(sum, UInt64),
    PricedCalls SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Decimal(38, 12))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (Hour, Tenant, User)
 TTL Hour + toIntervalDay(400)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 013-llm-calls-10m-users-1h
CREATE TABLE IF NOT EXISTS `otel`.`llm_calls_users_1h` ON CLUSTER `llm` AS `otel`.`llm_calls_users_1h_local`
ENGINE = Distributed(`llm`, `otel`, `llm_calls_users_1h_local`, cityHash64(User));

-- 013-llm-calls-10m-users-1h
INSERT INTO `otel`.`llm_calls_10m`
SETTINGS insert_deduplication_token = 'otel.llm_calls_10m.backfill', max_insert_threads = 1, min_insert_block_size_rows = 1000000000000, min_insert_block_size_bytes = 1000000000000, max_insert_block_size = 1000000000000, distributed_foreground_insert = 1
SELECT
    toStartOfTenMinutes(c.Timestamp) AS Bucket,
    c.ServiceName AS ServiceName,
    c.Route AS Route,
    c.Provider AS Provider,
    c.RequestModel AS RequestModel,
    count() AS Calls,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.DurationMs) AS DurationMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.TtftMs) AS TtftMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.OverheadMs) AS OverheadMsQuantiles
FROM `otel`.`llm_calls` AS c
WHERE (SELECT count() FROM `otel`.`llm_calls_10m`) = 0
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel;

-- 013-llm-calls-10m-users-1h
INSERT INTO `otel`.`llm_calls_feature_status_10m`
SETTINGS insert_deduplication_token = 'otel.llm_calls_feature_status_10m.backfill', max_insert_threads = 1, min_insert_block_size_rows = 1000000000000, min_insert_block_size_bytes = 1000000000000, max_insert_block_size = 1000000000000, distributed_foreground_insert = 1
SELECT
    toStartOfTenMinutes(c.Timestamp) AS Bucket,
    c.ServiceName AS ServiceName,
    c.Route AS Route,
    c.Provider AS Provider,
    c.RequestModel AS RequestModel,
    c.Feature AS Feature,
    c.StatusCode AS StatusCode,
    c.ErrorType AS ErrorType,
    count() AS Calls,
    countIf(c.CostUsd IS NOT NULL) AS PricedCalls,
    sum(ifNull(c.CostUsd, toDecimal128(0, 12))) AS CostUsd
FROM `otel`.`llm_calls` AS c
WHERE (SELECT count() FROM `otel`.`llm_calls_feature_status_10m`) = 0
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel, Feature, StatusCode, ErrorType;

-- 013-llm-calls-10m-users-1h
INSERT INTO `otel`.`llm_calls_users_1h`
SETTINGS insert_deduplication_token = 'otel.llm_calls_users_1h.backfill', max_insert_threads = 1, min_insert_block_size_rows = 1000000000000, min_insert_block_size_bytes = 1000000000000, max_insert_block_size = 1000000000000, distributed_foreground_insert = 1
SELECT
    toStartOfHour(c.Timestamp) AS Hour,
    c.Tenant AS Tenant,
    c.User AS User,
    count() AS Calls,
    countIf(c.CostUsd IS NOT NULL) AS PricedCalls,
    sum(ifNull(c.CostUsd, toDecimal128(0, 12))) AS CostUsd
FROM `otel`.`llm_calls` AS c
WHERE (SELECT count() FROM `otel`.`llm_calls_users_1h`) = 0
GROUP BY Hour, Tenant, User;

-- 013-llm-calls-10m-users-1h
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_calls_10m_mv` ON CLUSTER `llm`
TO `otel`.`llm_calls_10m_local`
AS SELECT
    toStartOfTenMinutes(c.Timestamp) AS Bucket,
    c.ServiceName AS ServiceName,
    c.Route AS Route,
    c.Provider AS Provider,
    c.RequestModel AS RequestModel,
    count() AS Calls,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.DurationMs) AS DurationMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.TtftMs) AS TtftMsQuantiles,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.OverheadMs) AS OverheadMsQuantiles
FROM `otel`.`llm_calls_local` AS c
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel;

-- 013-llm-calls-10m-users-1h
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_calls_feature_status_10m_mv` ON CLUSTER `llm`
TO `otel`.`llm_calls_feature_status_10m_local`
AS SELECT
    toStartOfTenMinutes(c.Timestamp) AS Bucket,
    c.ServiceName AS ServiceName,
    c.Route AS Route,
    c.Provider AS Provider,
    c.RequestModel AS RequestModel,
    c.Feature AS Feature,
    c.StatusCode AS StatusCode,
    c.ErrorType AS ErrorType,
    count() AS Calls,
    countIf(c.CostUsd IS NOT NULL) AS PricedCalls,
    sum(ifNull(c.CostUsd, toDecimal128(0, 12))) AS CostUsd
FROM `otel`.`llm_calls_local` AS c
GROUP BY Bucket, ServiceName, Route, Provider, RequestModel, Feature, StatusCode, ErrorType;

-- 013-llm-calls-10m-users-1h
CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`llm_calls_users_1h_mv` ON CLUSTER `llm`
TO `otel`.`llm_calls_users_1h_local`
AS SELECT
    toStartOfHour(c.Timestamp) AS Hour,
    c.Tenant AS Tenant,
    c.User AS User,
    count() AS Calls,
    countIf(c.CostUsd IS NOT NULL) AS PricedCalls,
    sum(ifNull(c.CostUsd, toDecimal128(0, 12))) AS CostUsd
FROM `otel`.`llm_calls_local` AS c
GROUP BY Hour, Tenant, User;

-- 014-llm-evaluations-feature
ALTER TABLE `otel`.`llm_evaluations_local` ON CLUSTER `llm` ADD COLUMN IF NOT EXISTS Feature LowCardinality(String);

-- 014-llm-evaluations-feature
ALTER TABLE `otel`.`llm_evaluations` ON CLUSTER `llm`
    ADD COLUMN IF NOT EXISTS Feature LowCardinality(String);

-- 014-llm-evaluations-feature
ALTER TABLE `otel`.`llm_evaluations_local` ON CLUSTER `llm` UPDATE Feature = transform(concat(TraceId, ' ', SpanId), tupleElement((
        SELECT (groupArray(concat(TraceId, ' ', SpanId)), groupArray(toString(Feature)))
        FROM `otel`.`llm_calls_local`
        WHERE EvalSampled = 1 AND Feature != ''
          AND (TraceId, SpanId) IN (SELECT TraceId, SpanId FROM `otel`.`llm_evaluations_local` WHERE Feature = '')
    ), 1), tupleElement((
        SELECT (groupArray(concat(TraceId, ' ', SpanId)), groupArray(toString(Feature)))
        FROM `otel`.`llm_calls_local`
        WHERE EvalSampled = 1 AND Feature != ''
          AND (TraceId, SpanId) IN (SELECT TraceId, SpanId FROM `otel`.`llm_evaluations_local` WHERE Feature = '')
    ), 2), '')
WHERE Feature = ''
SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
