// Every ClickHouse database, table and column name the product uses, in one place. The migrations
// build their DDL from these constants, the span exporter writes rows keyed by them, and the
// dashboards, the evaluator and the report import them: rename only together with every user.
//
// A column constant's value is its name (`LLM_CALLS.CostUsd === 'CostUsd'`), so SQL reads
// `${C.CostUsd}` and a typo is a compile error instead of an empty panel.

/** Object whose keys and values are the given names, typed literally. */
function names<const T extends readonly string[]>(...list: T): { readonly [K in T[number]]: K } {
  return Object.freeze(Object.fromEntries(list.map((n) => [n, n]))) as { readonly [K in T[number]]: K };
}

export const DEFAULT_DATABASE = 'otel';

// --- Tables and views ---
/** Spans, in the OpenTelemetry Collector ClickHouse exporter's layout (the collector may write here too). */
export const TABLE_OTEL_TRACES = 'otel_traces';
/** Trace id → first/last span time, for "find a trace by id" without scanning `otel_traces`. */
export const TABLE_OTEL_TRACES_TRACE_ID_TS = 'otel_traces_trace_id_ts';
export const VIEW_OTEL_TRACES_TRACE_ID_TS_MV = 'otel_traces_trace_id_ts_mv';
/** One typed row per gen_ai CLIENT span, derived from `otel_traces` by `llm_calls_mv`. */
export const TABLE_LLM_CALLS = 'llm_calls';
export const VIEW_LLM_CALLS_MV = 'llm_calls_mv';
/** Per-minute rollup of `llm_calls` for long dashboard ranges. */
export const TABLE_LLM_CALLS_1M = 'llm_calls_1m';
export const VIEW_LLM_CALLS_1M_MV = 'llm_calls_1m_mv';
/** Spans per minute and service, from `otel_traces` (migrations/012-otel-spans-1m.ts). */
export const TABLE_OTEL_SPANS_1M = 'otel_spans_1m';
export const VIEW_OTEL_SPANS_1M_MV = 'otel_spans_1m_mv';
/** Resilience span events of gen_ai CLIENT spans per 10 minutes, from `otel_traces` (migrations/012-…). */
export const TABLE_LLM_CALL_EVENTS_10M = 'llm_call_events_10m';
export const VIEW_LLM_CALL_EVENTS_10M_MV = 'llm_call_events_10m_mv';
/** 10-minute latency rollup of `llm_calls` without the tenant (migrations/013-…). */
export const TABLE_LLM_CALLS_10M = 'llm_calls_10m';
export const VIEW_LLM_CALLS_10M_MV = 'llm_calls_10m_mv';
/** 10-minute counts and spend of `llm_calls` by feature, status and error type, without the tenant (migrations/013-…). */
export const TABLE_LLM_CALLS_FEATURE_STATUS_10M = 'llm_calls_feature_status_10m';
export const VIEW_LLM_CALLS_FEATURE_STATUS_10M_MV = 'llm_calls_feature_status_10m_mv';
/** Hourly spend per tenant and user (migrations/013-…). */
export const TABLE_LLM_CALLS_USERS_1H = 'llm_calls_users_1h';
export const VIEW_LLM_CALLS_USERS_1H_MV = 'llm_calls_users_1h_mv';
/** One row per evaluated call × evaluator × evaluator version (ReplacingMergeTree: re-runs replace). */
export const TABLE_LLM_EVALUATIONS = 'llm_evaluations';
/** End-user feedback (thumbs / scores) on a call. */
export const TABLE_LLM_FEEDBACK = 'llm_feedback';
/** Judge agreement with human labels per evaluator version and labelled set (`llm-sidecar evaluator calibrate`). */
export const TABLE_LLM_EVAL_CALIBRATION = 'llm_eval_calibration';
/** Which numbered migrations have been applied. */
export const TABLE_SCHEMA_MIGRATIONS = 'schema_migrations';

// --- otel_traces (collector layout; see migrations/001-otel-traces.ts) ---
export const OTEL_TRACES = names(
  'Timestamp',
  'TraceId',
  'SpanId',
  'ParentSpanId',
  'TraceState',
  'SpanName',
  'SpanKind',
  'ServiceName',
  'ResourceAttributes',
  'ScopeName',
  'ScopeVersion',
  'SpanAttributes',
  'Duration',
  'StatusCode',
  'StatusMessage',
  'Events',
  'Links',
);

/** Sub-columns of the Nested `Events` / `Links` columns, as insert keys and in SQL (`Events.Name`). */
export const OTEL_TRACES_NESTED = Object.freeze({
  EventsTimestamp: 'Events.Timestamp',
  EventsName: 'Events.Name',
  EventsAttributes: 'Events.Attributes',
  LinksTraceId: 'Links.TraceId',
  LinksSpanId: 'Links.SpanId',
  LinksTraceState: 'Links.TraceState',
  LinksAttributes: 'Links.Attributes',
} as const);

export const OTEL_TRACES_TRACE_ID_TS = names('TraceId', 'Start', 'End');

/**
 * The values the collector writes in `SpanKind` / `StatusCode`. Older collector builds wrote the
 * protobuf enum names; queries should match both (see `SPAN_KIND_CLIENT_VALUES_SQL`).
 */
export const SPAN_KIND = Object.freeze({
  Unspecified: 'Unspecified',
  Internal: 'Internal',
  Server: 'Server',
  Client: 'Client',
  Producer: 'Producer',
  Consumer: 'Consumer',
} as const);
export const STATUS_CODE = Object.freeze({ Unset: 'Unset', Ok: 'Ok', Error: 'Error' } as const);
export const SPAN_KIND_CLIENT_VALUES_SQL = `'${SPAN_KIND.Client}', 'SPAN_KIND_CLIENT'`;
export const STATUS_CODE_ERROR_VALUES_SQL = `'${STATUS_CODE.Error}', 'STATUS_CODE_ERROR'`;
export const STATUS_CODE_OK_VALUES_SQL = `'${STATUS_CODE.Ok}', 'STATUS_CODE_OK'`;

// --- llm_calls (migrations/003-llm-calls.ts) ---
/**
 * `StatusCode` is normalised to Ok / Error / Unset. `CostUsd` is NULL when the call had no price
 * (cost unknown — never shown as $0). `CacheSavedUsd` is what a cache hit saved (the cost of the
 * call whose answer it served), NULL on calls that were not hits or whose saving is unknown.
 * `TtftMs` is NULL when no first chunk was observed.
 * `InputMessages` / `OutputMessages` / `SystemInstructions` are filled on evaluation-sampled rows
 * only and expire sooner than the row (column TTL).
 *
 * Evaluator paging (sampled rows in time order, cursor = last (Timestamp, SpanId) seen):
 *   SELECT … FROM otel.llm_calls
 *   WHERE EvalSampled = 1 AND Timestamp >= {from:DateTime64(9)} AND (Timestamp, SpanId) > ({ts:DateTime64(9)}, {span:String})
 *   ORDER BY Timestamp, SpanId LIMIT 100
 * Partition pruning (by day) and the EvalSampled minmax index keep it to the granules that matter.
 */
export const LLM_CALLS = names(
  'Timestamp',
  'TraceId',
  'SpanId',
  'ParentSpanId',
  'ServiceName',
  'Route',
  'Tenant',
  'User',
  'Feature',
  'Provider',
  'ProviderConfigName',
  'RequestModel',
  'ResponseModel',
  'Operation',
  'Stream',
  'StatusCode',
  'ErrorType',
  'HttpStatus',
  'DurationMs',
  'TtftMs',
  'OverheadMs',
  'InputTokens',
  'OutputTokens',
  'CacheReadTokens',
  'CacheWriteTokens',
  'ReasoningTokens',
  'CostUsd',
  'CacheStatus',
  'Attempts',
  'FallbackIndex',
  'EvalSampled',
  'InputMessages',
  'OutputMessages',
  'SystemInstructions',
  // migrations/009-llm-calls-cache-saved-usd.ts
  'CacheSavedUsd',
);

// --- llm_calls_1m (migrations/004-llm-calls-1m.ts) ---
/**
 * Reading the rollup: `countMerge(Calls)`, `countIfMerge(Errors)`, plain `sum(…)` for the token,
 * cost and UnpricedCalls columns (SimpleAggregateFunction), and
 * `quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(DurationMsQuantiles)[i]` with i the 1-based index
 * of the level in ROLLUP_QUANTILE_LEVELS (p95 = [3]). Always GROUP BY: rows of one minute merge lazily.
 */
export const LLM_CALLS_1M = names(
  'Minute',
  'ServiceName',
  'Route',
  'Provider',
  'RequestModel',
  'Tenant',
  'Calls',
  'Errors',
  'InputTokens',
  'OutputTokens',
  'CacheReadTokens',
  'CacheWriteTokens',
  'ReasoningTokens',
  'CostUsd',
  'UnpricedCalls',
  'DurationMsQuantiles',
  'TtftMsQuantiles',
  'OverheadMsQuantiles',
);
export const ROLLUP_QUANTILE_LEVELS = [0.5, 0.9, 0.95, 0.99] as const;
export const ROLLUP_QUANTILES_SQL = ROLLUP_QUANTILE_LEVELS.join(', ');

// --- Rollups for dashboards at tens of millions of calls (migrations 012, 013) ---
/** Per minute × service: `sum(Spans)`, `max(LastSpan)` (SimpleAggregateFunction; always GROUP BY). */
export const OTEL_SPANS_1M = names('Minute', 'ServiceName', 'Spans', 'LastSpan');
/** Per 10 minutes × service, route, provider, model, event name, its `reason` and `target` attributes: `sum(Events)`. */
export const LLM_CALL_EVENTS_10M = names('Bucket', 'ServiceName', 'Route', 'Provider', 'RequestModel', 'EventName', 'Reason', 'Target', 'Events');
/**
 * Per 10 minutes × service, route, provider, model (no tenant): `sum(Calls)` and the same t-digest
 * quantile states as llm_calls_1m (`quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(…)`). Few keys on
 * purpose: merging t-digests costs per row.
 */
export const LLM_CALLS_10M = names('Bucket', 'ServiceName', 'Route', 'Provider', 'RequestModel', 'Calls', 'DurationMsQuantiles', 'TtftMsQuantiles', 'OverheadMsQuantiles');
/** Per 10 minutes × service, route, provider, model, feature, status, error type (no tenant): `sum(…)` of Calls, PricedCalls, CostUsd. */
export const LLM_CALLS_FEATURE_STATUS_10M = names('Bucket', 'ServiceName', 'Route', 'Provider', 'RequestModel', 'Feature', 'StatusCode', 'ErrorType', 'Calls', 'PricedCalls', 'CostUsd');
/** Per hour × tenant × user: `sum(Calls)`, `sum(PricedCalls)`, `sum(CostUsd)`. */
export const LLM_CALLS_USERS_1H = names('Hour', 'Tenant', 'User', 'Calls', 'PricedCalls', 'CostUsd');

// --- llm_evaluations (migrations/005-llm-evaluations.ts) ---
/**
 * `Timestamp` is the evaluated call's time (copy it from llm_calls so re-runs land on the same key);
 * `EvaluatedAt` is the version column: the latest evaluation of a call × evaluator × version wins.
 * Read with `FINAL` (or argMax by EvaluatedAt) for exact counts.
 */
export const LLM_EVALUATIONS = names(
  'Timestamp',
  'EvaluatedAt',
  'TraceId',
  'SpanId',
  'ServiceName',
  'Route',
  'RequestModel',
  'Evaluator',
  'EvaluatorVersion',
  'ScoreValue',
  'ScoreLabel',
  'Explanation',
  'ErrorType',
  'JudgeModel',
  'JudgeInputTokens',
  'JudgeOutputTokens',
  'JudgeCostUsd',
  // The call's feature (llm_calls.Feature), copied when the score is written (migration 014).
  'Feature',
);
/** ScoreLabel of a row whose evaluator does not apply to the call: no score, no error, not an evaluation to count. */
export const SCORE_LABEL_NOT_APPLICABLE = 'not_applicable';

// --- llm_eval_calibration (migrations/007-llm-eval-calibration.ts) ---
/** One row per evaluator × version × labelled set (LabelsHash); a re-run replaces it (latest RunAt wins). */
export const LLM_EVAL_CALIBRATION = names(
  'RunAt',
  'Evaluator',
  'EvaluatorVersion',
  'JudgeModel',
  'LabelsFile',
  'LabelsHash',
  'OutputType',
  'Examples',
  'Judged',
  'Errors',
  'Accuracy',
  'Kappa',
  'Spearman',
  'Mae',
  'JudgeCostUsd',
  'Details',
);

// --- llm_feedback (migrations/006-llm-feedback.ts, 010-llm-feedback-name-label.ts) ---
/**
 * `Score` is −1 / +1 for thumbs, or a small integer scale (0 for a label); `Name` the kind of
 * feedback (`thumbs`, `stars`…; '' from the library before 010); `Label` a label value. A newer row
 * of the same key (service, trace, span, user, source, name) replaces.
 */
export const LLM_FEEDBACK = names('Timestamp', 'TraceId', 'SpanId', 'ServiceName', 'User', 'Score', 'Comment', 'Source', 'Name', 'Label');

export const SCHEMA_MIGRATIONS = names('Id', 'Name', 'AppliedAt');

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws unless `name` is a plain identifier (database names come from configuration). */
export function assertIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid ClickHouse ${what} name ${JSON.stringify(name)}: use letters, digits and _`);
  return name;
}

/** `database`.`table`, quoted. */
export function qualified(database: string, table: string): string {
  return `\`${assertIdentifier(database, 'database')}\`.\`${assertIdentifier(table, 'table')}\``;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Throws unless `name` is `table` or `database.table` with plain identifiers (both drivers take it as written). */
export function assertTableName(name: string): string {
  if (!TABLE_NAME.test(name)) throw new Error(`invalid ClickHouse table name ${JSON.stringify(name)}: use table or database.table`);
  return name;
}
