// Calibration: run an evaluator on human-labelled examples and measure how well it agrees with the
// humans, per evaluator version, so a rubric or judge-model change is checked before it scores
// live traffic, and dashboards can show agreement next to the scores (llm_eval_calibration).
//
// Labels file: JSONL, one example per line: {"input": "...", "output": "...", "context"?: "...",
// "system"?: "...", "label": …} where label is, by the evaluator's output type:
//   scale      a number on the scale (e.g. 4 on 1–5)
//   pass_fail  "pass" / "fail" (or true / false)
//   labels     one of the evaluator's labels
//   checks     the check's label (valid / invalid / fenced, refusal / answered, complete / truncated / empty / filtered)
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { formatPicoUsd } from '../shared/pricing/cost.ts';
import { loadPriceTable, type PriceTable } from '../shared/pricing/price-table.ts';
import { accuracy, cohensKappa, confusion, meanAbsoluteError, spearman } from './agreement.ts';
import { EvaluatorSchema, resolveIdentity, type EvaluatorEntryInput, type EvaluatorsConfig } from '../shared/config/evaluators-schema.ts';
import { parseEvaluatorsConfig } from './config.ts';
import { resolveEvaluator, type Evaluator } from './definitions.ts';
import { evaluateContent, type EvaluateOutcome } from './evaluate.ts';
import { createJudgeClient } from './judge-client.ts';
import { exampleContent } from './messages.ts';
import { CALIBRATION as K, TABLE_LLM_EVAL_CALIBRATION, ensureEvaluatorTables } from './tables.ts';
import { msToDateTime64 } from './time.ts';

export const LabelledExampleSchema = z.strictObject({
  input: z.string().min(1),
  output: z.string(),
  context: z.string().optional(),
  system: z.string().optional(),
  label: z.union([z.string().min(1), z.number(), z.boolean()]),
});
export type LabelledExample = z.infer<typeof LabelledExampleSchema>;

export interface CalibrationOptions {
  /** JSONL of labelled examples. */
  labelsFile: string;
  /** A configured evaluator by name (or name@version), or an evaluator entry of its own. */
  evaluator: string | EvaluatorEntryInput;
  /** `evaluation.evaluators` (raw or parsed): where names and the default judge are looked up. */
  evaluators?: unknown;
  /** When given, the result is stored in llm_eval_calibration. */
  store?: ClickHouseStore;
  database?: string;
  prices?: PriceTable;
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

export interface CalibrationResult {
  evaluator: string;
  version: string;
  judgeModel: string;
  outputType: string;
  labelsFile: string;
  /** First 16 hex digits of the file's SHA-256: the labelled set's identity. */
  labelsHash: string;
  examples: number;
  /** Examples the evaluator returned a result for (the agreement is computed on these). */
  judged: number;
  /** Examples without a result (invalid judge output, not applicable…). */
  errors: number;
  accuracy: number | null;
  /** Categorical outputs only. */
  kappa: number | null;
  /** Numeric scales only. */
  spearman: number | null;
  mae: number | null;
  judgeCostUsd: string | null;
  details: {
    confusion?: Record<string, Record<string, number>>;
    disagreements: { line: number; label: string; judged: string; explanation: string }[];
    failures: { line: number; errorType: string; explanation: string }[];
  };
}

export class CalibrationError extends Error {
  override readonly name = 'CalibrationError';
}

/** Parses the JSONL (blank lines and lines starting with # or // skipped); every bad line is reported. */
export function parseLabels(text: string, source: string): { line: number; example: LabelledExample }[] {
  const out: { line: number; example: LabelledExample }[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('//')) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      problems.push(`line ${i + 1}: not JSON`);
      return;
    }
    const r = LabelledExampleSchema.safeParse(json);
    if (!r.success) problems.push(`line ${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.') || '(root)'} ${x.message}`).join('; ')}`);
    else out.push({ line: i + 1, example: r.data });
  });
  if (problems.length > 0) throw new CalibrationError(`${source}: ${problems.slice(0, 20).join('; ')}`);
  if (out.length === 0) throw new CalibrationError(`${source}: no examples`);
  return out;
}

function findEvaluator(spec: string | EvaluatorEntryInput, config: EvaluatorsConfig): Evaluator {
  if (typeof spec !== 'string') return resolveEvaluator(EvaluatorSchema.parse(spec), config);
  const entry = config.list.find((e) => {
    const id = resolveIdentity(e);
    return spec === id.name || spec === `${id.name}@${id.version}`;
  });
  if (!entry) throw new CalibrationError(`no evaluator "${spec}" in evaluation.evaluators.list (configured: ${config.list.map((e) => resolveIdentity(e).name).join(', ') || 'none'})`);
  return resolveEvaluator(entry, config);
}

type HumanLabel = { kind: 'category'; value: string } | { kind: 'number'; value: number };

/** The human label in the evaluator's terms; throws with the line number when it does not fit. */
function humanLabel(ev: Evaluator, label: LabelledExample['label'], line: number): HumanLabel {
  const bad = (why: string) => new CalibrationError(`line ${line}: label ${JSON.stringify(label)} ${why}`);
  if (ev.kind === 'check') return { kind: 'category', value: String(label) };
  const o = ev.output;
  if (o.type === 'scale') {
    const n = typeof label === 'number' ? label : Number(label);
    if (!Number.isFinite(n) || n < o.min || n > o.max) throw bad(`is not a number from ${o.min} to ${o.max}`);
    return { kind: 'number', value: n };
  }
  if (o.type === 'pass_fail') {
    if (label === true || label === 'pass') return { kind: 'category', value: 'pass' };
    if (label === false || label === 'fail') return { kind: 'category', value: 'fail' };
    throw bad('is not pass/fail');
  }
  if (typeof label !== 'string' || !(label in o.labels)) throw bad(`is not one of ${Object.keys(o.labels).join(', ')}`);
  return { kind: 'category', value: label };
}

export async function runCalibration(options: CalibrationOptions): Promise<CalibrationResult> {
  const config = parseEvaluatorsConfig(options.evaluators ?? {});
  const ev = findEvaluator(options.evaluator, config);
  const text = await readFile(options.labelsFile, 'utf8');
  const examples = parseLabels(text, options.labelsFile);
  const labels = examples.map(({ example, line }) => humanLabel(ev, example.label, line));
  const prices = options.prices ?? loadPriceTable();
  const client = ev.kind === 'llm' ? createJudgeClient(ev.judge, options.env) : undefined;

  // The evaluator's own concurrency; a judge that cannot be reached fails the run (a partial
  // agreement figure would be misleading).
  const outcomes = new Array<EvaluateOutcome>(examples.length);
  let next = 0;
  const worker = async () => {
    while (next < examples.length) {
      const i = next++;
      outcomes[i] = await evaluateContent(ev, exampleContent((examples[i] as (typeof examples)[number]).example), { prices, client });
    }
  };
  await Promise.all(Array.from({ length: Math.min(ev.concurrency, examples.length) }, worker));

  const human: HumanLabel[] = [];
  const judged: (string | number)[] = [];
  const details: CalibrationResult['details'] = { disagreements: [], failures: [] };
  let costPico: bigint | undefined = 0n;
  outcomes.forEach((o, i) => {
    const { line } = examples[i] as (typeof examples)[number];
    const h = labels[i] as HumanLabel;
    if (o.result.judged) costPico = costPico !== undefined && o.result.costPico !== undefined ? costPico + o.result.costPico : undefined;
    if (o.result.errorType || o.result.value === null) {
      details.failures.push({ line, errorType: o.result.errorType || o.result.label, explanation: o.result.explanation });
      return;
    }
    const j = h.kind === 'number' ? Number(o.verdict?.raw) : o.verdict !== undefined ? String(o.verdict.raw) : o.result.label;
    human.push(h);
    judged.push(j);
    if (j !== h.value && details.disagreements.length < 50) details.disagreements.push({ line, label: String(h.value), judged: String(j), explanation: o.result.explanation.slice(0, 500) });
  });

  const numeric = ev.kind === 'llm' && ev.output.type === 'scale';
  const hv = human.map((h) => h.value);
  const result: CalibrationResult = {
    evaluator: ev.name,
    version: ev.version,
    judgeModel: ev.kind === 'llm' ? ev.judge.model : '',
    outputType: ev.kind === 'llm' ? ev.output.type : 'check',
    labelsFile: basename(options.labelsFile),
    labelsHash: createHash('sha256').update(text).digest('hex').slice(0, 16),
    examples: examples.length,
    judged: human.length,
    errors: details.failures.length,
    accuracy: accuracy(hv, judged),
    kappa: numeric ? null : cohensKappa(hv.map(String), judged.map(String)),
    spearman: numeric ? spearman(hv as number[], judged as number[]) : null,
    mae: numeric ? meanAbsoluteError(hv as number[], judged as number[]) : null,
    judgeCostUsd: costPico !== undefined ? formatPicoUsd(costPico) : null,
    details: { ...(numeric ? {} : { confusion: confusion(hv.map(String), judged.map(String)) }), ...details },
  };
  if (options.store) await storeCalibration(options.store, options.database ?? options.store.database, result, (options.now ?? Date.now)());
  return result;
}

export async function storeCalibration(store: ClickHouseStore, database: string, r: CalibrationResult, nowMs: number): Promise<void> {
  await ensureEvaluatorTables(store, database);
  await store.insert(`${database}.${TABLE_LLM_EVAL_CALIBRATION}`, [
    {
      [K.RunAt]: msToDateTime64(nowMs),
      [K.Evaluator]: r.evaluator,
      [K.EvaluatorVersion]: r.version,
      [K.JudgeModel]: r.judgeModel,
      [K.LabelsFile]: r.labelsFile,
      [K.LabelsHash]: r.labelsHash,
      [K.OutputType]: r.outputType,
      [K.Examples]: r.examples,
      [K.Judged]: r.judged,
      [K.Errors]: r.errors,
      [K.Accuracy]: r.accuracy,
      [K.Kappa]: r.kappa,
      [K.Spearman]: r.spearman,
      [K.Mae]: r.mae,
      [K.JudgeCostUsd]: r.judgeCostUsd,
      [K.Details]: JSON.stringify(r.details),
    },
  ]);
}
