// The production watch on the semantic cache (issue #17): the `cache_equivalence` judge scores
// sampled semantic hits ("does the cached answer answer this question?", evaluator/
// cache-equivalence.ts); its pass rate per route is a Quality panel, and a rule fires when a route's
// pass rate over the last day falls below a floor. A semantic hit that fails this judge is a wrong
// answer served with a 200: the one failure no other panel shows. The floor is configurable
// (`dashboards/generate.ts --cache-equivalence-floor`, or the thresholds passed to alertRules); a
// route needs enough scores in the window before it can fire (no alert on 3 scores).
import { EVALS as E, type Tables } from './sql.ts';

export const CACHE_EQUIVALENCE_EVALUATOR = 'cache_equivalence';
export const CACHE_EQUIVALENCE_PANEL = 'Semantic cache: cached answers that fit the question (cache_equivalence pass rate per route)';

export interface CacheEquivalenceThresholds {
  /** Fire when a route's pass rate over the window is below this (0..1). */
  floor: number;
  /** Scores a route needs in the window before the rule can fire. */
  minScores: number;
}

/** 0.95: one semantic hit in twenty judged a wrong answer is already far below the cache's measured precision (proxy/cache/README.md). */
export const DEFAULT_CACHE_EQUIVALENCE: CacheEquivalenceThresholds = { floor: 0.95, minScores: 20 };

/** Pass rate per interval and route (panel; `filters` are the dashboard's evaluation filters). */
export function cacheEquivalencePanelSql(t: Tables, filters: string): string {
  return `SELECT $__timeInterval(${E.Timestamp}) AS time, ${E.Route} AS route, avg(${E.ScoreValue}) AS pass_rate
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp}) AND ${E.Evaluator} = '${CACHE_EQUIVALENCE_EVALUATOR}' AND ${E.ScoreValue} IS NOT NULL
  AND ${filters}
GROUP BY time, route
ORDER BY time`;
}

/** Pass rate per route over the rule's window, routes with at least minScores scores only (alert rule). */
export function cacheEquivalenceAlertSql(t: Tables, th: CacheEquivalenceThresholds): string {
  return `SELECT ${E.Route} AS route, avg(${E.ScoreValue}) AS pass_rate
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp}) AND ${E.Evaluator} = '${CACHE_EQUIVALENCE_EVALUATOR}' AND ${E.ScoreValue} IS NOT NULL
GROUP BY route
HAVING count() >= ${th.minScores}`;
}
