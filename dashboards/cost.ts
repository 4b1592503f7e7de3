// Cost dashboard: spend over time by model, provider, service, tenant, user and feature; cost per
// request; tokens by kind; spend the cache avoided; month-to-date budget burn per tenant and the
// projected month-end spend. Long ranges read the per-minute rollup; feature and user read the
// 10-minute and hourly-per-user rollups when the variables those lack are at "All", else llm_calls.
import { Format, dashboard, panel, target, type Dashboard, type PanelSpec } from './builder.ts';
import { costPerRequestSql, spendSql, unpricedSql } from './queries.ts';
import { ATTR_LLM_SIDECAR_CACHE_SAVED_USD } from '../shared/telemetry/semconv.ts';
import {
  CACHE_HIT_STATUSES_SQL,
  CALLS as C,
  MONTH_ELAPSED_S,
  MONTH_START_UTC,
  MONTH_TOTAL_S,
  ROLLUP as R,
  OUTCOMES_10M as O,
  ROLLUP_10M_TIME,
  ROLLUP_CALLS,
  ROLLUP_SPEND,
  ROLLUP_TIME,
  SERIES_ON_10M,
  TABLE_ON_COARSE,
  USERS_1H as U,
  budgetExpr,
  callFilters,
  coarseOrFine,
  variableFilter,
  type MonthlyBudgets,
  type Tables,
} from './sql.ts';
import { STATUS_CODE } from '../shared/clickhouse/schema.ts';
import { callVariables } from './variables.ts';

export const COST_UID = 'llm-sidecar-cost';
const ERROR = `'${STATUS_CODE.Error}'`;
const byLabel = (label: string) => ({ displayName: `\${__field.labels.${label}}` });
const stacked = { custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } } };

/** Estimated spend the cache avoided, per requested model: hits × the average cost of a non-cached successful call of that model in the range. */
export function cacheAvoidedByModelSql(t: Tables): string {
  return `SELECT model, hits, avg_miss_usd, hits * avg_miss_usd AS avoided_usd
FROM (
  SELECT ${C.RequestModel} AS model,
    countIf(${C.CacheStatus} IN (${CACHE_HIT_STATUSES_SQL})) AS hits,
    avgIf(toFloat64(${C.CostUsd}), ${C.CacheStatus} NOT IN (${CACHE_HIT_STATUSES_SQL}) AND ${C.CostUsd} IS NOT NULL AND ${C.StatusCode} != ${ERROR}) AS avg_miss_usd
  FROM ${t.calls}
  WHERE $__timeFilter(${C.Timestamp})
    AND ${callFilters()}
  GROUP BY model
)
WHERE hits > 0 AND isFinite(avg_miss_usd)
ORDER BY avoided_usd DESC`;
}

/** Spend avoided by cache hits as the proxy records it on the hit (llm_sidecar.cache.saved_usd: the original call's cost; llm_calls.CacheSavedUsd). */
export function cacheSavedRecordedSql(t: Tables): string {
  return `SELECT toFloat64(ifNull(sum(${C.CacheSavedUsd}), 0)) AS recorded_usd
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${C.CacheSavedUsd} IS NOT NULL
  AND ${callFilters()}`;
}

/** Month-to-date spend per tenant against its monthly budget, and the linear projection to month end (ignores the dashboard's time range). */
export function budgetBurnSql(t: Tables, budgets: MonthlyBudgets): string {
  return `SELECT tenant, spend_usd, budget_usd, spend_usd / budget_usd * 100 AS used_pct, projected_usd, projected_usd / budget_usd * 100 AS projected_pct
FROM (
  SELECT ${R.Tenant} AS tenant, ${ROLLUP_SPEND} AS spend_usd, spend_usd / ${MONTH_ELAPSED_S} * ${MONTH_TOTAL_S} AS projected_usd,
    ${budgetExpr(R.Tenant, budgets)} AS budget_usd
  FROM ${t.rollup}
  WHERE ${R.Minute} >= ${MONTH_START_UTC}
    AND ${callFilters()}
  GROUP BY tenant
)
ORDER BY used_pct DESC, spend_usd DESC`;
}

/** Month-to-date spend and its linear projection to the end of the UTC month. */
export function monthToDateSql(t: Tables): string {
  return `SELECT ${ROLLUP_SPEND} AS month_to_date_usd, month_to_date_usd / ${MONTH_ELAPSED_S} * ${MONTH_TOTAL_S} AS projected_month_end_usd
FROM ${t.rollup}
WHERE ${R.Minute} >= ${MONTH_START_UTC}
  AND ${callFilters()}`;
}

function spendOverTime(t: Tables, title: string, label: string, column: string): PanelSpec {
  return {
    type: 'timeseries',
    title,
    description: `Spend at list prices per interval by ${label} (per-minute rollup). Calls whose model has no price count as $0 here: see "Calls without a price".`,
    w: 12,
    h: 8,
    unit: 'currencyUSD',
    defaults: { ...byLabel(label), ...stacked },
    targets: [
      target(
        `SELECT ${ROLLUP_TIME} AS time, ${column} AS ${label}, ${ROLLUP_SPEND} AS spend_usd
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY time, ${label}
ORDER BY time`,
        Format.TimeSeries,
      ),
    ],
  };
}

type UserColumn = 'user' | 'tenant' | 'calls' | 'spend_usd' | 'usd_per_priced_call';

/**
 * Users by spend in the range, largest first: from the hourly per-user rollup over 2 days or more
 * when service, route, provider and model are at "All" (it has the tenant), else from llm_calls.
 */
function topUsersSql(t: Tables, columns: readonly UserColumn[], limit: number): string {
  const missing = ['service', 'route', 'provider', 'model'] as const;
  const coarse: Record<UserColumn, string> = {
    user: `${U.User} AS user`,
    tenant: `${U.Tenant} AS tenant`,
    calls: `sum(${U.Calls}) AS calls`,
    spend_usd: `toFloat64(sum(${U.CostUsd})) AS spend_usd`,
    usd_per_priced_call: `spend_usd / nullIf(sum(${U.PricedCalls}), 0) AS usd_per_priced_call`,
  };
  const fine: Record<UserColumn, string> = {
    user: `${C.User} AS user`,
    tenant: `${C.Tenant} AS tenant`,
    calls: `count() AS calls`,
    spend_usd: `toFloat64(sum(${C.CostUsd})) AS spend_usd`,
    usd_per_priced_call: `spend_usd / nullIf(countIf(${C.CostUsd} IS NOT NULL), 0) AS usd_per_priced_call`,
  };
  const keys = columns.filter((c) => c === 'user' || c === 'tenant').join(', ');
  return coarseOrFine(
    missing,
    TABLE_ON_COARSE,
    (use) => `SELECT ${columns.map((c) => coarse[c]).join(', ')}
FROM ${t.users1h}
WHERE $__timeFilter(${U.Hour}) AND ${use}
  AND ${variableFilter(U.Tenant, 'tenant')}
GROUP BY ${keys}
ORDER BY spend_usd DESC, user
LIMIT ${limit}`,
    (use) => `SELECT ${columns.map((c) => fine[c]).join(', ')}
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp}) AND ${use}
  AND ${callFilters()}
GROUP BY ${keys}
ORDER BY spend_usd DESC, user
LIMIT ${limit}`,
    `spend_usd DESC, user`,
  );
}

export function costDashboard(t: Tables, budgets: MonthlyBudgets): Dashboard {
  const stat = (title: string, description: string, sql: string, unit: string, w = 4) => panel({ type: 'stat', title, description, w, h: 4, unit, targets: [target(sql, Format.Table)] });
  const budgetNote =
    budgets.defaultUsd === undefined && Object.keys(budgets.tenants).length === 0
      ? 'No budgets were configured when these dashboards were generated.'
      : `Budgets written at generation time: ${Object.entries(budgets.tenants)
          .map(([k, v]) => `${k} $${v}`)
          .join(', ')}${budgets.defaultUsd !== undefined ? `${Object.keys(budgets.tenants).length > 0 ? '; ' : ''}other tenants $${budgets.defaultUsd}` : ''} per month (regenerate with --config to change).`;

  const overview = [
    stat('Spend', 'Spend at list prices in the time range (rollup, exact decimal sums).', spendSql(t), 'currencyUSD'),
    stat('Cost per request', 'Spend / calls that have a price.', costPerRequestSql(t), 'currencyUSD'),
    stat('Calls without a price', 'Calls with token usage but no price for their model: their cost is unknown (never shown as $0). Add the model to the price table.', unpricedSql(t), 'short'),
    panel({
      type: 'stat',
      title: 'Month to date · projected month end',
      description: 'Spend since the start of the UTC month and its linear projection to the month end (ignores the time range).',
      w: 6,
      h: 4,
      unit: 'currencyUSD',
      targets: [target(monthToDateSql(t), Format.Table)],
    }),
    panel({
      type: 'stat',
      title: 'Spend avoided by the cache',
      description: `Estimated: each cache hit (exact, semantic, stale) × the average cost of a non-cached call of the same model in the range (hits of models with no such call are not counted). "recorded" is the sum of the ${ATTR_LLM_SIDECAR_CACHE_SAVED_USD} span attribute the proxy writes on a hit (the original call's cost).`,
      w: 6,
      h: 4,
      unit: 'currencyUSD',
      targets: [
        target(`SELECT sum(avoided_usd) AS estimated_usd FROM (\n${cacheAvoidedByModelSql(t)}\n)`, Format.Table, 'A'),
        target(cacheSavedRecordedSql(t), Format.Table, 'B'),
      ],
    }),
  ];

  const spend = [
    panel(spendOverTime(t, 'Spend by model', 'model', R.RequestModel)),
    panel(spendOverTime(t, 'Spend by provider', 'provider', R.Provider)),
    panel(spendOverTime(t, 'Spend by service', 'service', R.ServiceName)),
    panel(spendOverTime(t, 'Spend by tenant', 'tenant', R.Tenant)),
    panel({
      type: 'timeseries',
      title: 'Spend by feature',
      description: 'Spend per interval by feature (x-llm-sidecar-feature): from the 10-minute rollup when the interval is 10 minutes or more and every tenant is selected, else from llm_calls.',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      defaults: { ...byLabel('feature'), ...stacked },
      targets: [
        target(
          coarseOrFine(
            ['tenant'],
            SERIES_ON_10M,
            (use) => `SELECT ${ROLLUP_10M_TIME} AS time, ${O.Feature} AS feature, toFloat64(sum(${O.CostUsd})) AS spend_usd
FROM ${t.outcomes10m}
WHERE $__timeFilter(${O.Bucket}) AND ${use}
  AND ${callFilters('', ['tenant'])}
GROUP BY time, feature`,
            (use) => `SELECT $__timeInterval(${C.Timestamp}) AS time, ${C.Feature} AS feature, toFloat64(sum(${C.CostUsd})) AS spend_usd
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp}) AND ${use}
  AND ${callFilters()}
GROUP BY time, feature`,
            'time',
          ),
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'timeseries',
      title: 'Spend by user (top 10)',
      description: 'Spend per interval of the 10 users who spent most in the range (x-llm-sidecar-user), from llm_calls; the 10 are picked from the hourly per-user rollup over 2 days or more when service, route, provider and model are at All.',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      defaults: { ...byLabel('user'), ...stacked },
      targets: [
        target(
          `SELECT $__timeInterval(${C.Timestamp}) AS time, ${C.User} AS user, toFloat64(sum(${C.CostUsd})) AS spend_usd
FROM ${t.calls}
WHERE $__timeFilter(${C.Timestamp})
  AND ${callFilters()}
  AND ${C.User} IN (SELECT user FROM (
${topUsersSql(t, ['user', 'spend_usd'], 10)}
  ))
GROUP BY time, user
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Top users by spend',
      description: 'Users (and their tenant) by spend in the range, with calls and cost per priced call: from the hourly per-user rollup over 2 days or more when service, route, provider and model are at All, else from llm_calls.',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      overrides: [{ matcher: { id: 'byName', options: 'calls' }, properties: [{ id: 'unit', value: 'short' }] }],
      targets: [
        target(topUsersSql(t, ['user', 'tenant', 'calls', 'spend_usd', 'usd_per_priced_call'], 50), Format.Table),
      ],
    }),
    panel({
      type: 'timeseries',
      title: 'Cost per request by model',
      description: 'Spend / priced calls per interval and requested model (rollup).',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      defaults: byLabel('model'),
      targets: [
        target(
          `SELECT ${ROLLUP_TIME} AS time, ${R.RequestModel} AS model, ${ROLLUP_SPEND} / nullIf(${ROLLUP_CALLS} - sum(${R.UnpricedCalls}), 0) AS usd_per_request
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY time, model
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
  ];

  const tokens = [
    panel({
      type: 'timeseries',
      title: 'Tokens by kind',
      description:
        'Input split into uncached, cache read and cache write (gen_ai.usage.input_tokens counts all three); output split into visible and reasoning (output_tokens includes reasoning). Stacked, so the bars add up to input + output tokens (rollup).',
      w: 12,
      h: 8,
      unit: 'short',
      defaults: stacked,
      targets: [
        target(
          `SELECT ${ROLLUP_TIME} AS time,
  toInt64(sum(${R.InputTokens})) - toInt64(sum(${R.CacheReadTokens})) - toInt64(sum(${R.CacheWriteTokens})) AS \`input uncached\`,
  sum(${R.CacheReadTokens}) AS \`input cache read\`,
  sum(${R.CacheWriteTokens}) AS \`input cache write\`,
  toInt64(sum(${R.OutputTokens})) - toInt64(sum(${R.ReasoningTokens})) AS \`output visible\`,
  sum(${R.ReasoningTokens}) AS \`output reasoning\`
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY time
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Tokens and spend by model',
      description: 'Per requested model over the range (rollup). input includes cached tokens, output includes reasoning tokens.',
      w: 12,
      h: 8,
      overrides: [{ matcher: { id: 'byName', options: 'spend_usd' }, properties: [{ id: 'unit', value: 'currencyUSD' }] }],
      targets: [
        target(
          `SELECT ${R.Provider} AS provider, ${R.RequestModel} AS model, ${ROLLUP_CALLS} AS calls, sum(${R.InputTokens}) AS input, sum(${R.CacheReadTokens}) AS cache_read,
  sum(${R.CacheWriteTokens}) AS cache_write, sum(${R.OutputTokens}) AS output, sum(${R.ReasoningTokens}) AS reasoning, ${ROLLUP_SPEND} AS spend_usd, sum(${R.UnpricedCalls}) AS calls_without_cost
FROM ${t.rollup}
WHERE $__timeFilter(${R.Minute})
  AND ${callFilters()}
GROUP BY provider, model
ORDER BY spend_usd DESC`,
          Format.Table,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Spend avoided by the cache, by model',
      description: 'Cache hits × average cost of a non-cached successful call of the same model in the range (an estimate until the proxy records llm_sidecar.cache.saved_usd).',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      overrides: [{ matcher: { id: 'byName', options: 'hits' }, properties: [{ id: 'unit', value: 'short' }] }],
      targets: [target(cacheAvoidedByModelSql(t), Format.Table)],
    }),
  ];

  const budget = [
    panel({
      type: 'bargauge',
      title: 'Budget used this month, per tenant',
      description: `Month-to-date spend as a share of the tenant's monthly budget (UTC month, ignores the time range). Orange from 80 %, red from 100 %. ${budgetNote}`,
      w: 12,
      h: 8,
      unit: 'percent',
      defaults: {
        min: 0,
        max: 120,
        displayName: '${__data.fields.tenant}',
        thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 80 }, { color: 'red', value: 100 }] },
      },
      options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/^used_pct$/', values: true } },
      targets: [target(`SELECT tenant, used_pct FROM (\n${budgetBurnSql(t, budgets)}\n) WHERE budget_usd IS NOT NULL`, Format.Table)],
    }),
    panel({
      type: 'table',
      title: 'Budget burn and projected month end, per tenant',
      description: `Month-to-date spend, monthly budget, share used and the linear projection to the end of the UTC month. ${budgetNote}`,
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      defaults: { thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 80 }, { color: 'red', value: 100 }] } },
      overrides: ['used_pct', 'projected_pct'].map((f) => ({
        matcher: { id: 'byName' as const, options: f },
        properties: [
          { id: 'unit', value: 'percent' },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ],
      })),
      targets: [target(budgetBurnSql(t, budgets), Format.Table)],
    }),
  ];

  return dashboard({
    uid: COST_UID,
    title: 'LLM sidecar — Cost',
    description: 'Spend at list prices by model, provider, service, tenant, user and feature; cost per request; tokens; spend avoided by the cache; budget burn and month-end projection.',
    tags: ['cost'],
    time: 'now-7d',
    variables: callVariables(t),
    rows: [
      { title: 'Overview', panels: overview },
      { title: 'Spend over time', panels: spend },
      { title: 'Tokens and cache', panels: tokens },
      { title: 'Budgets (month to date, UTC)', panels: budget },
    ],
  });
}
