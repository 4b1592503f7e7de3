// Stage "route": the route (x-llm-sidecar-route, the model, match rules) and its ordered chain of
// targets; whether the call is sampled for evaluation (by trace id; judge traffic never is).
import { requestFeatures, type RequestFeatures } from '../token-estimate.ts';
import { sampledByTraceId } from '../telemetry/content.ts';
import type { LlmRequest, PipelineEnv } from './context.ts';

export function route(ctx: LlmRequest, env: PipelineEnv): void {
  let features: RequestFeatures | undefined;
  // Token counts and the like are computed only when a match rule or strategy asks for them.
  const lazyFeatures = (): RequestFeatures => (features ??= requestFeatures(ctx.endpoint.dialect, ctx.body));
  const selected = env.router.select(ctx.requestModel, ctx.controls.route, lazyFeatures, ctx.tenant, ctx.feature);
  const plan = env.router.plan(ctx.endpoint.dialect, ctx.requestModel, selected, lazyFeatures);
  ctx.plan = plan;
  const evaluation = env.config.evaluation;
  ctx.evalSampled = ctx.feature !== 'judge' && sampledByTraceId(ctx.traceId, evaluation.routes[plan.routeName] ?? evaluation.sampleRate);
}
