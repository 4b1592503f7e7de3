// Grafana alert rules (file provisioning, `apiVersion: 1`) on the ClickHouse datasource. Each rule
// is one SQL query (refId A, table format: string columns become the alert's labels, the single
// numeric column its value — one alert instance per row) and a threshold expression on it (C).
// Only the plugin's backend macros are used ($__timeFilter, $__fromTime, …): alert rules are
// evaluated by Grafana's server, where template variables and $__conditionalAll do not exist.
// Rule models are not interpolated by the provisioning loader (annotations neither), so `$`
// needs no escaping there; labels would be, so they contain none.
import { STATUS_CODE } from '../shared/clickhouse/schema.ts';
import { CLICKHOUSE_PLUGIN_VERSION, DATASOURCE, allPanels, type Dashboard } from './builder.ts';
import {
  CALLS as C,
  DAY_START_UTC,
  DAYS_IN_MONTH,
  EVENT,
  EVENT_ATTR,
  GEN_AI_CLIENT_SPAN,
  MONTH_START_UTC,
  ROLLUP as R,
  ROLLUP_SPEND,
  SKIP_REASON_CIRCUIT_OPEN,
  TRACES as T,
  TRACES_NESTED as N,
  budgetExpr,
  hasEvent,
  type MonthlyBudgets,
  type Tables,
} from './sql.ts';
import { SRE_PANELS, SRE_UID } from './sre.ts';
import { COST_UID } from './cost.ts';
import { QUALITY_UID } from './quality.ts';
import { evaluatorStalledSql, judgeSpendNearCapSql, qualityDropSql, type JudgeCaps, type QualityThresholds } from './quality-alerts.ts';
import { CACHE_EQUIVALENCE_PANEL, DEFAULT_CACHE_EQUIVALENCE, cacheEquivalenceAlertSql, type CacheEquivalenceThresholds } from './cache-equivalence.ts';

export const ALERT_FOLDER = 'LLM sidecar';

export interface Thresholds {
  /** Share of failed calls per route × provider over 10 minutes. */
  errorRate: number;
  /** p95 call duration per route over 10 minutes, ms. */
  latencyP95Ms: number;
  /** p95 time to first token of streams per route over 10 minutes, ms. */
  ttftP95Ms: number;
  /** Share of calls served by a fallback target per route over 15 minutes. */
  fallbackRate: number;
  /** Calls a route needs in the window before a rate or a percentile alerts (no alert on 3 calls). */
  minCalls: number;
  /** Today's spend over the tenant's daily share of its monthly budget. */
  dailyBurn: number;
  /** Age of a service's newest span, seconds. */
  telemetryStaleSeconds: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  errorRate: 0.05,
  latencyP95Ms: 30_000,
  ttftP95Ms: 5_000,
  fallbackRate: 0.2,
  minCalls: 20,
  dailyBurn: 1,
  telemetryStaleSeconds: 900,
};

type Evaluator = 'gt' | 'lt';

export interface AlertQuery {
  refId: string;
  relativeTimeRange?: { from: number; to: number };
  datasourceUid: string;
  model: Record<string, unknown>;
}

export interface AlertRule {
  uid: string;
  title: string;
  condition: 'C';
  data: AlertQuery[];
  noDataState: 'OK' | 'NoData' | 'Alerting';
  execErrState: 'Error' | 'Alerting' | 'OK';
  for: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  isPaused: false;
}

export interface AlertGroup {
  orgId: 1;
  name: string;
  folder: string;
  interval: string;
  rules: AlertRule[];
}

export interface AlertProvisioning {
  apiVersion: 1;
  groups: AlertGroup[];
}

export interface RuleSpec {
  uid: string;
  title: string;
  sql: string;
  /** Seconds of history the query reads ($__timeFilter's range). */
  window: number;
  evaluator: Evaluator;
  threshold: number;
  for: string;
  severity: 'warning' | 'critical';
  summary: string;
  description: string;
  dashboard?: { uid: string; panelId: number };
}

export function rule(s: RuleSpec): AlertRule {
  const expr = { type: '__expr__', uid: '__expr__' };
  return {
    uid: s.uid,
    title: s.title,
    condition: 'C',
    data: [
      {
        refId: 'A',
        relativeTimeRange: { from: s.window, to: 0 },
        datasourceUid: DATASOURCE.uid,
        model: { refId: 'A', datasource: DATASOURCE, editorType: 'sql', queryType: 'table', format: 1, rawSql: s.sql, pluginVersion: CLICKHOUSE_PLUGIN_VERSION, intervalMs: 60_000, maxDataPoints: 43_200 },
      },
      {
        refId: 'C',
        datasourceUid: expr.uid,
        model: {
          refId: 'C',
          datasource: expr,
          type: 'threshold',
          expression: 'A',
          conditions: [{ type: 'query', evaluator: { type: s.evaluator, params: [s.threshold] }, operator: { type: 'and' }, query: { params: ['C'] }, reducer: { type: 'last', params: [] } }],
          intervalMs: 1000,
          maxDataPoints: 43_200,
        },
      },
    ],
    noDataState: 'OK',
    execErrState: 'Error',
    for: s.for,
    annotations: {
      summary: s.summary,
      description: s.description,
      ...(s.dashboard ? { __dashboardUid__: s.dashboard.uid, __panelId__: String(s.dashboard.panelId) } : {}),
    },
    labels: { severity: s.severity, component: 'llm-sidecar' },
    isPaused: false,
  };
}

export function panelId(d: Dashboard, title: string): number {
  const p = allPanels(d).find((x) => x.title === title);
  if (!p?.id) throw new Error(`alert rules: no panel "${title}" in dashboard ${d.uid}`);
  return p.id;
}

const ERROR = `'${STATUS_CODE.Error}'`;

/** The quality rules' inputs (quality-alerts.ts): the Quality dashboard they link to, thresholds, judge caps. */
export interface QualityAlertInputs {
  dashboard: Dashboard;
  thresholds: QualityThresholds;
  judgeCaps: JudgeCaps;
  /** The semantic cache's watch (cache-equivalence.ts); default DEFAULT_CACHE_EQUIVALENCE. */
  cacheEquivalence?: CacheEquivalenceThresholds;
}

export function alertRules(t: Tables, budgets: MonthlyBudgets, sre: Dashboard, cost: Dashboard, th: Thresholds = DEFAULT_THRESHOLDS, quality?: QualityAlertInputs): AlertProvisioning {
  const link = (title: string) => ({ uid: SRE_UID, panelId: panelId(sre, title) });
  const costLink = (title: string) => ({ uid: COST_UID, panelId: panelId(cost, title) });
  const value = (v: string) => `{{ with $values.A }}{{ printf "${v}" .Value }}{{ end }}`;

  const sreRules: AlertRule[] = [
    rule({
      uid: 'llm-sidecar-error-rate',
      title: 'LLM error rate',
      sql: `SELECT ${C.Route} AS route, ${C.Provider} AS provider, countIf(${C.StatusCode} = ${ERROR}) / count() AS error_rate
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
GROUP BY route, provider
HAVING count() >= ${th.minCalls}`,
      window: 600,
      evaluator: 'gt',
      threshold: th.errorRate,
      for: '5m',
      severity: 'critical',
      summary: `Error rate ${value('%.1f')} (share) on route {{ $labels.route }} via {{ $labels.provider }}`,
      description: `More than ${Math.round(th.errorRate * 1000) / 10} % of LLM calls failed over the last 10 minutes (at least ${th.minCalls} calls). See the top errors and their traces on the SRE dashboard.`,
      dashboard: link(SRE_PANELS.errorRate),
    }),
    rule({
      uid: 'llm-sidecar-latency-p95',
      title: 'LLM p95 latency',
      sql: `SELECT ${C.Route} AS route, quantile(0.95)(${C.DurationMs}) AS p95_ms
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
GROUP BY route
HAVING count() >= ${th.minCalls}`,
      window: 600,
      evaluator: 'gt',
      threshold: th.latencyP95Ms,
      for: '10m',
      severity: 'warning',
      summary: `p95 latency ${value('%.0f')} ms on route {{ $labels.route }}`,
      description: `The 95th percentile of LLM call duration exceeded ${th.latencyP95Ms} ms over the last 10 minutes.`,
      dashboard: link(SRE_PANELS.latencyByRoute),
    }),
    rule({
      uid: 'llm-sidecar-ttft-p95',
      title: 'LLM p95 time to first token',
      sql: `SELECT ${C.Route} AS route, quantile(0.95)(${C.TtftMs}) AS ttft_p95_ms
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp}) AND ${C.Stream} = 1 AND ${C.TtftMs} IS NOT NULL
GROUP BY route
HAVING count() >= ${Math.max(1, Math.floor(th.minCalls / 2))}`,
      window: 600,
      evaluator: 'gt',
      threshold: th.ttftP95Ms,
      for: '10m',
      severity: 'warning',
      summary: `p95 time to first token ${value('%.0f')} ms on route {{ $labels.route }}`,
      description: `Streamed answers took more than ${th.ttftP95Ms} ms to their first chunk (p95, last 10 minutes).`,
      dashboard: link(SRE_PANELS.ttftByRoute),
    }),
    rule({
      uid: 'llm-sidecar-fallback-rate',
      title: 'LLM fallback rate',
      sql: `SELECT ${C.Route} AS route, countIf(${C.FallbackIndex} > 0) / count() AS fallback_rate
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
GROUP BY route
HAVING count() >= ${th.minCalls}`,
      window: 900,
      evaluator: 'gt',
      threshold: th.fallbackRate,
      for: '5m',
      severity: 'warning',
      summary: `{{ $labels.route }}: ${value('%.2f')} of calls served by a fallback target`,
      description: `More than ${Math.round(th.fallbackRate * 1000) / 10} % of the route's calls over 15 minutes were served by a later target of their chain: the primary is failing or slow.`,
      dashboard: link(SRE_PANELS.retries),
    }),
    rule({
      uid: 'llm-sidecar-breaker-open',
      title: 'LLM circuit breaker open',
      sql: `SELECT event_attrs['${EVENT_ATTR.target}'] AS target, count() AS skipped_calls
FROM ${t.traces}
ARRAY JOIN \`${N.EventsName}\` AS event, \`${N.EventsAttributes}\` AS event_attrs
WHERE $__timeFilter(${T.Timestamp})
  AND ${hasEvent(EVENT.targetSkipped)}
  AND ${GEN_AI_CLIENT_SPAN}
  AND event = '${EVENT.targetSkipped}' AND event_attrs['${EVENT_ATTR.reason}'] = '${SKIP_REASON_CIRCUIT_OPEN}'
GROUP BY target`,
      window: 300,
      evaluator: 'gt',
      threshold: 0,
      for: '0s',
      severity: 'warning',
      summary: `Circuit breaker open for target {{ $labels.target }}: ${value('%.0f')} calls skipped it in 5 minutes`,
      description: 'Calls skipped this target because its circuit breaker was open (span event llm_sidecar.target.skipped, reason circuit_open).',
      dashboard: link(SRE_PANELS.breaker),
    }),
    rule({
      uid: 'llm-sidecar-telemetry-stalled',
      title: 'LLM telemetry stalled',
      sql: `SELECT ${T.ServiceName} AS service, dateDiff('second', max(${T.Timestamp}), now()) AS seconds_since_last_span
FROM ${t.traces}
WHERE $__timeFilter(${T.Timestamp})
GROUP BY service`,
      window: 86_400,
      evaluator: 'gt',
      threshold: th.telemetryStaleSeconds,
      for: '5m',
      severity: 'warning',
      summary: `No spans from {{ $labels.service }} for ${value('%.0f')} s`,
      description: `A service that wrote spans in the last 24 h has written none for ${th.telemetryStaleSeconds} s: the sidecar is idle, down, or cannot reach ClickHouse (check llm_sidecar_telemetry_spans_total{outcome="spooled|dropped"} on its admin port).`,
      dashboard: link(SRE_PANELS.freshness),
    }),
  ];

  const budget = budgetExpr(R.Tenant, budgets);
  const costRules: AlertRule[] = [
    rule({
      uid: 'llm-sidecar-spend-daily-burn',
      title: 'LLM spend: daily burn above budget',
      sql: `SELECT tenant, spend_usd / (budget_usd / ${DAYS_IN_MONTH}) AS daily_burn
FROM (
  SELECT ${R.Tenant} AS tenant, ${ROLLUP_SPEND} AS spend_usd, ${budget} AS budget_usd
  FROM ${t.rollup}
  WHERE ${R.Minute} >= ${DAY_START_UTC}
  GROUP BY tenant
)
WHERE budget_usd > 0`,
      window: 86_400,
      evaluator: 'gt',
      threshold: th.dailyBurn,
      for: '0s',
      severity: 'warning',
      summary: `Tenant {{ $labels.tenant }} spent ${value('%.2f')}× its daily share of the monthly budget today (UTC)`,
      description: "Today's spend exceeds the monthly budget divided by the days of the month: at this pace the tenant runs out before the month ends.",
      dashboard: costLink('Budget burn and projected month end, per tenant'),
    }),
    ...([
      [0.8, 'warning', '80'],
      [1, 'critical', '100'],
    ] as const).map(([share, severity, pct]) =>
      rule({
        uid: `llm-sidecar-budget-${pct}`,
        title: `LLM spend: ${pct} % of the monthly budget`,
        sql: `SELECT tenant, spend_usd / budget_usd AS budget_used
FROM (
  SELECT ${R.Tenant} AS tenant, ${ROLLUP_SPEND} AS spend_usd, ${budget} AS budget_usd
  FROM ${t.rollup}
  WHERE ${R.Minute} >= ${MONTH_START_UTC}
  GROUP BY tenant
)
WHERE budget_usd > 0`,
        window: 86_400 * 31,
        evaluator: 'gt' as const,
        threshold: share,
        for: '0s',
        severity,
        summary: `Tenant {{ $labels.tenant }} used ${value('%.2f')} of its monthly budget`,
        description: `Month-to-date spend (UTC month) passed ${pct} % of the tenant's monthly budget.${share === 1 ? ' With budgets enforced, the sidecar now rejects its calls.' : ''}`,
        dashboard: costLink('Budget used this month, per tenant'),
      }),
    ),
  ];

  return {
    apiVersion: 1,
    groups: [
      { orgId: 1, name: 'llm-sidecar-sre', folder: ALERT_FOLDER, interval: '1m', rules: sreRules },
      { orgId: 1, name: 'llm-sidecar-cost', folder: ALERT_FOLDER, interval: '5m', rules: costRules },
      ...(quality ? [{ orgId: 1 as const, name: 'llm-sidecar-quality', folder: ALERT_FOLDER, interval: '5m', rules: qualityAlertRules(t, quality) }] : []),
    ],
  };
}

/** The ML lead's rules (SQL and thresholds in quality-alerts.ts). */
function qualityAlertRules(t: Tables, q: QualityAlertInputs): AlertRule[] {
  const th = q.thresholds;
  const link = (title: string) => ({ uid: QUALITY_UID, panelId: panelId(q.dashboard, title) });
  const value = (v: string) => `{{ with $values.A }}{{ printf "${v}" .Value }}{{ end }}`;
  return [
    rule({
      uid: 'llm-sidecar-quality-drop',
      title: 'LLM quality drop',
      sql: qualityDropSql(t, th),
      window: 35 * 86_400,
      evaluator: 'lt',
      threshold: -th.drop,
      for: '1h',
      severity: 'warning',
      summary: `{{ $labels.evaluator }} on {{ $labels.feature }}: mean score ${value('%+.3f')} this week against the previous four weeks`,
      description: `An evaluator's mean score over the last 7 days is more than ${th.drop} below its mean over the four weeks before (at least ${th.minScores} scores on each side), per feature and over all features. Open the lowest-scored calls on the Quality dashboard.`,
      dashboard: link('Average score by evaluator, model, route and service — this week vs last week'),
    }),
    rule({
      uid: 'llm-sidecar-evaluator-stalled',
      title: 'LLM evaluator stalled',
      sql: evaluatorStalledSql(t, th),
      window: 86_400,
      evaluator: 'gt',
      threshold: 0,
      for: '10m',
      severity: 'warning',
      summary: `{{ $labels.service }}: ${value('%.0f')} sampled calls unscored for more than ${th.stallSeconds} s`,
      description: `Calls sampled for evaluation more than ${th.stallSeconds} s ago have no evaluation row and the service got no score for as long: the evaluator is down, stuck, paused by its spend cap, or cannot reach its judge (see llm_sidecar_evaluator_* on its admin port).`,
      dashboard: link('Judge tokens and failures by evaluator'),
    }),
    rule({
      uid: 'llm-sidecar-judge-spend-cap',
      title: 'LLM judge spend near its daily cap',
      sql: judgeSpendNearCapSql(t, q.judgeCaps),
      window: 86_400,
      evaluator: 'gt',
      threshold: th.judgeSpendShare,
      for: '0s',
      severity: 'warning',
      summary: `{{ $labels.evaluator }} {{ $labels.version }} used ${value('%.2f')} of its daily judge spend cap`,
      description: `Today's (UTC) judge spend passed ${Math.round(th.judgeSpendShare * 100)} % of the evaluator's dailySpendCapUsd; at the cap, judging pauses until the next UTC day (sampled calls stay unscored).`,
      dashboard: link('Judge spend by judge model'),
    }),
    cacheEquivalenceRule(t, q.cacheEquivalence ?? DEFAULT_CACHE_EQUIVALENCE, link(CACHE_EQUIVALENCE_PANEL)),
  ];
}

/** Semantic-cache hits judged wrong answers (cache-equivalence.ts): a route's pass rate over the last day under the floor. */
function cacheEquivalenceRule(t: Tables, th: CacheEquivalenceThresholds, dashboard: { uid: string; panelId: number }): AlertRule {
  return rule({
    uid: 'llm-sidecar-cache-equivalence',
    title: 'LLM semantic cache serving answers to other questions',
    sql: cacheEquivalenceAlertSql(t, th),
    window: 86_400,
    evaluator: 'lt',
    threshold: th.floor,
    for: '15m',
    severity: 'critical',
    summary: `Route {{ $labels.route }}: only {{ with $values.A }}{{ printf "%.3f" .Value }}{{ end }} of sampled semantic-cache hits answered the question asked (cache_equivalence, last 24 h)`,
    description: `The cache_equivalence judge found the cached answer wrong for the question asked on more than ${Math.round((1 - th.floor) * 1000) / 10} % of the route's sampled semantic hits (at least ${th.minScores} scores): the semantic cache is serving answers to other questions. Raise the route's cache.semantic.threshold or turn semantic caching off for it, then read the failed scores' explanations (Lowest-scored recent calls).`,
    dashboard,
  });
}
