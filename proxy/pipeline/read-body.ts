// Stage "read body": the request body, bounded (listen.maxBodyBytes) and checked (UTF-8, JSON
// object, nesting, numbers, a model named); its 4xx come from proxy/request-body.ts.
import { parseJsonObject, readBody, requireModel } from '../request-body.ts';
import type { RequestParams } from '../call-record.ts';
import type { JsonObject } from '../request-body.ts';
import type { LlmRequest, PipelineEnv } from './context.ts';

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Sampling parameters of the request that semconv records (`gen_ai.request.*`). */
export function requestParams(body: JsonObject): RequestParams {
  return {
    maxTokens: num(body.max_tokens) ?? num(body.max_completion_tokens) ?? num(body.max_output_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    seed: num(body.seed),
  };
}

export async function readRequestBody(ctx: LlmRequest, env: PipelineEnv): Promise<void> {
  const raw = await readBody(ctx.req, env.config.listen.maxBodyBytes);
  ctx.t0 = performance.now();
  ctx.raw = raw;
  ctx.body = parseJsonObject(raw);
  ctx.requestModel = requireModel(ctx.body);
  ctx.stream = ctx.body.stream === true;
  ctx.requestParams = requestParams(ctx.body);
}
