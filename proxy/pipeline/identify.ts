// Stage "identify": who the request is for — tenant, user, feature — normalised once (trimmed,
// control characters dropped, long values hashed; proxy/budget/identity.ts) and used alike by the
// router's match rules, budgets, the cache scope, spans and metrics. Always on: without a budgets
// section the defaults apply (tenant `default`, user `anonymous`, no API-key table).
import type { LlmRequest, PipelineEnv } from './context.ts';

export function identify(ctx: LlmRequest, env: PipelineEnv): void {
  const who = env.identity.resolve(ctx.req.headers, ctx.body);
  ctx.tenant = who.tenant;
  ctx.user = who.user;
  ctx.feature = who.feature;
}
