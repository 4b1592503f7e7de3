// Prometheus text for the evaluator's admin port (/metrics): what this process wrote and spent.
// Quality itself is read from ClickHouse (dashboards); these are for alerting on a stuck evaluator.
import type { EvaluatorStats } from './service.ts';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(stats: EvaluatorStats): string {
  const lines = [
    '# HELP llm_sidecar_evaluator_rows_total Evaluation rows written by this process, by evaluator, version and outcome.',
    '# TYPE llm_sidecar_evaluator_rows_total counter',
  ];
  for (const [key, outcomes] of Object.entries(stats.rows)) {
    const at = key.lastIndexOf('@');
    const labels = `evaluator="${esc(key.slice(0, at))}",version="${esc(key.slice(at + 1))}"`;
    for (const [outcome, n] of Object.entries(outcomes)) lines.push(`llm_sidecar_evaluator_rows_total{${labels},outcome="${outcome}"} ${n}`);
  }
  lines.push(
    '# HELP llm_sidecar_evaluator_judge_cost_usd_total Judge spend of this process at list prices (USD).',
    '# TYPE llm_sidecar_evaluator_judge_cost_usd_total counter',
    `llm_sidecar_evaluator_judge_cost_usd_total ${Number(stats.judgeCostUsd)}`,
    '# HELP llm_sidecar_evaluator_passes_total Passes over the sampled calls.',
    '# TYPE llm_sidecar_evaluator_passes_total counter',
    `llm_sidecar_evaluator_passes_total ${stats.passes}`,
    '# HELP llm_sidecar_evaluator_last_pass_timestamp_seconds End of the last pass (0 before the first): alert when it stops moving.',
    '# TYPE llm_sidecar_evaluator_last_pass_timestamp_seconds gauge',
    `llm_sidecar_evaluator_last_pass_timestamp_seconds ${stats.lastPassAt / 1000}`,
  );
  return `${lines.join('\n')}\n`;
}
