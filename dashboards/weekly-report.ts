// `llm-sidecar report --weekly`: the ML lead's digest. Per evaluator × feature × model, this week's
// scores (the 7 days before `to`) against last week's (the 7 days before that), with the counts,
// the means, the change and whether it is more than noise — a two-proportion test for pass/fail
// scores, Mann-Whitney U for scales (weekly-stats.ts) — biggest drops first. Text for the
// terminal, markdown to paste into a team channel, JSON for scripts.
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS, qualified } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { isPassFail, weekOverWeekTest } from './weekly-stats.ts';

export type WeeklyFormat = 'text' | 'markdown' | 'json';
export const WEEKLY_FORMATS: readonly WeeklyFormat[] = ['text', 'markdown', 'json'];

/** Significance level of the flag. */
export const ALPHA = 0.05;
/** Scores needed on each side before a change is tested (fewer: shown, never flagged). */
export const MIN_SCORES = 5;
/** Scores read per group and week (a random sample beyond: the means and tests stay honest). */
const MAX_SCORES = 20_000;

export interface WeeklyRow {
  evaluator: string;
  feature: string;
  model: string;
  scoreType: 'pass/fail' | 'scale';
  lastWeek: { scores: number; mean: number | null };
  thisWeek: { scores: number; mean: number | null };
  /** thisWeek.mean − lastWeek.mean; null when a week has no scores. */
  change: number | null;
  test: 'two-proportion' | 'mann-whitney' | null;
  p: number | null;
  significant: boolean;
}

export interface WeeklyReport {
  /** ISO times: last week starts at `from`, this week at `middle`, ends at `to`. */
  from: string;
  middle: string;
  to: string;
  rows: WeeklyRow[];
}

const WEEK_MS = 7 * 86_400_000;

export async function weeklyReport(store: ClickHouseStore, database: string, to: Date = new Date()): Promise<WeeklyReport> {
  const toMs = to.getTime();
  const rows = await store.query<{ evaluator: string; feature: string; model: string; this_week: number[]; last_week: number[] }>(
    `SELECT e.${E.Evaluator} AS evaluator, if(c.${C.Feature} = '', '(none)', c.${C.Feature}) AS feature, e.${E.RequestModel} AS model,
  groupArraySampleIf(${MAX_SCORES}, 1)(e.score, e.${E.Timestamp} >= fromUnixTimestamp64Milli({middle:Int64})) AS this_week,
  groupArraySampleIf(${MAX_SCORES}, 1)(e.score, e.${E.Timestamp} < fromUnixTimestamp64Milli({middle:Int64})) AS last_week
FROM (
  SELECT ${E.Timestamp}, ${E.TraceId}, ${E.SpanId}, ${E.Evaluator}, ${E.RequestModel}, assumeNotNull(${E.ScoreValue}) AS score
  FROM ${qualified(database, TABLE_LLM_EVALUATIONS)} FINAL
  WHERE ${E.Timestamp} >= fromUnixTimestamp64Milli({from:Int64}) AND ${E.Timestamp} < fromUnixTimestamp64Milli({to:Int64}) AND ${E.ScoreValue} IS NOT NULL
) AS e
LEFT JOIN (
  SELECT ${C.TraceId}, ${C.SpanId}, ${C.Feature}
  FROM ${qualified(database, TABLE_LLM_CALLS)}
  WHERE ${C.Timestamp} >= fromUnixTimestamp64Milli({from:Int64}) AND ${C.Timestamp} < fromUnixTimestamp64Milli({to:Int64}) AND ${C.EvalSampled} = 1
) AS c ON e.${E.TraceId} = c.${C.TraceId} AND e.${E.SpanId} = c.${C.SpanId}
GROUP BY evaluator, feature, model`,
    { from: toMs - 2 * WEEK_MS, middle: toMs - WEEK_MS, to: toMs },
  );
  const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  const out: WeeklyRow[] = rows.map((r) => {
    const last = r.last_week.map(Number);
    const now = r.this_week.map(Number);
    const lastMean = mean(last);
    const nowMean = mean(now);
    const testable = last.length >= MIN_SCORES && now.length >= MIN_SCORES;
    const t = testable ? weekOverWeekTest(last, now) : undefined;
    return {
      evaluator: r.evaluator,
      feature: r.feature,
      model: r.model,
      scoreType: isPassFail([...last, ...now]) ? 'pass/fail' : 'scale',
      lastWeek: { scores: last.length, mean: lastMean },
      thisWeek: { scores: now.length, mean: nowMean },
      change: lastMean === null || nowMean === null ? null : nowMean - lastMean,
      test: t?.test ?? null,
      p: t?.p ?? null,
      significant: t !== undefined && t.p < ALPHA,
    };
  });
  // Biggest drops first; groups missing a week last; ties in a stable, readable order.
  out.sort((a, b) => (a.change ?? Infinity) - (b.change ?? Infinity) || a.evaluator.localeCompare(b.evaluator) || a.feature.localeCompare(b.feature) || a.model.localeCompare(b.model));
  return { from: new Date(toMs - 2 * WEEK_MS).toISOString(), middle: new Date(toMs - WEEK_MS).toISOString(), to: to.toISOString(), rows: out };
}

const fmt = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));
const signed = (v: number | null) => (v === null ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`);
const pValue = (p: number | null) => (p === null ? 'n/a' : p < 0.001 ? '<0.001' : p.toFixed(3));
const flag = (r: WeeklyRow) => (!r.significant ? '' : (r.change ?? 0) < 0 ? 'significant drop' : 'significant rise');

function cells(r: WeeklyRow): string[] {
  return [r.evaluator, r.feature, r.model, r.scoreType, `${fmt(r.lastWeek.mean)} (n=${r.lastWeek.scores})`, `${fmt(r.thisWeek.mean)} (n=${r.thisWeek.scores})`, signed(r.change), pValue(r.p), flag(r)];
}

const HEADER = ['evaluator', 'feature', 'model', 'type', 'last week', 'this week', 'change', 'p', ''];

export function formatWeekly(report: WeeklyReport, format: WeeklyFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2);
  const title = `Weekly quality: ${report.middle.slice(0, 10)} → ${report.to.slice(0, 10)} against the week before (p: ${'two-proportion test for pass/fail, Mann-Whitney U for scales'}; flagged below ${ALPHA}, at least ${MIN_SCORES} scores a week)`;
  if (report.rows.length === 0) return `${title}\n\nNo scores in the last two weeks.`;
  const table = report.rows.map(cells);
  if (format === 'markdown') {
    const line = (c: string[]) => `| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
    const md = table.map((c) => {
      const copy = [...c];
      copy[8] = copy[8] ? `**${copy[8]}**` : '';
      return line(copy);
    });
    return [`**${title}**`, '', line(HEADER), `|${HEADER.map(() => ' --- ').join('|')}|`, ...md].join('\n');
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((c) => (c[i] as string).length)));
  const row = (c: string[]) => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [title, '', row(HEADER), ...table.map(row)].join('\n');
}
