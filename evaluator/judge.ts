// One judgement of one call: render the rubric, ask the judge (retry.ts handles 429/5xx), validate
// the structured answer with zod, ask once more when it is invalid, and price every request made.
// A judge that still answers nonsense yields an error outcome with its ErrorType: a score is
// never invented.
import { z } from 'zod';
import { parsePicoUsd, priceCall } from '../shared/pricing/cost.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { ZERO_USAGE, type NormalizedUsage } from '../shared/usage.ts';
import { JUDGE_SYSTEM } from './builtins.ts';
import type { JudgeConfig } from '../shared/config/evaluators-schema.ts';
import type { JudgeClient, JudgeReply } from './judge-client.ts';
import { wellFormedPrefix } from '../shared/text.ts';
import { describeInvalid, type JudgeOutputSpec, type JudgeVerdict } from './judge-output.ts';
import { JudgeRejectedError, withRetries } from './retry.ts';

/** ErrorType values of llm_evaluations rows written by the evaluator. */
export const ERROR_TYPES = {
  /** The judge's reply was not JSON (twice). */
  invalidJson: 'judge_invalid_json',
  /** JSON, but not the required shape or values (twice). */
  invalidOutput: 'judge_invalid_output',
  /** The judge declined to evaluate (twice). */
  refusal: 'judge_refusal',
  /** The judge API rejected the request for this call (4xx other than 401/403/404/408/409/429). */
  rejected: 'judge_request_rejected',
  /** The evaluator's daily judge spend cap was reached: the call was not judged. */
  budgetExhausted: 'budget_exhausted',
} as const;

export type JudgeOutcome = {
  usage: NormalizedUsage;
  /** Model that answered (last reply), else the configured one. */
  model: string;
  /** Exact cost of every request made, in pico-USD; undefined when the model has no price. */
  costPico: bigint | undefined;
  requests: number;
} & ({ ok: true; verdict: JudgeVerdict } | { ok: false; errorType: string; explanation: string });

/** Attempts per judgement when the answer is invalid: the first, and one more. */
const VALID_ANSWER_ATTEMPTS = 2;

function addUsage(a: NormalizedUsage, b: NormalizedUsage): NormalizedUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWrite5mTokens: a.cacheWrite5mTokens + b.cacheWrite5mTokens,
    cacheWrite1hTokens: a.cacheWrite1hTokens + b.cacheWrite1hTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

type Checked = { ok: true; verdict: JudgeVerdict } | { ok: false; errorType: string; explanation: string };

function check(reply: JudgeReply, spec: JudgeOutputSpec): Checked {
  if (reply.refusal !== undefined) return { ok: false, errorType: ERROR_TYPES.refusal, explanation: `judge refused: ${wellFormedPrefix(reply.refusal, 300)}` };
  if (reply.value === undefined) {
    const cut = reply.finishReason === 'length' || reply.finishReason === 'max_tokens' ? ' (cut at maxOutputTokens)' : '';
    return { ok: false, errorType: ERROR_TYPES.invalidJson, explanation: `judge reply is not JSON${cut}: ${JSON.stringify(reply.text.slice(0, 200))}` };
  }
  try {
    return { ok: true, verdict: spec.parse(reply.value) };
  } catch (err) {
    if (err instanceof z.ZodError) return { ok: false, errorType: ERROR_TYPES.invalidOutput, explanation: `judge reply does not match the schema: ${describeInvalid(err)}` };
    throw err;
  }
}

export interface JudgeRun {
  client: JudgeClient;
  config: JudgeConfig;
  prices: PriceTable;
  spec: JudgeOutputSpec;
  /** The rendered rubric with the call's data. */
  prompt: string;
  signal?: AbortSignal;
}

/** Throws JudgeUnavailableError when the judge cannot be reached now (leave the call for later). */
export async function judge(run: JudgeRun): Promise<JudgeOutcome> {
  let usage = ZERO_USAGE;
  let costPico: bigint | undefined = 0n;
  let model = run.client.model;
  let requests = 0;
  let last: Checked | undefined;
  const account = (reply: JudgeReply) => {
    usage = addUsage(usage, reply.usage);
    model = reply.model;
    const priced = priceCall(run.prices, run.client.provider, reply.model, reply.usage);
    costPico = priced.known && costPico !== undefined ? costPico + parsePicoUsd(priced.totalUsd) : undefined;
  };
  for (let attempt = 0; attempt < VALID_ANSWER_ATTEMPTS; attempt++) {
    let reply: JudgeReply;
    try {
      reply = await withRetries(
        () => {
          requests += 1;
          return run.client.send({ system: JUDGE_SYSTEM, user: run.prompt, schemaName: run.spec.name, schema: run.spec.jsonSchema }, run.signal);
        },
        { maxRetries: run.config.maxRetries, maxRetryAfterMs: run.config.maxRetryAfterMs, signal: run.signal },
      );
    } catch (err) {
      if (err instanceof JudgeRejectedError) return { ok: false, errorType: ERROR_TYPES.rejected, explanation: wellFormedPrefix(err.message, 500), usage, model, costPico, requests };
      throw err;
    }
    account(reply);
    last = check(reply, run.spec);
    if (last.ok) break;
  }
  return { ...(last as Checked), usage, model, costPico, requests };
}
