// Quality alert rules, provisioned beside the SRE and cost rules (alerts.ts): the rules an ML lead
// wants a page or a channel message for.
//   - quality drop: an evaluator's mean score this week (7 days) against the four weeks before, per
//     feature and over all features, past a configurable drop and with a minimum of scores on both
//     sides (no alert on 3 scores);
//   - evaluator stalled: sampled calls older than the stall time that no evaluator row covers while
//     the service got no score at all for that long (the evaluator is down, stuck or cannot reach
//     the judge); a quiet service (no sampled calls) never fires;
//   - judge spend near its cap: today's (UTC) judge spend of an evaluator version over the daily cap
//     the configuration gives it (evaluation.evaluators … dailySpendCapUsd), written into the SQL at
//     generation time like the budgets (regenerate with --config); without caps the rule is quiet.
import { sqlString } from './sql.ts';
import { CALLS as C, EVALS as E, type Tables } from './sql.ts';

export interface QualityThresholds {
  /** Fire when this week's mean is below the previous four weeks' by more than this (scores 0..1). */
  drop: number;
  /** Scores needed this week and in the baseline before a drop can fire. */
  minScores: number;
  /** Sampled calls unscored for this long (and no score for the service for this long), seconds. */
  stallSeconds: number;
  /** Share of the daily judge spend cap that fires the spend rule. */
  judgeSpendShare: number;
}

export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = { drop: 0.1, minScores: 30, stallSeconds: 3600, judgeSpendShare: 0.8 };

/** Daily judge spend caps (USD per UTC day and evaluator version), by evaluator name; `defaultUsd` for the rest. */
export interface JudgeCaps {
  evaluators: Record<string, number>;
  defaultUsd?: number;
}

export const NO_JUDGE_CAPS: JudgeCaps = { evaluators: {} };

/** Caps from `evaluation.evaluators` (its default and each listed evaluator's own). */
export function judgeCapsFromConfig(evaluators: unknown): JudgeCaps {
  if (evaluators === null || typeof evaluators !== 'object') return NO_JUDGE_CAPS;
  const e = evaluators as { dailySpendCapUsd?: unknown; list?: unknown };
  const caps: JudgeCaps = { evaluators: {} };
  if (typeof e.dailySpendCapUsd === 'number') caps.defaultUsd = e.dailySpendCapUsd;
  for (const item of Array.isArray(e.list) ? e.list : []) {
    const { name, dailySpendCapUsd } = (item ?? {}) as { name?: unknown; dailySpendCapUsd?: unknown };
    if (typeof name === 'string' && typeof dailySpendCapUsd === 'number') caps.evaluators[name] = dailySpendCapUsd;
  }
  return caps;
}

/** A Nullable(Float64) expression: the cap of the evaluator in `evaluatorExpr` (NULL: none). */
export function judgeCapExpr(evaluatorExpr: string, caps: JudgeCaps): string {
  const dflt = caps.defaultUsd === undefined ? `CAST(NULL, 'Nullable(Float64)')` : `CAST(${caps.defaultUsd}, 'Nullable(Float64)')`;
  const names = Object.keys(caps.evaluators).sort();
  if (names.length === 0) return dflt;
  return `transform(toString(${evaluatorExpr}), [${names.map(sqlString).join(', ')}], [${names.map((n) => `CAST(${caps.evaluators[n]}, 'Nullable(Float64)')`).join(', ')}], ${dflt})`;
}

const WEEK = `INTERVAL 7 DAY`;
export const ALL_FEATURES = '(all features)';
export const NO_FEATURE = '(none)';

/**
 * this_week − previous four weeks per evaluator × feature, and per evaluator over all features.
 * Reads 35 days of scores ($__timeFilter over the rule's range) and nothing else: the call's feature
 * is on the score (llm_evaluations.Feature, migration 014; joining llm_calls for it took 0.73 s at
 * 10 M calls over 7 days).
 */
export function qualityDropSql(t: Tables, th: QualityThresholds): string {
  // One pass: per evaluator × feature and per evaluator over all features (GROUPING SETS; a CTE
  // read twice took 0.9 s at 4 M calls with no score at all).
  return `SELECT evaluator, if(grouping(call_feature) = 1, '${ALL_FEATURES}', call_feature) AS feature, avgIf(score, this_week) - avgIf(score, NOT this_week) AS score_change
FROM (
  SELECT ${E.Evaluator} AS evaluator, if(${E.Feature} = '', '${NO_FEATURE}', ${E.Feature}) AS call_feature, ${E.ScoreValue} AS score, ${E.Timestamp} >= $__toTime - ${WEEK} AS this_week
  FROM ${t.evaluations} FINAL
  WHERE $__timeFilter(${E.Timestamp}) AND ${E.ScoreValue} IS NOT NULL
)
GROUP BY GROUPING SETS ((evaluator, call_feature), (evaluator))
HAVING countIf(this_week) >= ${th.minScores} AND countIf(NOT this_week) >= ${th.minScores}`;
}

/** Unscored sampled calls older than the stall time, per service whose last score is older too. */
export function evaluatorStalledSql(t: Tables, th: QualityThresholds): string {
  return `SELECT c.service AS service, toFloat64(c.unscored) AS unscored_sampled_calls
FROM (
  SELECT ${C.ServiceName} AS service, count() AS unscored
  FROM ${t.calls}
  WHERE $__timeFilter(${C.Timestamp}) AND ${C.EvalSampled} = 1
    AND ${C.Timestamp} < $__toTime - INTERVAL ${th.stallSeconds} SECOND
    AND ${C.SpanId} NOT IN (SELECT ${E.SpanId} FROM ${t.evaluations} WHERE ${E.Timestamp} >= $__fromTime)
  GROUP BY service
) AS c
LEFT JOIN (
  SELECT ${E.ServiceName} AS service, max(${E.EvaluatedAt}) AS last_score
  FROM ${t.evaluations}
  WHERE ${E.EvaluatedAt} >= $__fromTime
  GROUP BY service
) AS e ON c.service = e.service
WHERE e.last_score < $__toTime - INTERVAL ${th.stallSeconds} SECOND`;
}

/** Today's (UTC) judge spend of each evaluator version over its daily cap. */
export function judgeSpendNearCapSql(t: Tables, caps: JudgeCaps): string {
  return `SELECT evaluator, version, spend_usd / cap_usd AS judge_cap_used
FROM (
  SELECT ${E.Evaluator} AS evaluator, ${E.EvaluatorVersion} AS version, toFloat64(sum(${E.JudgeCostUsd})) AS spend_usd, ${judgeCapExpr(E.Evaluator, caps)} AS cap_usd
  FROM ${t.evaluations} FINAL
  WHERE ${E.EvaluatedAt} >= toStartOfDay(now('UTC')) AND ${E.JudgeModel} != ''
  GROUP BY evaluator, version
)
WHERE cap_usd > 0`;
}
