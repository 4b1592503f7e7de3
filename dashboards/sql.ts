// SQL building blocks shared by the dashboards, the alert rules and the report. Every table and
// column name comes from shared/clickhouse/schema.ts and every attribute name from
// shared/telemetry/semconv.ts: a rename there changes the generated SQL (and the committed files
// then differ from a fresh generation, which a test catches).
import { EVENT_LLM_SIDECAR_CASCADE_ESCALATED, EVENT_LLM_SIDECAR_FALLBACK, EVENT_LLM_SIDECAR_RETRY, EVENT_LLM_SIDECAR_TARGET_SKIPPED } from '../shared/telemetry/semconv.ts';
import {
  LLM_CALLS as C,
  LLM_CALLS_1M as R,
  LLM_CALLS_10M as D,
  LLM_CALLS_FEATURE_STATUS_10M as O,
  LLM_CALLS_USERS_1H as U,
  LLM_CALL_EVENTS_10M as V,
  OTEL_SPANS_1M as S,
  LLM_EVALUATIONS as E,
  LLM_EVAL_CALIBRATION as K,
  LLM_FEEDBACK as F,
  OTEL_TRACES as T,
  OTEL_TRACES_NESTED as N,
  OTEL_TRACES_TRACE_ID_TS as L,
  ROLLUP_QUANTILE_LEVELS,
  ROLLUP_QUANTILES_SQL,
  SPAN_KIND_CLIENT_VALUES_SQL,
  STATUS_CODE_ERROR_VALUES_SQL,
  STATUS_CODE_OK_VALUES_SQL,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_1M,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_FEATURE_STATUS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  TABLE_OTEL_SPANS_1M,
  TABLE_LLM_CALL_EVENTS_10M,
  TABLE_LLM_EVALUATIONS,
  TABLE_LLM_EVAL_CALIBRATION,
  TABLE_LLM_FEEDBACK,
  TABLE_OTEL_TRACES,
  TABLE_OTEL_TRACES_TRACE_ID_TS,
  qualified,
} from '../shared/clickhouse/schema.ts';
import * as A from '../shared/telemetry/semconv.ts';
import { ALL_SENTINEL, DATASOURCE, Format, target, type DataLink, type FieldOverride } from './builder.ts';

/** Qualified table names for one database. */
export interface Tables {
  db: string;
  calls: string;
  rollup: string;
  /** 10-minute latency rollup without the tenant (migration 013). */
  rollup10m: string;
  /** 10-minute counts and spend by feature, status and error type, without the tenant (migration 013). */
  outcomes10m: string;
  /** Hourly spend per tenant and user (migration 013). */
  users1h: string;
  /** Spans per minute and service (migration 012). */
  spans1m: string;
  /** Resilience span events per 10 minutes (migration 012). */
  events10m: string;
  traces: string;
  traceIdTs: string;
  evaluations: string;
  feedback: string;
  calibration: string;
}

export function tables(db: string): Tables {
  return {
    db,
    calls: qualified(db, TABLE_LLM_CALLS),
    rollup: qualified(db, TABLE_LLM_CALLS_1M),
    rollup10m: qualified(db, TABLE_LLM_CALLS_10M),
    outcomes10m: qualified(db, TABLE_LLM_CALLS_FEATURE_STATUS_10M),
    users1h: qualified(db, TABLE_LLM_CALLS_USERS_1H),
    spans1m: qualified(db, TABLE_OTEL_SPANS_1M),
    events10m: qualified(db, TABLE_LLM_CALL_EVENTS_10M),
    traces: qualified(db, TABLE_OTEL_TRACES),
    traceIdTs: qualified(db, TABLE_OTEL_TRACES_TRACE_ID_TS),
    evaluations: qualified(db, TABLE_LLM_EVALUATIONS),
    feedback: qualified(db, TABLE_LLM_FEEDBACK),
    calibration: qualified(db, TABLE_LLM_EVAL_CALIBRATION),
  };
}

// --- Span events on the gen_ai CLIENT span (otel_traces.Events), named in shared/telemetry/semconv.ts ---

export const EVENT = Object.freeze({
  retry: EVENT_LLM_SIDECAR_RETRY,
  fallback: EVENT_LLM_SIDECAR_FALLBACK,
  targetSkipped: EVENT_LLM_SIDECAR_TARGET_SKIPPED,
  cascadeEscalated: EVENT_LLM_SIDECAR_CASCADE_ESCALATED,
} as const);
/** Attributes of those events. */
export const EVENT_ATTR = Object.freeze({ target: 'target', reason: 'reason' } as const);
/** `reason` of a `llm_sidecar.target.skipped` event whose target's circuit breaker was open. */
export const SKIP_REASON_CIRCUIT_OPEN = 'circuit_open';

/** `llm_sidecar.cache.status` values (the `x-llm-sidecar-cache` response header's, ARCHITECTURE.md §3). */
export const CACHE_STATUS = Object.freeze({ miss: 'miss', hit: 'hit', semanticHit: 'semantic-hit', stale: 'stale', bypass: 'bypass' } as const);
/** Statuses where the answer came from the sidecar's cache instead of a provider. */
export const CACHE_HIT_STATUSES_SQL = [CACHE_STATUS.hit, CACHE_STATUS.semanticHit, CACHE_STATUS.stale].map((s) => `'${s}'`).join(', ');

/** Evaluation scores are read on a 0..1 scale; a score at or above this counts as a "good" answer. */
export const SCORE_PASS = 0.5;

// --- Expressions ---

export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `SpanAttributes['name']` of otel_traces (optionally of a table alias). */
export function spanAttr(name: string, alias = ''): string {
  return `${alias ? `${alias}.` : ''}${T.SpanAttributes}[${sqlString(name)}]`;
}

/** 1-based index of a level in the rollup's quantile arrays (p95 → 3). */
export function quantileIndex(level: (typeof ROLLUP_QUANTILE_LEVELS)[number]): number {
  return ROLLUP_QUANTILE_LEVELS.indexOf(level) + 1;
}

/** `quantilesTDigestMerge(…)(column)[i]` on the rollup. */
export function rollupQuantile(column: typeof R.DurationMsQuantiles | typeof R.TtftMsQuantiles | typeof R.OverheadMsQuantiles, level: (typeof ROLLUP_QUANTILE_LEVELS)[number]): string {
  return `quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${column})[${quantileIndex(level)}]`;
}

/** Time bucket on the rollup: Grafana's interval, but at least one minute (the rollup's resolution). */
export const ROLLUP_BUCKET_S = 'greatest($__interval_s, 60)';
export const ROLLUP_TIME = `toStartOfInterval(${R.Minute}, INTERVAL ${ROLLUP_BUCKET_S} second)`;

/** Rollup spend as Float64 (what panels plot). */
export const ROLLUP_SPEND = `toFloat64(sum(${R.CostUsd}))`;
export const ROLLUP_CALLS = `countMerge(${R.Calls})`;
export const ROLLUP_ERRORS = `countIfMerge(${R.Errors})`;

/**
 * otel_traces rows whose span has the attribute `name`. Reads only the Map's `keys` subcolumn:
 * `mapContains` reads keys and values (ClickHouse 26 does not rewrite it to the subcolumn), which on
 * 10 M gen_ai spans is seconds instead of a fraction of one (test/dashboards/bench-panels.ts).
 */
export function spanHasAttr(name: string): string {
  return `has(${T.SpanAttributes}.keys, ${sqlString(name)})`;
}

/** otel_traces rows that are gen_ai CLIENT spans (what llm_calls is derived from). */
export const GEN_AI_CLIENT_SPAN = `${T.SpanKind} IN (${SPAN_KIND_CLIENT_VALUES_SQL}) AND ${spanHasAttr(A.ATTR_GEN_AI_OPERATION_NAME)}`;

/**
 * otel_traces rows with at least one of these span events: ClickHouse evaluates it on the small
 * `Events.Name` column first and skips the granules without such an event (attempt and SERVER
 * spans, most gen_ai spans) before reading the larger columns; the ARRAY JOIN still picks the events.
 */
export function hasEvent(...names: string[]): string {
  return names.length === 1 ? `has(\`${N.EventsName}\`, ${sqlString(names[0] as string)})` : `hasAny(\`${N.EventsName}\`, [${names.map(sqlString).join(', ')}])`;
}

// --- Template-variable filters ---

/** The dashboard variables every dashboard has, with the llm_calls column each filters. */
export const CALL_VARIABLES = [
  { name: 'service', label: 'Service', column: C.ServiceName, attribute: undefined },
  { name: 'route', label: 'Route', column: C.Route, attribute: A.ATTR_LLM_SIDECAR_ROUTE },
  { name: 'provider', label: 'Provider', column: C.Provider, attribute: A.ATTR_GEN_AI_PROVIDER_NAME },
  { name: 'model', label: 'Model', column: C.RequestModel, attribute: A.ATTR_GEN_AI_REQUEST_MODEL },
  { name: 'tenant', label: 'Tenant', column: C.Tenant, attribute: A.ATTR_LLM_SIDECAR_TENANT },
] as const;
export type CallVariable = (typeof CALL_VARIABLES)[number]['name'];

/**
 * `expr` restricted to the variable's selection, in a form that works once Grafana has expanded
 * the variable in the browser: with "All" the custom all value makes it `('__all__' IN ('__all__') OR …)`
 * (true, no list of every option), otherwise `(… OR expr IN ('a','b'))`. Values are escaped by
 * the singlequote format. Never in alert rules (Grafana's alerting has no template variables).
 */
export function variableFilter(expr: string, variableName: string): string {
  const v = `\${${variableName}:singlequote}`;
  return `(${sqlString(ALL_SENTINEL)} IN (${v}) OR ${expr} IN (${v}))`;
}

/** Every call variable on llm_calls (or the rollup: same column names), optionally with a table alias; `except`: variables the table lacks. */
export function callFilters(alias = '', except: readonly CallVariable[] = []): string {
  const a = alias ? `${alias}.` : '';
  return CALL_VARIABLES.filter((v) => !except.includes(v.name))
    .map((v) => variableFilter(`${a}${v.column}`, v.name))
    .join('\n  AND ');
}

// --- Coarse rollups for long ranges (migrations 012, 013) ---

/** The 10-minute rollup's resolution, in seconds. */
export const ROLLUP_10M_S = 600;
/** Ranges at least this long let stat and table panels read the coarse rollups (their edges are then at most 10 minutes of ≥ 2 days off). */
export const LONG_RANGE_S = 2 * 86_400;
/** A time series may read the 10-minute rollup when Grafana's own interval is at least 10 minutes (its buckets are then no coarser than the panel's). */
export const SERIES_ON_10M = `$__interval_s >= ${ROLLUP_10M_S}`;
export const TABLE_ON_COARSE = `dateDiff('second', $__fromTime, $__toTime) >= ${LONG_RANGE_S}`;
/** Time bucket on the 10-minute rollup. */
export const ROLLUP_10M_TIME = `toStartOfInterval(${D.Bucket}, INTERVAL greatest($__interval_s, ${ROLLUP_10M_S}) second)`;

/** True when every listed variable is at "All" (constant once Grafana has expanded the variables). */
export function allAtAll(names: readonly CallVariable[]): string {
  return names.map((n) => `${sqlString(ALL_SENTINEL)} IN (\${${n}:singlequote})`).join(' AND ');
}

/**
 * One query from one of two sources with the same columns: `coarse` (a rollup that lacks the
 * variables `missing`) when those variables are all at "All" and `when` holds, `fine` otherwise.
 * The choice is a constant once Grafana has expanded the variables and macros, so ClickHouse
 * folds it and reads only one table. `orderBy` sorts the union.
 */
export function coarseOrFine(missing: readonly CallVariable[], when: string, coarse: (use: string) => string, fine: (use: string) => string, orderBy?: string): string {
  const use = `(${missing.length > 0 ? `${allAtAll(missing)} AND ` : ''}${when})`;
  return `SELECT * FROM (
${coarse(use)}
UNION ALL
${fine(`NOT ${use}`)}
)${orderBy ? `\nORDER BY ${orderBy}` : ''}`;
}

/** `quantilesTDigestMerge(…)(column)[i]` on the 10-minute rollup. */
export function rollup10mQuantile(column: typeof D.DurationMsQuantiles | typeof D.TtftMsQuantiles | typeof D.OverheadMsQuantiles, level: (typeof ROLLUP_QUANTILE_LEVELS)[number]): string {
  return `quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${column})[${quantileIndex(level)}]`;
}

/** The call variables on otel_traces (service column, the rest from span attributes). */
export function spanFilters(): string {
  return CALL_VARIABLES.map((v) => variableFilter(v.attribute === undefined ? T.ServiceName : spanAttr(v.attribute), v.name)).join('\n  AND ');
}

/**
 * Call variables a table does not carry itself, applied through llm_calls by span id: true when
 * they are all "All", else `spanIdColumn IN (calls matching them)`. `since` bounds the calls read.
 */
export function viaCalls(t: Tables, spanIdColumn: string, names: readonly CallVariable[], since: string): string {
  const vars = CALL_VARIABLES.filter((v) => names.includes(v.name));
  const allAll = vars.map((v) => `${sqlString(ALL_SENTINEL)} IN (\${${v.name}:singlequote})`).join(' AND ');
  return `((${allAll}) OR ${spanIdColumn} IN (SELECT ${C.SpanId} FROM ${t.calls} WHERE ${C.Timestamp} >= ${since} AND ${vars.map((v) => variableFilter(v.column, v.name)).join(' AND ')}))`;
}

/** Filters of llm_evaluations: its own service/route/model columns, provider and tenant through llm_calls. */
export function evaluationFilters(t: Tables, since = '$__fromTime', alias = ''): string {
  const a = alias ? `${alias}.` : '';
  return [
    variableFilter(`${a}${E.ServiceName}`, 'service'),
    variableFilter(`${a}${E.Route}`, 'route'),
    variableFilter(`${a}${E.RequestModel}`, 'model'),
    variableFilter(`${a}${E.Evaluator}`, 'evaluator'),
    viaCalls(t, `${a}${E.SpanId}`, ['provider', 'tenant'], since),
  ].join('\n  AND ');
}

/** Filters of llm_feedback (given after the call: the calls are looked up from 7 days earlier). */
export function feedbackFilters(t: Tables): string {
  return [variableFilter(F.ServiceName, 'service'), viaCalls(t, F.SpanId, ['route', 'provider', 'model', 'tenant'], '$__fromTime - INTERVAL 7 DAY')].join('\n  AND ');
}

// --- Budgets ---

/** Monthly USD budgets by tenant (from the `budgets` configuration; see budgets.ts). */
export interface MonthlyBudgets {
  tenants: Record<string, number>;
  /** For tenants not listed; undefined = no budget (the tenant is left out of budget panels and rules). */
  defaultUsd?: number;
}

/** A Nullable(Float64) expression: the monthly budget of the tenant in `tenantExpr`. */
export function budgetExpr(tenantExpr: string, budgets: MonthlyBudgets): string {
  const dflt = budgets.defaultUsd === undefined ? `CAST(NULL, 'Nullable(Float64)')` : `CAST(${budgets.defaultUsd}, 'Nullable(Float64)')`;
  const names = Object.keys(budgets.tenants).sort();
  if (names.length === 0) return dflt;
  const values = names.map((n) => `CAST(${budgets.tenants[n]}, 'Nullable(Float64)')`);
  return `transform(toString(${tenantExpr}), [${names.map(sqlString).join(', ')}], [${values.join(', ')}], ${dflt})`;
}

/** Start of the current UTC calendar month / day, as DateTime (budgets reset at UTC boundaries). */
export const MONTH_START_UTC = `toDateTime(toStartOfMonth(now('UTC')), 'UTC')`;
export const DAY_START_UTC = `toStartOfDay(now('UTC'))`;
/** Seconds elapsed in / total seconds of the current UTC month. */
export const MONTH_ELAPSED_S = `greatest(dateDiff('second', ${MONTH_START_UTC}, now('UTC')), 1)`;
export const MONTH_TOTAL_S = `dateDiff('second', ${MONTH_START_UTC}, ${MONTH_START_UTC} + INTERVAL 1 MONTH)`;
export const DAYS_IN_MONTH = `dateDiff('day', ${MONTH_START_UTC}, ${MONTH_START_UTC} + INTERVAL 1 MONTH)`;

// --- Traces ---

/**
 * The spans of one trace in the frame shape of Grafana's trace view (traceID, spanID,
 * parentSpanID, serviceName, operationName, startTime and duration in ms, tags, serviceTags,
 * kind, statusCode, statusMessage, logs = span events), read from otel_traces. The lookup table
 * narrows the scan to the trace's time window, as the plugin's own trace-ID query does.
 */
export function traceSql(t: Tables, traceIdLiteral: string): string {
  const tags = (col: string) => `arrayMap(k -> map('key', k, 'value', ${col}[k]), mapKeys(${col}))`;
  return `WITH ${traceIdLiteral} AS trace_id,
  (SELECT min(${L.Start}) FROM ${t.traceIdTs} WHERE ${L.TraceId} = trace_id) AS trace_start,
  (SELECT max(${L.End}) + 1 FROM ${t.traceIdTs} WHERE ${L.TraceId} = trace_id) AS trace_end
SELECT
  ${T.TraceId} AS traceID,
  ${T.SpanId} AS spanID,
  ${T.ParentSpanId} AS parentSpanID,
  ${T.ServiceName} AS serviceName,
  ${T.SpanName} AS operationName,
  multiply(toUnixTimestamp64Nano(${T.Timestamp}), 0.000001) AS startTime,
  multiply(${T.Duration}, 0.000001) AS duration,
  ${tags(T.SpanAttributes)} AS tags,
  ${tags(T.ResourceAttributes)} AS serviceTags,
  lower(replaceOne(${T.SpanKind}, 'SPAN_KIND_', '')) AS kind,
  multiIf(${T.StatusCode} IN (${STATUS_CODE_ERROR_VALUES_SQL}), 2, ${T.StatusCode} IN (${STATUS_CODE_OK_VALUES_SQL}), 1, 0) AS statusCode,
  ${T.StatusMessage} AS statusMessage,
  ${T.ScopeName} AS instrumentationLibraryName,
  ${T.ScopeVersion} AS instrumentationLibraryVersion,
  arrayMap((ts, name, attrs) -> CAST(tuple(multiply(toUnixTimestamp64Nano(ts), 0.000001), name, ${tags('attrs')}), 'Tuple(timestamp Float64, name String, fields Array(Map(String, String)))'), \`${N.EventsTimestamp}\`, \`${N.EventsName}\`, \`${N.EventsAttributes}\`) AS logs
FROM ${t.traces}
WHERE ${T.TraceId} = trace_id AND ${T.Timestamp} >= trace_start AND ${T.Timestamp} <= trace_end
ORDER BY startTime
LIMIT 1000`;
}

/** Grafana's placeholder for the clicked cell's value in a data link. */
export const CELL_VALUE = '${__value.raw}';

/**
 * A link from a TraceId cell to Explore showing that trace (format 3 = traces) from otel_traces.
 * The JSON of the Explore pane is URL-encoded except the `${__value.raw}` placeholder, which
 * Grafana replaces with the cell's trace id when the link is clicked.
 */
export function traceLink(t: Tables): DataLink {
  const query = target(traceSql(t, `'${CELL_VALUE}'`), Format.Traces);
  const panes = { trace: { datasource: DATASOURCE.uid, queries: [query], range: { from: 'now-30d', to: 'now' } } };
  const encoded = encodeURIComponent(JSON.stringify(panes)).split(encodeURIComponent(CELL_VALUE)).join(CELL_VALUE);
  return { title: 'Open trace ${__value.raw}', url: `/explore?schemaVersion=1&orgId=1&panes=${encoded}`, targetBlank: false };
}

/** Field override putting the trace link on the TraceId column of a table. */
export function traceIdOverride(t: Tables, column: string = C.TraceId): FieldOverride {
  return { matcher: { id: 'byName', options: column }, properties: [{ id: 'links', value: [traceLink(t)] }] };
}

// --- Small helpers for column lists ---

export { C as CALLS, R as ROLLUP, D as ROLLUP_10M, O as OUTCOMES_10M, U as USERS_1H, S as SPANS_1M, V as EVENTS_10M, E as EVALS, K as CALIBRATION, F as FEEDBACK, T as TRACES, N as TRACES_NESTED };
