// Stage "call": the target loop (proxy/llm-call.ts) with the route's retries and cascade checks.
// It answers the app itself — a provider's answer, translated when a fallback speaks the other
// API — or, when every target failed, leaves the last error for the stale fallback to replace.
import type { RetryConfig } from '../../shared/config/schema.ts';
import { LlmCall } from '../llm-call.ts';
import { captureInput } from '../telemetry/content.ts';
import { planOf, type LlmRequest, type PipelineEnv } from './context.ts';

/** Without a configured route the sidecar is transparent: the app's SDK does its own retries. */
const NO_RETRY: RetryConfig = { maxRetries: 0, on: [], baseMs: 0, maxMs: 0, maxRetryAfterMs: 0, budgetRatio: 0 };

export async function callProviders(ctx: LlmRequest, env: PipelineEnv): Promise<void> {
  const plan = planOf(ctx);
  const rc = plan.route?.config;
  // What the provider is asked (after a budget trim), for the judges of sampled calls.
  ctx.capture = ctx.evalSampled && env.config.evaluation.captureContent ? captureInput(ctx.endpoint, ctx.body) : undefined;
  const call = new LlmCall(
    ctx,
    plan,
    {
      retry: rc?.retry ?? NO_RETRY,
      cascade: rc ? { validators: rc.cascade.validators, refusal: env.refusalPatterns(rc.cascade.refusalPatterns), streams: rc.cascade.streams } : undefined,
    },
    env.call,
  );
  const end = await call.run();
  if (end.kind === 'answered') {
    ctx.outcome = end.outcome;
    ctx.cacheable = end.cacheable;
  } else {
    ctx.outcome = end.tried;
    ctx.answerExhausted = end.answer;
  }
}
