// The key figures: SQL shared by the dashboards' stat and table panels and by `llm-sidecar report`,
// so the terminal summary is exactly what the dashboards show. Each returns Grafana SQL (macros
// and template variables); the report expands it with every variable at "All".
import { STATUS_CODE } from '../shared/clickhouse/schema.ts';
import {
  CACHE_HIT_STATUSES_SQL,
  CALLS as C,
  EVALS as E,
  EVENT,
  EVENT_ATTR,
  FEEDBACK as F,
  GEN_AI_CLIENT_SPAN,
  ROLLUP as R,
  ROLLUP_10M as D,
  EVENTS_10M as V,
  ROLLUP_CALLS,
  ROLLUP_ERRORS,
  ROLLUP_SPEND,
  SKIP_REASON_CIRCUIT_OPEN,
  TRACES as T,
  TRACES_NESTED as N,
  TABLE_ON_COARSE,
  callFilters,
  coarseOrFine,
  evaluationFilters,
  feedbackFilters,
  hasEvent,
  rollup10mQuantile,
  rollupQuantile,
  spanFilters,
  type Tables,
} from './sql.ts';

const ERROR = `'${STATUS_CODE.Error}'`;

/** Calls in the range (rollup). */
export function requestsSql(t: Tables): string {
  return `SELECT ${ROLLUP_CALLS} AS requests
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}`;
}

/** Share of calls that failed (rollup). */
export function errorRateSql(t: Tables): string {
  return `SELECT ${ROLLUP_ERRORS} / nullIf(${ROLLUP_CALLS}, 0) AS error_rate
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}`;
}

/**
 * p95 of call duration, of time to first token (streams) and p99 of the proxy's overhead, in ms
 * (rollup t-digests): the 10-minute rollup over 2 days or more with every tenant, else the per-minute one.
 * Each branch repeats its condition in HAVING: an aggregate without GROUP BY returns a row even when nothing is read.
 */
export function latencySql(t: Tables): string {
  return coarseOrFine(
    ['tenant'],
    TABLE_ON_COARSE,
    (use) => `SELECT ${rollup10mQuantile(D.DurationMsQuantiles, 0.95)} AS p95_latency_ms,
  ${rollup10mQuantile(D.TtftMsQuantiles, 0.95)} AS p95_ttft_ms,
  ${rollup10mQuantile(D.OverheadMsQuantiles, 0.99)} AS p99_overhead_ms
FROM ${t.rollup10m}
WHERE $__timeFilter(${D.Bucket}) AND ${use}
  AND ${callFilters('', ['tenant'])}
HAVING ${use}`,
    (use) => `SELECT ${rollupQuantile(R.DurationMsQuantiles, 0.95)} AS p95_latency_ms,
  ${rollupQuantile(R.TtftMsQuantiles, 0.95)} AS p95_ttft_ms,
  ${rollupQuantile(R.OverheadMsQuantiles, 0.99)} AS p99_overhead_ms
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute}) AND ${use}
  AND ${callFilters()}
HAVING ${use}`,
  );
}

/** Cache hit rate (exact + semantic + stale over all calls), fallbacks and retries (llm_calls). */
export function resilienceSql(t: Tables): string {
  return `SELECT countIf(${C.CacheStatus} IN (${CACHE_HIT_STATUSES_SQL})) / nullIf(count(), 0) AS cache_hit_rate,
  countIf(${C.FallbackIndex} > 0) / nullIf(count(), 0) AS fallback_rate,
  countIf(${C.FallbackIndex} > 0) AS fallback_calls,
  countIf(${C.Attempts} > 1) AS retried_calls
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${callFilters()}`;
}

/** Calls turned away from a target because its circuit breaker was open (span events; their 10-minute rollup over 2 days or more with every tenant). */
export function breakerSkipsSql(t: Tables): string {
  return coarseOrFine(
    ['tenant'],
    TABLE_ON_COARSE,
    (use) => `SELECT sum(${V.Events}) AS breaker_skips
FROM ${t.events10m}
WHERE $__timeFilter(${V.Bucket}) AND ${use}
  AND ${V.EventName} = '${EVENT.targetSkipped}' AND ${V.Reason} = '${SKIP_REASON_CIRCUIT_OPEN}'
  AND ${callFilters('', ['tenant'])}
HAVING ${use}`,
    (use) => `SELECT count() AS breaker_skips
FROM ${t.traces}
ARRAY JOIN \`${N.EventsName}\` AS event, \`${N.EventsAttributes}\` AS event_attrs
WHERE $__timeFilter(${T.Timestamp}) AND ${use}
  AND ${hasEvent(EVENT.targetSkipped)}
  AND ${GEN_AI_CLIENT_SPAN}
  AND event = '${EVENT.targetSkipped}' AND event_attrs['${EVENT_ATTR.reason}'] = '${SKIP_REASON_CIRCUIT_OPEN}'
  AND ${spanFilters()}
HAVING ${use}`,
  );
}

/** Spend at list prices (rollup, exact decimal sum shown as Float64). */
export function spendSql(t: Tables): string {
  return `SELECT ${ROLLUP_SPEND} AS spend_usd
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}`;
}

/** Spend per call that has a price (rollup). */
export function costPerRequestSql(t: Tables): string {
  return `SELECT ${ROLLUP_SPEND} / nullIf(${ROLLUP_CALLS} - sum(${R.UnpricedCalls}), 0) AS usd_per_request
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}`;
}

/** Calls with token usage but no price for their model (cache hits aside): their cost is unknown, not $0. */
export function unpricedSql(t: Tables): string {
  return `SELECT countIf(${C.CostUsd} IS NULL AND ${C.InputTokens} + ${C.OutputTokens} > 0 AND ${C.CacheStatus} NOT IN (${CACHE_HIT_STATUSES_SQL})) AS unpriced_calls
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${callFilters()}`;
}

/**
 * Most frequent failures, with the latest trace of each (data link on trace_id). Two passes so that
 * the 32-byte TraceId is not read for every error of the range (`argMax(TraceId, Timestamp)` did:
 * 0.58 s at 10 M calls over 7 days, as much as all the rest): the groups first, each with the time
 * and service of its latest error (a scalar subquery, computed once), then the trace id of those
 * few rows only, found by the table's key (ServiceName, …, Timestamp).
 */
export function topErrorsSql(t: Tables, limit = 20): string {
  const groups = [C.ErrorType, C.Provider, C.RequestModel, C.Route, C.HttpStatus] as const;
  return `WITH (
  SELECT groupArray((error_type, provider, model, route, http_status, calls, last_seen, last_service))
  FROM (
    SELECT c.${C.ErrorType} AS error_type, c.${C.Provider} AS provider, c.${C.RequestModel} AS model, c.${C.Route} AS route,
      c.${C.HttpStatus} AS http_status, count() AS calls, max(c.${C.Timestamp}) AS last_seen, argMax(c.${C.ServiceName}, c.${C.Timestamp}) AS last_service
    FROM ${t.calls} AS c
    WHERE $__timeFilter(c.${C.Timestamp})
      AND c.${C.StatusCode} = ${ERROR}
      AND ${callFilters('c')}
    GROUP BY error_type, provider, model, route, http_status
    ORDER BY calls DESC, last_seen DESC
    LIMIT ${limit}
  )
) AS top_groups
SELECT g.1 AS error_type, g.2 AS provider, g.3 AS model, g.4 AS route, g.5 AS http_status, g.6 AS calls, g.7 AS last_seen, l.trace_id AS trace_id
FROM (SELECT arrayJoin(top_groups) AS g) AS tg
LEFT JOIN (
  SELECT ${C.ServiceName}, ${C.Timestamp}, ${groups.join(', ')}, any(${C.TraceId}) AS trace_id
  FROM ${t.calls} AS c
  WHERE $__timeFilter(c.${C.Timestamp})
    AND (c.${C.ServiceName}, c.${C.Timestamp}) IN (SELECT x.8, x.7 FROM (SELECT arrayJoin(top_groups) AS x))
    AND c.${C.StatusCode} = ${ERROR}
    AND ${callFilters('c')}
  GROUP BY ${C.ServiceName}, ${C.Timestamp}, ${groups.join(', ')}
) AS l ON l.${C.ServiceName} = g.8 AND l.${C.Timestamp} = g.7 AND l.${C.ErrorType} = g.1 AND l.${C.Provider} = g.2 AND l.${C.RequestModel} = g.3 AND l.${C.Route} = g.4 AND l.${C.HttpStatus} = g.5
ORDER BY calls DESC, last_seen DESC`;
}

/** Spend by one rollup dimension, largest first. */
export function spendByDimensionSql(t: Tables, dimension: typeof R.RequestModel | typeof R.Tenant | typeof R.Provider | typeof R.ServiceName, limit = 20): string {
  return `SELECT ${dimension} AS name, ${ROLLUP_CALLS} AS calls, ${ROLLUP_SPEND} AS spend_usd, sum(${R.UnpricedCalls}) AS calls_without_cost
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY name
ORDER BY spend_usd DESC, name
LIMIT ${limit}`;
}

/**
 * Average score per evaluator over the 7 days ending at the end of the range and the 7 days
 * before, with the change (week over week). Scores of failed evaluations (NULL) are left out.
 */
export function qualityWeekOverWeekSql(t: Tables, by: readonly (typeof E.RequestModel | typeof E.Route | typeof E.ServiceName)[] = []): string {
  const thisWeek = `${E.Timestamp} > $__toTime - INTERVAL 7 DAY`;
  const lastWeek = `${E.Timestamp} <= $__toTime - INTERVAL 7 DAY`;
  const keys = [E.Evaluator, ...by];
  return `SELECT ${keys.join(', ')},
  avgIf(${E.ScoreValue}, ${thisWeek}) AS this_week,
  avgIf(${E.ScoreValue}, ${lastWeek}) AS last_week,
  this_week - last_week AS change,
  countIf(${E.ScoreValue} IS NOT NULL AND ${thisWeek}) AS evaluations_this_week,
  countIf(${E.ScoreValue} IS NOT NULL AND ${lastWeek}) AS evaluations_last_week
FROM ${t.evaluations} FINAL
WHERE ${E.Timestamp} > $__toTime - INTERVAL 14 DAY AND ${E.Timestamp} <= $__toTime
  AND ${evaluationFilters(t, '$__toTime - INTERVAL 14 DAY')}
GROUP BY ${keys.join(', ')}
ORDER BY ${keys.join(', ')}`;
}

/** End-user feedback in the range: ratings and the share of thumbs up among thumbs. */
export function feedbackSql(t: Tables): string {
  return `SELECT count() AS ratings, countIf(${F.Score} > 0) / nullIf(countIf(${F.Score} != 0), 0) AS thumbs_up_ratio
FROM ${t.feedback} FINAL
WHERE $__timeFilter(${F.Timestamp})
  AND ${feedbackFilters(t)}`;
}
