// `llm-sidecar report`: the dashboards' key figures as terminal text, from the store. It runs the
// dashboards' own SQL (queries.ts) with every variable at "All", expanded as Grafana would for
// the window, so the report and the dashboards cannot disagree.
//
//   runReport({ store, database })                  last 24 hours and last 7 days, quality over 7 days
//   runReport({ store, database, from, to })        one window [from, to]
import { LLM_CALLS_1M as R, TABLE_LLM_CALLS, TABLE_LLM_CALLS_1M, TABLE_LLM_EVALUATIONS, TABLE_LLM_FEEDBACK, TABLE_OTEL_TRACES, assertIdentifier } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { ALL_SENTINEL } from './builder.ts';
import { expandGrafanaSql, type VariableValue } from './macros.ts';
import {
  breakerSkipsSql,
  costPerRequestSql,
  errorRateSql,
  feedbackSql,
  latencySql,
  qualityWeekOverWeekSql,
  requestsSql,
  resilienceSql,
  spendByDimensionSql,
  spendSql,
  topErrorsSql,
  unpricedSql,
} from './queries.ts';
import { cacheAvoidedByModelSql, cacheSavedRecordedSql } from './cost.ts';
import { tables, type Tables } from './sql.ts';
import { ALL_VARIABLE_NAMES } from './variables.ts';

export interface ReportOptions {
  store: ClickHouseStore;
  /** Database holding the llm-sidecar tables (usually `otel`). */
  database: string;
  /** Window start (Date or anything `new Date()` parses), rounded down to the minute; with `to`, the report covers [from, to] only. */
  from?: Date | string;
  /** Window end; default now. */
  to?: Date | string;
  /** The current time (tests). */
  now?: Date;
}

type Row = Record<string, unknown>;

const REQUIRED_TABLES = [TABLE_OTEL_TRACES, TABLE_LLM_CALLS, TABLE_LLM_CALLS_1M, TABLE_LLM_EVALUATIONS, TABLE_LLM_FEEDBACK];
const ALL: Record<string, VariableValue> = Object.fromEntries(ALL_VARIABLE_NAMES.map((n) => [n, { selected: 'all' as const, allValue: `'${ALL_SENTINEL}'` }]));

function toDate(v: Date | string, what: string): Date {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`report: ${what} ${JSON.stringify(String(v))} is not a date (use e.g. 2025-01-31 or 2025-01-31T12:00:00Z)`);
  return d;
}

const n = (v: unknown): number | undefined => {
  if (v === null || v === undefined || v === '') return undefined;
  const x = Number(v);
  return Number.isFinite(x) ? x : undefined;
};

export function formatCount(v: unknown): string {
  const x = n(v);
  return x === undefined ? '–' : Math.round(x).toLocaleString('en-US');
}

export function formatPercent(v: unknown, digits = 1): string {
  const x = n(v);
  return x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`;
}

export function formatMs(v: unknown): string {
  const x = n(v);
  if (x === undefined) return '–';
  return x >= 100 ? `${Math.round(x).toLocaleString('en-US')} ms` : `${x.toFixed(1)} ms`;
}

export function formatUsd(v: unknown): string {
  const x = n(v);
  if (x === undefined) return '–';
  if (x === 0) return '$0';
  if (Math.abs(x) >= 1) return `$${x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  return `$${x.toPrecision(3)}`;
}

function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function pad(s: string, width: number): string {
  return s.length >= width ? `${s} ` : s + ' '.repeat(width - s.length);
}

class Runner {
  constructor(
    private readonly store: ClickHouseStore,
    readonly t: Tables,
  ) {}

  async rows(sql: string, from: Date, to: Date): Promise<Row[]> {
    return this.store.query<Row>(expandGrafanaSql(sql, { from, to, intervalSeconds: 60, variables: ALL }));
  }

  async one(sql: string, from: Date, to: Date): Promise<Row> {
    return (await this.rows(sql, from, to))[0] ?? {};
  }
}

async function windowSection(r: Runner, title: string, from: Date, to: Date): Promise<string[]> {
  const t = r.t;
  const out = [`${title}  (${formatTime(from)} → ${formatTime(to)})`];
  const calls = n((await r.one(requestsSql(t), from, to)).requests) ?? 0;
  if (calls === 0) {
    out.push('  no LLM calls recorded in this window');
    return out;
  }
  const [errors, latency, resilience, breaker, spend, perRequest, unpriced, byModel, byTenant, topErrors, avoided, saved] = await Promise.all([
    r.one(errorRateSql(t), from, to),
    r.one(latencySql(t), from, to),
    r.one(resilienceSql(t), from, to),
    r.one(breakerSkipsSql(t), from, to),
    r.one(spendSql(t), from, to),
    r.one(costPerRequestSql(t), from, to),
    r.one(unpricedSql(t), from, to),
    r.rows(spendByDimensionSql(t, R.RequestModel, 5), from, to),
    r.rows(spendByDimensionSql(t, R.Tenant, 5), from, to),
    r.rows(topErrorsSql(t, 5), from, to),
    r.one(`SELECT sum(avoided_usd) AS estimated_usd FROM (\n${cacheAvoidedByModelSql(t)}\n)`, from, to),
    r.one(cacheSavedRecordedSql(t), from, to),
  ]);
  const total = n(spend.spend_usd) ?? 0;
  out.push(
    `  ${pad('calls', 16)}${pad(formatCount(calls), 12)}error rate ${pad(formatPercent(errors.error_rate), 10)}fallbacks ${formatCount(resilience.fallback_calls)} (${formatPercent(resilience.fallback_rate)})   retried ${formatCount(resilience.retried_calls)}`,
    `  ${pad('latency p95', 16)}${pad(formatMs(latency.p95_latency_ms), 12)}TTFT p95 ${pad(formatMs(latency.p95_ttft_ms), 12)}sidecar overhead p99 ${formatMs(latency.p99_overhead_ms)}`,
    `  ${pad('cache hit rate', 16)}${pad(formatPercent(resilience.cache_hit_rate), 12)}spend avoided ${(n(saved.recorded_usd) ?? 0) > 0 ? `${formatUsd(saved.recorded_usd)} (recorded on hits)` : `≈ ${formatUsd(avoided.estimated_usd ?? 0)} (estimated)`}`,
    `  ${pad('breakers', 16)}${formatCount(breaker.breaker_skips)} calls turned away by an open circuit breaker`,
    `  ${pad('spend', 16)}${pad(formatUsd(total), 12)}${formatUsd(perRequest.usd_per_request)} per priced call${(n(unpriced.unpriced_calls) ?? 0) > 0 ? `, ${formatCount(unpriced.unpriced_calls)} ${n(unpriced.unpriced_calls) === 1 ? 'call' : 'calls'} without a price (cost unknown)` : ''}`,
  );
  const share = (v: unknown) => (total > 0 ? ` (${formatPercent((n(v) ?? 0) / total, 0)})` : '');
  const list = (label: string, rows: Row[]) => {
    if (rows.length === 0) return;
    const item = (x: Row) => {
      const name = String(x.name) || '(none)';
      // Every call without a cost: its spend is unknown, not $0.
      if ((n(x.spend_usd) ?? 0) === 0 && n(x.calls_without_cost) === n(x.calls)) return `${name} (no price)`;
      return `${name} ${formatUsd(x.spend_usd)}${share(x.spend_usd)}`;
    };
    out.push(`  ${pad(label, 16)}${rows.map(item).join(' · ')}`);
  };
  list('spend by model', byModel);
  list('spend by tenant', byTenant);
  if (topErrors.length > 0) {
    out.push('  top errors');
    for (const e of topErrors) {
      const status = n(e.http_status) ? `HTTP ${String(e.http_status)}` : 'no response';
      out.push(`    ${pad(formatCount(e.calls), 7)}${pad(String(e.error_type) || 'error', 24)}${pad(`${String(e.provider)}/${String(e.model)}`, 30)}${pad(`route ${String(e.route)}`, 16)}${pad(status, 13)}trace ${String(e.trace_id)}`);
    }
  }
  return out;
}

async function qualitySection(r: Runner, to: Date): Promise<string[]> {
  const weekAgo = new Date(to.getTime() - 7 * 86_400_000);
  const [scores, feedback] = await Promise.all([r.rows(qualityWeekOverWeekSql(r.t), weekAgo, to), r.one(feedbackSql(r.t), weekAgo, to)]);
  const out = [`Quality  (7 days to ${formatTime(to)}, vs the 7 days before)`];
  if (scores.length === 0) out.push('  no evaluations recorded (is the evaluator running?)');
  for (const s of scores) {
    const change = n(s.change);
    const delta = change === undefined ? '' : `  ${change >= 0 ? '+' : '−'}${Math.abs(change).toFixed(3)}`;
    const last = n(s.last_week) === undefined ? 'no score the week before' : `week before ${(n(s.last_week) as number).toFixed(3)} (${formatCount(s.evaluations_last_week)})`;
    const now = n(s.this_week) === undefined ? '–' : (n(s.this_week) as number).toFixed(3);
    out.push(`  ${pad(String(s.Evaluator), 16)}avg ${pad(now, 7)}(${formatCount(s.evaluations_this_week)} evaluations)  ${last}${delta}`);
  }
  const ratings = n(feedback.ratings) ?? 0;
  out.push(`  ${pad('user feedback', 16)}${ratings === 0 ? 'no ratings' : `${formatCount(ratings)} ratings, ${formatPercent(feedback.thumbs_up_ratio, 0)} thumbs up`}`);
  return out;
}

/** The report's text (lines joined with \n, ending with a newline). */
export async function runReport(options: ReportOptions): Promise<string> {
  const database = assertIdentifier(options.database, 'database');
  const { store } = options;
  const present = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db: database });
  const names = new Set(present.map((p) => p.name));
  const missing = REQUIRED_TABLES.filter((x) => !names.has(x));
  if (missing.length > 0) {
    throw new Error(`report: database "${database}" in ${store.location} has no ${missing.join(', ')}: run "llm-sidecar migrate" (or start the sidecar once) against this store first`);
  }
  const r = new Runner(store, tables(database));
  const now = options.now ?? new Date();
  const minute = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);
  const lines = [`llm-sidecar report — ClickHouse ${store.kind} (${store.location}), database ${database}`, `generated ${formatTime(now)} · the figures of the SRE, Cost and Quality dashboards`, ''];

  if (options.from !== undefined || options.to !== undefined) {
    const to = options.to !== undefined ? toDate(options.to, '--to') : now;
    let from = options.from !== undefined ? toDate(options.from, '--from') : new Date(to.getTime() - 86_400_000);
    if (from.getTime() >= to.getTime()) throw new Error(`report: --from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
    // The per-minute rollup cannot start mid-minute: every figure starts at the whole minute.
    from = minute(from);
    lines.push(...(await windowSection(r, 'Window', from, to)), '', ...(await qualitySection(r, to)));
  } else {
    lines.push(...(await windowSection(r, 'Last 24 hours', minute(new Date(now.getTime() - 86_400_000)), now)), '');
    lines.push(...(await windowSection(r, 'Last 7 days', minute(new Date(now.getTime() - 7 * 86_400_000)), now)), '');
    lines.push(...(await qualitySection(r, now)));
  }
  return `${lines.join('\n')}\n`;
}
