// Quality dashboard: the evaluator's scores (llm_evaluations) and end users' feedback
// (llm_feedback): weekly averages per evaluator with week-over-week change by model, route and
// service; score distribution; the lowest-scored recent calls with their explanation and trace;
// feedback volume and thumbs-up ratio; judge agreement; judge spend.
// Scores are read on a 0..1 scale (the buckets of the distribution and the agreement threshold).
import { Format, dashboard, panel, target, type Dashboard, type FieldOverride } from './builder.ts';
import { feedbackSql, qualityWeekOverWeekSql } from './queries.ts';
import { SCORE_LABEL_NOT_APPLICABLE } from '../shared/clickhouse/schema.ts';
import { CALIBRATION as K, EVALS as E, FEEDBACK as F, SCORE_PASS, variableFilter, evaluationFilters, feedbackFilters, traceIdOverride, type Tables } from './sql.ts';
import { callVariables, evaluatorVariable } from './variables.ts';
import { CACHE_EQUIVALENCE_PANEL, cacheEquivalencePanelSql } from './cache-equivalence.ts';

export const QUALITY_UID = 'llm-sidecar-quality';

/** The latest calibration run per evaluator version and labelled set (not time-filtered: a version is calibrated once, whenever). */
export function calibrationSql(t: Tables): string {
  return `SELECT ${K.Evaluator} AS evaluator, ${K.EvaluatorVersion} AS version, ${K.JudgeModel} AS judge_model, ${K.LabelsFile} AS labels,
  ${K.Examples} AS examples, ${K.Errors} AS errors, ${K.Accuracy} AS accuracy, ${K.Kappa} AS kappa, ${K.Spearman} AS spearman, ${K.Mae} AS mae,
  ${K.RunAt} AS calibrated_at
FROM ${t.calibration} FINAL
WHERE ${variableFilter(K.Evaluator, 'evaluator')}
ORDER BY evaluator, version, calibrated_at DESC`;
}
const byLabel = (label: string) => ({ displayName: `\${__field.labels.${label}}` });

/**
 * Live judge agreement per evaluator version: on calls that have both a score and users' thumbs,
 * the share where the judge (score ≥ 0.5) and the users (average thumb > 0) agree. The reference
 * is calibration against human labels (calibrationSql); this shows drift on real traffic.
 */
export function judgeAgreementSql(t: Tables): string {
  return `SELECT e.${E.Evaluator} AS evaluator, e.${E.EvaluatorVersion} AS version, count() AS rated_calls,
  avg((e.${E.ScoreValue} >= ${SCORE_PASS}) = (f.user_score > 0)) AS agreement,
  avg(e.${E.ScoreValue}) AS avg_score
FROM (
  SELECT ${E.TraceId}, ${E.SpanId}, ${E.Evaluator}, ${E.EvaluatorVersion}, ${E.ScoreValue}
  FROM ${t.evaluations} FINAL
  WHERE $__timeFilter(${E.Timestamp}) AND ${E.ScoreValue} IS NOT NULL
    AND ${evaluationFilters(t)}
) AS e
INNER JOIN (
  SELECT ${F.TraceId}, ${F.SpanId}, avg(${F.Score}) AS user_score
  FROM ${t.feedback} FINAL
  WHERE ${F.Timestamp} >= $__fromTime AND ${F.Score} != 0
  GROUP BY ${F.TraceId}, ${F.SpanId}
) AS f ON e.${E.TraceId} = f.${F.TraceId} AND e.${E.SpanId} = f.${F.SpanId}
WHERE f.user_score != 0
GROUP BY evaluator, version
ORDER BY evaluator, version`;
}

/**
 * Users' feedback on calls, newest first, beside what the judges scored the same call (joined on
 * trace and span id): where a thumbs-down meets a high judge score, the judge misses something.
 */
export function feedbackBesideScoresSql(t: Tables): string {
  return `SELECT f.${F.Timestamp} AS time, f.${F.Name} AS name, if(f.${F.Label} != '', f.${F.Label}, toString(f.${F.Score})) AS value, f.${F.User} AS user,
  f.${F.Comment} AS comment, ifNull(e.judge_scores, '') AS judge_scores, f.${F.TraceId} AS ${F.TraceId}
FROM (
  SELECT ${F.Timestamp}, ${F.TraceId}, ${F.SpanId}, ${F.Name}, ${F.Label}, ${F.Score}, ${F.User}, ${F.Comment}
  FROM ${t.feedback} FINAL
  WHERE $__timeFilter(${F.Timestamp})
    AND ${feedbackFilters(t)}
) AS f
LEFT JOIN (
  SELECT ${E.TraceId}, ${E.SpanId}, arrayStringConcat(arraySort(groupArray(concat(${E.Evaluator}, ' ', toString(round(${E.ScoreValue}, 2))))), ', ') AS judge_scores
  FROM ${t.evaluations} FINAL
  WHERE ${E.Timestamp} >= $__fromTime - INTERVAL 7 DAY AND ${E.ScoreValue} IS NOT NULL
  GROUP BY ${E.TraceId}, ${E.SpanId}
) AS e ON f.${F.TraceId} = e.${E.TraceId} AND f.${F.SpanId} = e.${E.SpanId}
ORDER BY time DESC
LIMIT 100`;
}

export function qualityDashboard(t: Tables): Dashboard {
  const f = evaluationFilters(t);
  const stat = (title: string, description: string, sql: string, unit: string, w: number, overrides: FieldOverride[] = []) => panel({ type: 'stat', title, description, w, h: 4, unit, overrides, targets: [target(sql, Format.Table)] });
  const property = (field: string, id: string, value: unknown): FieldOverride => ({ matcher: { id: 'byName', options: field }, properties: [{ id, value }] });

  const overview = [
    stat(
      'Evaluations · average score',
      'Scored evaluations in the range (latest per call × evaluator × version) and their average score (0..1). Failed evaluations have no score; not applicable: the evaluator did not apply to the call (e.g. a JSON check on a free-text answer).',
      `SELECT countIf(${E.ScoreValue} IS NOT NULL) AS evaluations, avg(${E.ScoreValue}) AS average_score, countIf(${E.ErrorType} != '') AS failed_evaluations,
  countIf(${E.ScoreLabel} = '${SCORE_LABEL_NOT_APPLICABLE}') AS not_applicable
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp})
  AND ${f}`,
      'none',
      8,
      [property('average_score', 'decimals', 3)],
    ),
    stat('Feedback · thumbs up', 'End-user ratings in the range and the share of thumbs up among thumbs (llm_feedback).', feedbackSql(t), 'none', 8, [property('thumbs_up_ratio', 'unit', 'percentunit')]),
    stat(
      'Judge spend',
      'What the LLM judge cost in the range (judge calls at list prices).',
      `SELECT toFloat64(sum(${E.JudgeCostUsd})) AS judge_spend_usd
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp})
  AND ${f}`,
      'currencyUSD',
      8,
    ),
  ];

  const trends = [
    panel({
      type: 'timeseries',
      title: 'Weekly average score per evaluator',
      description: 'Average score per evaluator per ISO week (Monday, UTC) of the evaluated calls.',
      w: 12,
      h: 8,
      unit: 'none',
      defaults: { ...byLabel('evaluator'), min: 0, max: 1, custom: { drawStyle: 'line', showPoints: 'always', lineWidth: 2 } },
      targets: [
        target(
          `SELECT toDateTime(toStartOfWeek(${E.Timestamp}, 1, 'UTC'), 'UTC') AS time, ${E.Evaluator} AS evaluator, avg(${E.ScoreValue}) AS average_score
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp})
  AND ${f}
GROUP BY time, evaluator
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'barchart',
      title: 'Score distribution',
      description: 'Evaluations per score band of 0.1 (selected evaluators; 1.0 falls in the top band).',
      w: 12,
      h: 8,
      unit: 'short',
      options: { xField: 'score_band' },
      targets: [
        target(
          `SELECT concat(toString(band / 10), '–', toString((band + 1) / 10)) AS score_band, evaluations
FROM (
  SELECT toUInt8(least(greatest(floor(${E.ScoreValue} * 10), 0), 9)) AS band, count() AS evaluations
  FROM ${t.evaluations} FINAL
  WHERE $__timeFilter(${E.Timestamp}) AND ${E.ScoreValue} IS NOT NULL
    AND ${f}
  GROUP BY band
)
ORDER BY band`,
          Format.Table,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Average score by evaluator, model, route and service — this week vs last week',
      description: 'Rolling weeks: the 7 days ending at the end of the time range, and the 7 days before. change = this_week − last_week.',
      w: 24,
      h: 9,
      unit: 'none',
      defaults: { decimals: 3 },
      overrides: [
        {
          matcher: { id: 'byName', options: 'change' },
          properties: [
            { id: 'custom.cellOptions', value: { type: 'color-text' } },
            { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'text', value: -0.02 }, { color: 'green', value: 0.02 }] } },
          ],
        },
        ...['evaluations_this_week', 'evaluations_last_week'].map((name) => ({ matcher: { id: 'byName' as const, options: name }, properties: [{ id: 'decimals', value: 0 }] })),
      ],
      targets: [target(qualityWeekOverWeekSql(t, [E.RequestModel, E.Route, E.ServiceName]), Format.Table)],
    }),
  ];

  const calls = [
    panel({
      type: 'table',
      title: 'Lowest-scored recent calls',
      description: "The 50 lowest scores in the range, newest first among equals, with the judge's explanation. Click TraceId to open the call's trace.",
      w: 24,
      h: 10,
      overrides: [traceIdOverride(t, E.TraceId), { matcher: { id: 'byName', options: 'explanation' }, properties: [{ id: 'custom.width', value: 520 }] }],
      targets: [
        target(
          `SELECT ${E.Timestamp} AS time, ${E.Evaluator} AS evaluator, ${E.EvaluatorVersion} AS version, ${E.ScoreValue} AS score, ${E.ScoreLabel} AS label,
  ${E.Explanation} AS explanation, ${E.RequestModel} AS model, ${E.Route} AS route, ${E.ServiceName} AS service, ${E.TraceId}
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp}) AND ${E.ScoreValue} IS NOT NULL
  AND ${f}
ORDER BY score ASC, time DESC
LIMIT 50`,
          Format.Table,
        ),
      ],
    }),
  ];

  const people = [
    panel({
      type: 'timeseries',
      title: 'Feedback volume and thumbs-up ratio',
      description: 'End-user ratings per interval (bars) and the share of thumbs up among thumbs (line, right axis).',
      w: 12,
      h: 8,
      unit: 'short',
      defaults: { custom: { drawStyle: 'bars', fillOpacity: 60 } },
      overrides: [
        {
          matcher: { id: 'byName', options: 'thumbs_up_ratio' },
          properties: [
            { id: 'unit', value: 'percentunit' },
            { id: 'custom.axisPlacement', value: 'right' },
            { id: 'custom.drawStyle', value: 'line' },
            { id: 'min', value: 0 },
            { id: 'max', value: 1 },
          ],
        },
      ],
      targets: [
        target(
          `SELECT $__timeInterval(${F.Timestamp}) AS time, count() AS ratings, countIf(${F.Score} > 0) / nullIf(countIf(${F.Score} != 0), 0) AS thumbs_up_ratio
FROM ${t.feedback} FINAL
WHERE $__timeFilter(${F.Timestamp})
  AND ${feedbackFilters(t)}
GROUP BY time
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Judge calibration against human labels',
      description:
        'From `llm-sidecar evaluator calibrate` (llm_eval_calibration): per evaluator version and labelled set, how often the judge agreed with the humans (accuracy), chance-corrected agreement (Cohen\'s kappa), rank correlation (Spearman) and mean absolute error on scales; the latest run per set. Empty until a calibration has run.',
      w: 24,
      h: 8,
      overrides: [{ matcher: { id: 'byName', options: 'accuracy' }, properties: [{ id: 'unit', value: 'percentunit' }] }],
      targets: [target(calibrationSql(t), Format.Table)],
    }),
    panel({
      type: 'table',
      title: 'Judge agreement per evaluator version',
      description: `Live agreement with end users: on calls rated by users, the share where the judge (score ≥ ${SCORE_PASS}) and the users (average thumb > 0) agree. rated_calls is how many such calls back the figure. The calibration table above is the reference; a gap between the two is drift on real traffic.`,
      w: 12,
      h: 8,
      overrides: [{ matcher: { id: 'byName', options: 'agreement' }, properties: [{ id: 'unit', value: 'percentunit' }] }],
      targets: [target(judgeAgreementSql(t), Format.Table)],
    }),
    panel({
      type: 'table',
      title: "User feedback beside the judges' scores",
      description:
        "The latest 100 pieces of end-user feedback in the range (thumbs, stars, labels from POST /llm-sidecar/v1/feedback or recordFeedback), with the judges' scores of the same call. A thumbs-down beside high judge scores is where the judge misses what users see. Click TraceId to open the call.",
      w: 24,
      h: 9,
      overrides: [traceIdOverride(t, F.TraceId), { matcher: { id: 'byName', options: 'comment' }, properties: [{ id: 'custom.width', value: 420 }] }],
      targets: [target(feedbackBesideScoresSql(t), Format.Table)],
    }),
    panel({
      type: 'timeseries',
      title: 'Judge spend by judge model',
      description: 'Spend of the LLM judge per interval (list prices) and judge model (checks without a judge cost nothing and are left out; an interval whose judge calls all failed shows 0).',
      w: 12,
      h: 8,
      unit: 'currencyUSD',
      defaults: { ...byLabel('judge_model'), custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } } },
      targets: [
        target(
          `SELECT $__timeInterval(${E.Timestamp}) AS time, ${E.JudgeModel} AS judge_model, toFloat64(ifNull(sum(${E.JudgeCostUsd}), 0)) AS judge_spend_usd
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp})
  AND ${E.JudgeModel} != ''
  AND ${f}
GROUP BY time, judge_model
ORDER BY time`,
          Format.TimeSeries,
        ),
      ],
    }),
    panel({
      type: 'table',
      title: 'Judge tokens and failures by evaluator',
      description: 'Judge tokens, spend and failed evaluations (ErrorType set: no score) per evaluator and version in the range.',
      w: 12,
      h: 8,
      overrides: [{ matcher: { id: 'byName', options: 'judge_spend_usd' }, properties: [{ id: 'unit', value: 'currencyUSD' }] }],
      targets: [
        target(
          `SELECT ${E.Evaluator} AS evaluator, ${E.EvaluatorVersion} AS version, ${E.JudgeModel} AS judge_model, count() AS evaluations, countIf(${E.ErrorType} != '') AS failed,
  sum(${E.JudgeInputTokens}) AS judge_input_tokens, sum(${E.JudgeOutputTokens}) AS judge_output_tokens, toFloat64(sum(${E.JudgeCostUsd})) AS judge_spend_usd
FROM ${t.evaluations} FINAL
WHERE $__timeFilter(${E.Timestamp})
  AND ${f}
GROUP BY evaluator, version, judge_model
ORDER BY evaluator, version`,
          Format.Table,
        ),
      ],
    }),
  ];

  // The semantic cache's watch (cache-equivalence.ts): sampled semantic hits judged by cache_equivalence.
  const semanticCache = [
    panel({
      type: 'timeseries',
      title: CACHE_EQUIVALENCE_PANEL,
      description:
        'Share of sampled semantic-cache hits whose cached answer the cache_equivalence judge found to answer the question asked, per route and interval. A failed score is a wrong answer served from the cache. Empty until the evaluator runs cache_equivalence (proxy/cache/README.md, "Watching it").',
      w: 24,
      h: 8,
      unit: 'percentunit',
      defaults: { ...byLabel('route'), min: 0, max: 1, custom: { drawStyle: 'line', showPoints: 'always', lineWidth: 2 } },
      targets: [target(cacheEquivalencePanelSql(t, f), Format.TimeSeries)],
    }),
  ];

  return dashboard({
    uid: QUALITY_UID,
    title: 'LLM sidecar — Quality',
    description: "Scores of the LLM judge on sampled live traffic (llm_evaluations) and end users' feedback (llm_feedback): weekly trends, distribution, worst calls, agreement, judge cost.",
    tags: ['quality'],
    time: 'now-30d',
    variables: [...callVariables(t), evaluatorVariable(t)],
    rows: [
      { title: 'Overview', panels: overview },
      { title: 'Trends', panels: trends },
      { title: 'Worst calls', panels: calls },
      { title: 'Users and the judge', panels: people },
      { title: 'Semantic cache', panels: semanticCache },
    ],
  });
}
