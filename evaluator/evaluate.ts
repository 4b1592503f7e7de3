// One evaluator on one call's content → the result to record. Shared by the service (live calls)
// and calibration (labelled examples). Throws JudgeUnavailableError when the judge cannot be
// reached now: the call must then stay unscored (no row) and be retried later.
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { CHECKS } from './checks.ts';
import type { Evaluator, LlmEvaluator } from './definitions.ts';
import { ERROR_TYPES, judge } from './judge.ts';
import type { JudgeClient } from './judge-client.ts';
import { judgeOutputSpec, type JudgeVerdict } from './judge-output.ts';
import type { CallContent } from './messages.ts';
import { NOT_APPLICABLE, type EvaluationResult } from './rows.ts';
import type { DailySpend } from './spend.ts';
import { renderTemplate } from './template.ts';

export interface EvaluateContext {
  prices: PriceTable;
  /** The judge of an LLM evaluator. */
  client?: JudgeClient;
  /** The daily cap; absent (calibration) = not enforced. */
  spend?: DailySpend;
  signal?: AbortSignal;
}

export interface EvaluateOutcome {
  result: EvaluationResult;
  /** The judge's own answer, when there was one (calibration compares it with the human label). */
  verdict?: JudgeVerdict;
  /** Judge requests made (retries included). */
  requests: number;
}

function notApplicable(reason: string, judgeModel = ''): EvaluateOutcome {
  return { result: { value: null, label: NOT_APPLICABLE, explanation: reason, errorType: '', judgeModel, judged: false }, requests: 0 };
}

export function judgePrompt(ev: LlmEvaluator, content: CallContent): string {
  return renderTemplate(ev.rubric, { input: content.input, output: content.output, system: content.system, context: content.context });
}

export async function evaluateContent(ev: Evaluator, content: CallContent, ctx: EvaluateContext): Promise<EvaluateOutcome> {
  if (ev.kind === 'check') {
    const r = CHECKS[ev.check](content);
    if (!r.applicable) return notApplicable(r.reason);
    return { result: { value: r.value, label: r.label, explanation: r.explanation, errorType: '', judgeModel: '', judged: false }, requests: 0 };
  }
  const model = ev.judge.model;
  const missing = ev.requires.find((what) => !content[what].trim());
  if (missing !== undefined) return notApplicable(`the call has no ${missing === 'context' ? 'context (tool results)' : 'system instructions'} to judge against`, model);
  if (!content.output.trim()) return notApplicable('the answer is empty (see the completeness check)', model);
  if (ctx.spend && (await ctx.spend.exhausted())) {
    const cap = ctx.spend.capPico ?? 0n;
    return {
      result: { value: null, label: '', explanation: `daily judge spend cap reached (${Number(cap) / 1e12} USD per UTC day): not judged`, errorType: ERROR_TYPES.budgetExhausted, judgeModel: model, judged: false },
      requests: 0,
    };
  }
  if (!ctx.client) throw new Error(`evaluator "${ev.name}" has no judge client`);
  const outcome = await judge({ client: ctx.client, config: ev.judge, prices: ctx.prices, spec: judgeOutputSpec(ev.output), prompt: judgePrompt(ev, content), signal: ctx.signal });
  ctx.spend?.add(outcome.costPico);
  const common = { judgeModel: outcome.model, usage: outcome.usage, costPico: outcome.costPico, judged: true };
  if (outcome.ok) {
    const v = outcome.verdict;
    return { result: { value: v.value, label: v.label, explanation: v.explanation, errorType: '', ...common }, verdict: v, requests: outcome.requests };
  }
  return { result: { value: null, label: '', explanation: outcome.explanation, errorType: outcome.errorType, ...common }, requests: outcome.requests };
}
