// Calibration against the shipped labelled sets: the judge's agreement with human labels is
// computed (exact rate, Spearman, MAE for a 1–5 scale; accuracy and Cohen's kappa for pass/fail and
// labels) and stored per evaluator version in llm_eval_calibration. The scripted judge answers
// what the test decides, so every figure is known in advance.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spearman } from '../../evaluator/agreement.ts';
import { CalibrationError, runCalibration } from '../../evaluator/calibrate.ts';
import { TABLE_LLM_EVAL_CALIBRATION } from '../../evaluator/tables.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startScriptedJudge, type JudgeReply, type ScriptedJudge } from './scripted-judge.ts';
import { embeddedStore, type EmbeddedFixture } from './seed.ts';

const hasChdb = await chdbAvailable();
const HELPFULNESS = new URL('./calibration/helpfulness.jsonl', import.meta.url).pathname;
const REFUSAL = new URL('./calibration/refusal.jsonl', import.meta.url).pathname;
const examples = readFileSync(HELPFULNESS, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { output: string; label: number });

// The judge agrees with the humans except on four answers: three off by one, one off by two.
const OFF = new Map<number, number>([[1, 3], [5, 4], [12, 5], [13, 4]]);
const judgeScores = examples.map((e, i) => OFF.get(i) ?? e.label);

describe.skipIf(!hasChdb)('calibration (chdb)', () => {
  let fx: EmbeddedFixture;
  let judge: ScriptedJudge;
  /** answer text → what the judge says */
  const replies = new Map<string, JudgeReply>();

  beforeAll(async () => {
    fx = await embeddedStore('eval-calibration');
    examples.forEach((e, i) => replies.set(e.output, { json: { explanation: 'rated', score: judgeScores[i] } }));
    judge = await startScriptedJudge((r) => replies.get(r.answer) ?? { content: 'no idea' });
  });

  afterAll(async () => {
    await judge?.close();
    await fx?.close();
  });

  const evaluators = () => ({ judge: { provider: 'openai' as const, baseUrl: judge.url, model: 'gpt-4o-mini' }, list: [{ builtin: 'helpfulness' as const }, { builtin: 'refusal' as const }] });

  it('numeric scale: exact agreement, Spearman and MAE, stored per evaluator version', async () => {
    const r = await runCalibration({ labelsFile: HELPFULNESS, evaluator: 'helpfulness', evaluators: evaluators(), store: fx.store });
    expect(r).toMatchObject({ evaluator: 'helpfulness', version: '1', outputType: 'scale', examples: 20, judged: 20, errors: 0, accuracy: 0.8, mae: 0.25, kappa: null, judgeModel: 'gpt-4o-mini' });
    expect(r.spearman).toBeCloseTo(spearman(examples.map((e) => e.label), judgeScores) as number, 10);
    expect(r.spearman).toBeGreaterThan(0.85);
    expect(r.judgeCostUsd).toBe('0.0042'); // 20 × 0.00021
    expect(r.details.disagreements.map((d) => d.line).sort((a, b) => a - b)).toEqual([2, 6, 13, 14]);

    const rows = await fx.store.query<{ Evaluator: string; EvaluatorVersion: string; Accuracy: number; Mae: number; Spearman: number; Examples: number; LabelsFile: string }>(
      `SELECT Evaluator, EvaluatorVersion, Accuracy, Mae, Spearman, Examples, LabelsFile FROM otel.${TABLE_LLM_EVAL_CALIBRATION} FINAL`,
    );
    expect(rows).toEqual([expect.objectContaining({ Evaluator: 'helpfulness', EvaluatorVersion: '1', Accuracy: 0.8, Mae: 0.25, Examples: 20, LabelsFile: 'helpfulness.jsonl' })]);
  });

  it('a new version is stored beside the old one; re-running a version replaces its row', async () => {
    const v2 = { builtin: 'helpfulness' as const, version: '2', rubric: 'Rate it.\n<answer>\n{{output}}\n</answer>' };
    await runCalibration({ labelsFile: HELPFULNESS, evaluator: v2, evaluators: evaluators(), store: fx.store });
    await runCalibration({ labelsFile: HELPFULNESS, evaluator: 'helpfulness@1', evaluators: evaluators(), store: fx.store });
    const rows = await fx.store.query<{ v: string; n: string }>(`SELECT EvaluatorVersion AS v, count() AS n FROM otel.${TABLE_LLM_EVAL_CALIBRATION} FINAL GROUP BY v ORDER BY v`);
    expect(rows).toEqual([
      { v: '1', n: '1' },
      { v: '2', n: '1' },
    ]);
  });

  it('pass/fail: accuracy and Cohen kappa', async () => {
    // human pass 6 / fail 4; judge agrees on 5 passes and 3 fails → po 0.8, pe 0.52, kappa 0.5833…
    const cases: [string, 'pass' | 'fail', 'pass' | 'fail'][] = [
      ['a1', 'pass', 'pass'], ['a2', 'pass', 'pass'], ['a3', 'pass', 'pass'], ['a4', 'pass', 'pass'], ['a5', 'pass', 'pass'], ['a6', 'pass', 'fail'],
      ['a7', 'fail', 'pass'], ['a8', 'fail', 'fail'], ['a9', 'fail', 'fail'], ['a10', 'fail', 'fail'],
    ];
    const file = join(fx.dir, 'instructions.jsonl');
    await writeFile(file, cases.map(([output, label]) => JSON.stringify({ input: 'Answer in one word.', output, label })).join('\n'));
    for (const [output, , verdict] of cases) replies.set(output, { json: { explanation: 'checked', verdict } });
    const r = await runCalibration({ labelsFile: file, evaluator: { builtin: 'instruction_following' }, evaluators: evaluators(), store: fx.store });
    expect(r).toMatchObject({ outputType: 'pass_fail', judged: 10, accuracy: 0.8, spearman: null });
    expect(r.kappa).toBeCloseTo(0.28 / 0.48, 10);
    expect(r.details.confusion).toEqual({ pass: { pass: 5, fail: 1 }, fail: { pass: 1, fail: 3 } });
  });

  it('checks can be calibrated too (the refusal set), without any judge call', async () => {
    const before = judge.requests.length;
    const r = await runCalibration({ labelsFile: REFUSAL, evaluator: 'refusal', evaluators: evaluators(), store: fx.store });
    expect(judge.requests.length).toBe(before);
    expect(r).toMatchObject({ outputType: 'check', examples: 13, judged: 13, judgeCostUsd: '0' });
    expect(r.accuracy).toBeCloseTo(12 / 13, 10);
    expect(r.kappa).toBeGreaterThan(0.8);
    expect(r.details.disagreements).toEqual([expect.objectContaining({ line: 13, label: 'refusal', judged: 'answered' })]);
  });

  it('judge failures are counted as errors and left out of the agreement', async () => {
    const file = join(fx.dir, 'mixed.jsonl');
    await writeFile(file, [JSON.stringify({ input: 'q', output: examples[0]?.output, label: 5 }), JSON.stringify({ input: 'q', output: 'the judge cannot rate this', label: 3 })].join('\n'));
    const r = await runCalibration({ labelsFile: file, evaluator: 'helpfulness', evaluators: evaluators() });
    expect(r).toMatchObject({ examples: 2, judged: 1, errors: 1, accuracy: 1 });
    expect(r.details.failures).toEqual([expect.objectContaining({ line: 2, errorType: 'judge_invalid_json' })]);
  });

  it('a bad labels file is refused with its line numbers, before any judge call', async () => {
    const file = join(fx.dir, 'bad.jsonl');
    await writeFile(file, ['{"input":"q","output":"a","label":4}', 'not json', '{"input":"q","label":4}'].join('\n'));
    await expect(runCalibration({ labelsFile: file, evaluator: 'helpfulness', evaluators: evaluators() })).rejects.toThrow(/line 2: not JSON; line 3: output/);
    const scale = join(fx.dir, 'scale.jsonl');
    await writeFile(scale, '{"input":"q","output":"a","label":7}\n');
    await expect(runCalibration({ labelsFile: scale, evaluator: 'helpfulness', evaluators: evaluators() })).rejects.toThrow(CalibrationError);
    await expect(runCalibration({ labelsFile: scale, evaluator: 'nope', evaluators: evaluators() })).rejects.toThrow(/no evaluator "nope"/);
  });
});
