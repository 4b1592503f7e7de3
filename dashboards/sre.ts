// SRE dashboard: traffic, errors, latency and time to first token, upstream status codes,
// retries / fallbacks / circuit breakers, cache, the proxy's own overhead, telemetry freshness and
// the top errors with links to their traces.
import { ROLLUP_QUANTILES_SQL, STATUS_CODE } from '../shared/clickhouse/schema.ts';
import { Format, dashboard, panel, target, text, type Dashboard } from './builder.ts';
import { breakerSkipsSql, errorRateSql, latencySql, requestsSql, resilienceSql, topErrorsSql } from './queries.ts';
import {
  CACHE_STATUS,
  CALLS as C,
  EVENT,
  EVENT_ATTR,
  GEN_AI_CLIENT_SPAN,
  ROLLUP as R,
  ROLLUP_10M as D,
  OUTCOMES_10M as O,
  EVENTS_10M as V,
  ROLLUP_10M_TIME,
  ROLLUP_BUCKET_S,
  ROLLUP_CALLS,
  ROLLUP_TIME,
  SERIES_ON_10M,
  SKIP_REASON_CIRCUIT_OPEN,
  SPANS_1M as S,
  TABLE_ON_COARSE,
  TRACES as T,
  TRACES_NESTED as N,
  callFilters,
  coarseOrFine,
  hasEvent,
  rollup10mQuantile,
  rollupQuantile,
  spanFilters,
  traceIdOverride,
  variableFilter,
  type Tables,
} from './sql.ts';
import { callVariables } from './variables.ts';

export const SRE_UID = 'llm-sidecar-sre';

const ERROR = `'${STATUS_CODE.Error}'`;
const byLabel = (label: string) => ({ displayName: `\${__field.labels.${label}}` });

/** Panel titles the alert rules point at (annotation __panelId__). */
export const SRE_PANELS = {
  errorRate: 'Error rate by error type and provider',
  latencyByRoute: 'p95 latency by route and model',
  ttftByRoute: 'p95 time to first token by route and model',
  retries: 'Retries and fallbacks',
  breaker: 'Circuit breakers: calls turned away by an open breaker',
  freshness: 'Seconds since the last span, per service',
} as const;

/**
 * A p95 per interval and route · model from one of the rollup's quantile states (its series label
 * is built per group, after the GROUP BY). Groups with no value (TTFT of calls that never streamed)
 * are left out.
 */
function p95ByRouteAndModelSql(t: Tables, quantiles: Parameters<typeof rollupQuantile>[0]): string {
  const series = (inner: string) => `SELECT time, concat(route, ' · ', model) AS series, p95_ms FROM (
${inner}
)
WHERE isFinite(p95_ms)`;
  return coarseOrFine(
    ['tenant'],
    SERIES_ON_10M,
    (use) =>
      series(`  SELECT ${ROLLUP_10M_TIME} AS time, ${D.Route} AS route, ${D.RequestModel} AS model, ${rollup10mQuantile(quantiles, 0.95)} AS p95_ms
  FROM ${t.rollup10m}
  WHERE $__timeFilter(${D.Bucket}) AND ${use}
    AND ${callFilters('', ['tenant'])}
  GROUP BY time, route, model`),
    (use) =>
      series(`  SELECT ${ROLLUP_TIME} AS time, ${R.Route} AS route, ${R.RequestModel} AS model, ${rollupQuantile(quantiles, 0.95)} AS p95_ms
  FROM ${t.rollup}
  WHERE $__timeFilter(${R.Minute}) AND ${use}
    AND ${callFilters()}
  GROUP BY time, route, model`),
    'time',
  );
}

/** Percentile series (name → level) of one quantile column: the 10-minute rollup when it is fine enough and every tenant is selected, else the per-minute one. */
function percentileSeriesSql(t: Tables, quantiles: Parameters<typeof rollupQuantile>[0], levels: Record<string, Parameters<typeof rollupQuantile>[1]>): string {
  const cols = (q: typeof rollupQuantile) => Object.entries(levels).map(([name, level]) => `  ${q(quantiles, level)} AS ${name}`).join(',\n');
  return coarseOrFine(
    ['tenant'],
    SERIES_ON_10M,
    (use) => `SELECT ${ROLLUP_10M_TIME} AS time,
${cols(rollup10mQuantile)}
FROM ${t.rollup10m}
WHERE $__timeFilter(${D.Bucket}) AND ${use}
  AND ${callFilters('', ['tenant'])}
GROUP BY time`,
    (use) => `SELECT ${ROLLUP_TIME} AS time,
${cols(rollupQuantile)}
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute}) AND ${use}
  AND ${callFilters()}
GROUP BY time`,
    'time',
  );
}

export function sreDashboard(t: Tables): Dashboard {
  const stat = (title: string, description: string, sql: string, unit: string, w = 4) => panel({ type: 'stat', title, description, w, h: 4, unit, targets: [target(sql, Format.Table)] });

  const overview = [
    stat('Requests', 'LLM calls (gen_ai CLIENT spans) in the time range, from the per-minute rollup.', requestsSql(t), 'short'),
    stat('Error rate', 'Failed calls / all calls in the time range (rollup).', errorRateSql(t), 'percentunit'),
    panel({
      type: 'stat',
      title: 'Latency p95 · TTFT p95 · overhead p99',
      description: 'p95 of call duration and of time to first token (streams), p99 of the time the sidecar itself adds, in ms (rollup t-digests: approximate).',
      w: 8,
      h: 4,
      unit: 'ms',
      targets: [target(latencySql(t), Format.Table)],
    }),
    panel({
      type: 'stat',
      title: 'Cache hit rate · fallback rate',
      description: 'Answers from the sidecar cache (exact, semantic or stale) and calls served by a later target of their chain, as shares of all calls.',
      w: 8,
      h: 4,
      unit: 'percentunit',
      targets: [target(resilienceSql(t), Format.Table)],
      options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/_rate$/', values: false } },
    }),
  ];

  const traffic = [
    panel({
      type: 'timeseries',
      title: 'Request rate by provider',
      description: 'Calls per second by provider (rollup; buckets of at least one minute).',
      w: 12,
      h: 8,
      unit: 'reqps',
      defaults: byLabel('provider'),
      targets: [
        target(
          `SELECT ${ROLLUP_TIME} AS time, ${R.Provider} AS provider, ${ROLLUP_CALLS} / ${ROLLUP_BUCKET_S} AS requests_per_second
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY time, provider
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: SRE_PANELS.errorRate,
      description: 'Failed calls of each error type (error.type) / all calls of the provider, per interval.',
      w: 12,
      h: 8,
      unit: 'percentunit',
      defaults: byLabel('series'),
      targets: [
        target(
          coarseOrFine(
            ['tenant'],
            SERIES_ON_10M,
            (use) => `SELECT time, concat(provider, ' · ', if(error_type = '', 'error', error_type)) AS series, calls / provider_calls AS error_rate
FROM (
  SELECT ${ROLLUP_10M_TIME} AS time, ${O.Provider} AS provider, ${O.ErrorType} AS error_type, ${O.StatusCode} AS status, sum(${O.Calls}) AS calls,
    sum(sum(${O.Calls})) OVER (PARTITION BY time, provider) AS provider_calls
  FROM ${t.outcomes10m}
  WHERE $__timeFilter(${O.Bucket}) AND ${use}
    AND ${callFilters('', ['tenant'])}
  GROUP BY time, provider, error_type, status
)
WHERE status = ${ERROR}`,
            (use) => `SELECT time, concat(provider, ' · ', if(error_type = '', 'error', error_type)) AS series, calls / provider_calls AS error_rate
FROM (
  SELECT $__timeInterval(${C.Timestamp}) AS time, ${C.Provider} AS provider, ${C.ErrorType} AS error_type, ${C.StatusCode} AS status, count() AS calls,
    sum(count()) OVER (PARTITION BY time, provider) AS provider_calls
  FROM ${t.calls}
  WHERE $__timeFilter(${C.Timestamp}) AND ${use}
    AND ${callFilters()}
  GROUP BY time, provider, error_type, status
)
WHERE status = ${ERROR}`,
            'time',
          ),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: 'Upstream HTTP status codes',
      description: "Calls by the provider's final HTTP status (none = no answer: connection error or timeout).",
      w: 12,
      h: 8,
      unit: 'short',
      defaults: { ...byLabel('status'), custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } } },
      targets: [
        target(
          `SELECT time, if(http_status = 0, 'none', toString(http_status)) AS status, calls FROM (
  SELECT $__timeInterval(${C.Timestamp}) AS time, ${C.HttpStatus} AS http_status, count() AS calls
  FROM ${t.calls}
  WHERE $__timeFilter(${C.Timestamp})
    AND ${callFilters()}
  GROUP BY time, http_status
)
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Top errors',
      description: 'Most frequent failures in the range; trace_id is the latest one: click it to open the trace.',
      w: 12,
      h: 8,
      overrides: [traceIdOverride(t, 'trace_id')],
      targets: [target(topErrorsSql(t), Format.Table)],
    }),
  ];

  const latency = [
    panel({
      type: 'timeseries',
      title: 'Latency p50 / p95 / p99',
      description: 'Call duration percentiles, all selected traffic (rollup t-digests).',
      w: 8,
      h: 8,
      unit: 'ms',
      targets: [
        target(percentileSeriesSql(t, R.DurationMsQuantiles, { p50: 0.5, p95: 0.95, p99: 0.99 }), Format.TimeSeries),
      ],
    }),
    panel({
      type: 'timeseries',
      title: SRE_PANELS.latencyByRoute,
      description: 'p95 call duration per route and requested model (rollup).',
      w: 8,
      h: 8,
      unit: 'ms',
      defaults: byLabel('series'),
      targets: [
        target(
          p95ByRouteAndModelSql(t, R.DurationMsQuantiles),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: SRE_PANELS.ttftByRoute,
      description: 'p95 time to the first chunk of streamed answers per route and requested model (rollup; calls without a first chunk are left out).',
      w: 8,
      h: 8,
      unit: 'ms',
      defaults: byLabel('series'),
      targets: [
        target(
          p95ByRouteAndModelSql(t, R.TtftMsQuantiles),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Latency and time to first token by route and model',
      description: 'Percentiles over the range in ms: from llm_calls (quantiles: a sample of up to 8,192 calls per route and model, exact below that), or over 2 days or more with every tenant selected from the 10-minute rollup (t-digests: approximate).',
      w: 24,
      h: 8,
      unit: 'ms',
      overrides: [{ matcher: { id: 'byName', options: 'calls' }, properties: [{ id: 'unit', value: 'short' }] }],
      targets: [
        target(
          coarseOrFine(
            ['tenant'],
            TABLE_ON_COARSE,
            (use) => `SELECT route, model, calls, d[1] AS p50_ms, d[3] AS p95_ms, d[4] AS p99_ms,
  if(isFinite(f[1]), f[1], NULL) AS ttft_p50_ms, if(isFinite(f[3]), f[3], NULL) AS ttft_p95_ms, if(isFinite(f[4]), f[4], NULL) AS ttft_p99_ms
FROM (
  SELECT ${D.Route} AS route, ${D.RequestModel} AS model, sum(${D.Calls}) AS calls,
    quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${D.DurationMsQuantiles}) AS d, quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${D.TtftMsQuantiles}) AS f
  FROM ${t.rollup10m}
  WHERE $__timeFilter(${D.Bucket}) AND ${use}
    AND ${callFilters('', ['tenant'])}
  GROUP BY route, model
)`,
            (use) => `SELECT route, model, calls, d[1] AS p50_ms, d[2] AS p95_ms, d[3] AS p99_ms,
  if(firsts = 0, NULL, f[1]) AS ttft_p50_ms, if(firsts = 0, NULL, f[2]) AS ttft_p95_ms, if(firsts = 0, NULL, f[3]) AS ttft_p99_ms
FROM (
  SELECT ${C.Route} AS route, ${C.RequestModel} AS model, count() AS calls, count(${C.TtftMs}) AS firsts,
    quantiles(0.5, 0.95, 0.99)(${C.DurationMs}) AS d, quantiles(0.5, 0.95, 0.99)(${C.TtftMs}) AS f
  FROM ${t.calls}
  WHERE $__timeFilter(${C.Timestamp}) AND ${use}
    AND ${callFilters()}
  GROUP BY route, model
)`,
            'calls DESC',
          ),
          Format.Table,
        ),
      ],
    }),
  ];

  const resilience = [
    panel({
      type: 'timeseries',
      title: SRE_PANELS.retries,
      description: 'Calls that needed more than one attempt (llm_sidecar.attempts > 1) and calls served by a later target of their chain (llm_sidecar.fallback.index > 0).',
      w: 8,
      h: 8,
      unit: 'short',
      targets: [
        target(
          `SELECT $__timeInterval(${C.Timestamp}) AS time,
  countIf(${C.Attempts} > 1) AS retried_calls,
  countIf(${C.FallbackIndex} > 0) AS fallback_calls,
  sum(${C.Attempts}) - count() AS extra_attempts
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${callFilters()}
GROUP BY time
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: 'Resilience events',
      description: `Span events on the gen_ai CLIENT spans (otel_traces.Events): ${Object.values(EVENT).join(', ')} (skips by reason). From their 10-minute rollup when the interval is 10 minutes or more and every tenant is selected.`,
      w: 8,
      h: 8,
      unit: 'short',
      defaults: byLabel('event_name'),
      targets: [
        target(
          coarseOrFine(
            ['tenant'],
            SERIES_ON_10M,
            (use) => `SELECT ${ROLLUP_10M_TIME} AS time, if(${V.EventName} = '${EVENT.targetSkipped}', concat(${V.EventName}, ' (', ${V.Reason}, ')'), ${V.EventName}) AS event_name, sum(${V.Events}) AS events
FROM ${t.events10m}
WHERE $__timeFilter(${V.Bucket}) AND ${use}
  AND ${callFilters('', ['tenant'])}
GROUP BY time, event_name`,
            (use) => `SELECT $__timeInterval(${T.Timestamp}) AS time, if(event = '${EVENT.targetSkipped}', concat(event, ' (', event_attrs['${EVENT_ATTR.reason}'], ')'), event) AS event_name, count() AS events
FROM ${t.traces}
ARRAY JOIN \`${N.EventsName}\` AS event, \`${N.EventsAttributes}\` AS event_attrs
WHERE $__timeFilter(${T.Timestamp}) AND ${use}
  AND ${hasEvent(...Object.values(EVENT))}
  AND ${GEN_AI_CLIENT_SPAN}
  AND event IN (${Object.values(EVENT)
              .map((e) => `'${e}'`)
              .join(', ')})
  AND ${spanFilters()}
GROUP BY time, event_name`,
            'time',
          ),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: SRE_PANELS.breaker,
      description:
        "Per target, calls that skipped it because its circuit breaker was open (llm_sidecar.target.skipped, reason circuit_open). Breaker state changes themselves are Prometheus metrics on the admin port (llm_sidecar_breaker_opens_total, llm_sidecar_breaker_state), not in ClickHouse.",
      w: 8,
      h: 8,
      unit: 'short',
      defaults: { ...byLabel('target'), custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } } },
      targets: [
        target(
          coarseOrFine(
            ['tenant'],
            SERIES_ON_10M,
            (use) => `SELECT ${ROLLUP_10M_TIME} AS time, ${V.Target} AS target, sum(${V.Events}) AS skipped_calls
FROM ${t.events10m}
WHERE $__timeFilter(${V.Bucket}) AND ${use}
  AND ${V.EventName} = '${EVENT.targetSkipped}' AND ${V.Reason} = '${SKIP_REASON_CIRCUIT_OPEN}'
  AND ${callFilters('', ['tenant'])}
GROUP BY time, target`,
            (use) => `SELECT $__timeInterval(${T.Timestamp}) AS time, event_attrs['${EVENT_ATTR.target}'] AS target, count() AS skipped_calls
FROM ${t.traces}
ARRAY JOIN \`${N.EventsName}\` AS event, \`${N.EventsAttributes}\` AS event_attrs
WHERE $__timeFilter(${T.Timestamp}) AND ${use}
  AND ${hasEvent(EVENT.targetSkipped)}
  AND ${GEN_AI_CLIENT_SPAN}
  AND event = '${EVENT.targetSkipped}' AND event_attrs['${EVENT_ATTR.reason}'] = '${SKIP_REASON_CIRCUIT_OPEN}'
  AND ${spanFilters()}
GROUP BY time, target`,
            'time',
          ),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({ type: 'stat', title: 'Calls turned away by open breakers', description: 'Total in the range (span events, see the breaker panel).', w: 6, h: 8, unit: 'short', targets: [target(breakerSkipsSql(t), Format.Table)] }),
    panel({
      type: 'timeseries',
      title: 'Cache hit rate by kind',
      description: `Share of calls answered from the sidecar cache: exact (${CACHE_STATUS.hit}), semantic (${CACHE_STATUS.semanticHit}) and stale (${CACHE_STATUS.stale}, the last fallback level).`,
      w: 9,
      h: 8,
      unit: 'percentunit',
      defaults: { custom: { stacking: { mode: 'normal', group: 'A' } } },
      targets: [
        target(
          `SELECT $__timeInterval(${C.Timestamp}) AS time,
  countIf(${C.CacheStatus} = '${CACHE_STATUS.hit}') / count() AS exact,
  countIf(${C.CacheStatus} = '${CACHE_STATUS.semanticHit}') / count() AS semantic,
  countIf(${C.CacheStatus} = '${CACHE_STATUS.stale}') / count() AS stale
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${callFilters()}
GROUP BY time
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: 'Proxy overhead p50 / p99',
      description: "Time the sidecar itself adds to a call (validation, routing, cache, translation), excluding the provider's time (rollup).",
      w: 9,
      h: 8,
      unit: 'ms',
      targets: [
        target(percentileSeriesSql(t, R.OverheadMsQuantiles, { p50: 0.5, p99: 0.99 }), Format.TimeSeries),
      ],
    }),
  ];

  const telemetry = [
    text(
      'Telemetry pipeline health',
      `Spans exported, spooled, replayed and dropped are counted **in the sidecar**, not in ClickHouse: scrape \`GET /metrics\` on the admin port (default \`:4001\`) with Prometheus and chart them with a Prometheus datasource (out of scope of these ClickHouse dashboards):

- \`llm_sidecar_telemetry_spans_total{outcome="exported|spooled|replayed|dropped"}\` — e.g. \`sum(increase(llm_sidecar_telemetry_spans_total{outcome="dropped"}[10m])) > 0\`
- \`llm_sidecar_telemetry_queued_spans\`, \`llm_sidecar_telemetry_spool_bytes\` — a growing spool means ClickHouse is unreachable

What ClickHouse can show is what arrived: the panels here count spans ingested per service and the age of each service's newest span (the *telemetry stalled* alert fires past 15 minutes).`,
      8,
      8,
    ),
    panel({
      type: 'timeseries',
      title: 'Spans ingested per service',
      description: 'Spans stored in otel_traces per interval (every span: SERVER, gen_ai CLIENT and attempt spans), from its per-minute count (otel_spans_1m; buckets of at least one minute).',
      w: 8,
      h: 8,
      unit: 'short',
      defaults: byLabel('service'),
      targets: [
        target(
          `SELECT ${ROLLUP_TIME} AS time, ${S.ServiceName} AS service, sum(${S.Spans}) AS spans
FROM ${t.spans1m}
WHERE $__timeFilter(${S.Minute})
  AND ${variableFilter(S.ServiceName, 'service')}
GROUP BY time, service
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: SRE_PANELS.freshness,
      description: "Age of each service's newest span in otel_traces (services seen in the time range; otel_spans_1m). A sidecar with traffic that stops writing shows here first.",
      w: 8,
      h: 8,
      unit: 's',
      defaults: { thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 300 }, { color: 'red', value: 900 }] }, custom: { cellOptions: { type: 'color-text' } } },
      overrides: [{ matcher: { id: 'byName', options: 'last_span' }, properties: [{ id: 'unit', value: 'dateTimeAsIso' }] }],
      targets: [
        target(
          `SELECT ${S.ServiceName} AS service, max(${S.LastSpan}) AS last_span, dateDiff('second', last_span, now()) AS seconds_since_last_span
FROM ${t.spans1m}
WHERE $__timeFilter(${S.Minute})
  AND ${variableFilter(S.ServiceName, 'service')}
GROUP BY service
ORDER BY seconds_since_last_span DESC`,
          Format.Table,
        ),
      ],
    }),
  ];

  return dashboard({
    uid: SRE_UID,
    title: 'LLM sidecar — SRE',
    description: 'Traffic, errors, latency, time to first token, resilience (retries, fallbacks, circuit breakers), cache and the sidecar overhead, from ClickHouse (llm_calls, llm_calls_1m, otel_traces).',
    tags: ['sre'],
    time: 'now-6h',
    variables: callVariables(t),
    rows: [
      { title: 'Overview', panels: overview },
      { title: 'Traffic and errors', panels: traffic },
      { title: 'Latency and time to first token', panels: latency },
      { title: 'Resilience, cache and overhead', panels: resilience },
      { title: 'Telemetry pipeline', panels: telemetry },
    ],
  });
}
