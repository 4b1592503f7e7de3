// The life of one LLM request, in order. Each stage is a small unit in its own file that fills its
// part of one typed context (context.ts) and either answers the request — then the stages after
// it are skipped — or passes it on. Whatever happens, the record stage runs last and builds the
// call's one CallRecord (spans, llm_calls row, metrics): answers, cache hits, refusals and client
// aborts alike. docs/lifecycle.md draws the same list with every failure branch.
//
//   read body → identify → route → budget → cache read → call → cache write / stale → record
import { logger, requestLogger } from '../../shared/log.ts';
import { toSidecarError } from '../../shared/errors.ts';
import { ClientAbortedError } from '../request-body.ts';
import { errorSentOn, sendError } from '../respond.ts';
import { budget } from './budget.ts';
import { cacheRead } from './cache-read.ts';
import { cacheWrite } from './cache-write.ts';
import { callProviders } from './call.ts';
import { clientGone, type LlmRequest, type PipelineEnv, type Stage } from './context.ts';
import { identify } from './identify.ts';
import { readRequestBody } from './read-body.ts';
import { record } from './record.ts';
import { route } from './route.ts';

export const LLM_STAGES: readonly Stage[] = [
  { name: 'read body', run: readRequestBody },
  { name: 'identify', run: identify },
  { name: 'route', run: route },
  { name: 'budget', run: budget },
  { name: 'cache read', run: cacheRead },
  { name: 'call', run: callProviders },
  { name: 'cache write', run: cacheWrite },
];

export async function runLlmPipeline(ctx: LlmRequest, env: PipelineEnv): Promise<void> {
  let stage: Stage | undefined;
  try {
    for (stage of LLM_STAGES) {
      // A client that left while an earlier stage waited (a budget backend, the cache, an identical
      // request in flight) is not served: no provider call for nobody, recorded as the abort it is.
      if (ctx.outcome === undefined && clientGone(ctx)) {
        if (ctx.tenant === '') identify(ctx, env);
        ctx.outcome = { httpStatus: 499, cacheStatus: ctx.cache ? 'miss' : 'bypass', decision: `client left before ${stage.name}`, clientAborted: true, errorType: 'client_aborted' };
        break;
      }
      const answered = stage.run(ctx, env);
      if ((answered instanceof Promise ? await answered : answered) === true) break;
    }
  } catch (err) {
    refuse(ctx, env, err, stage?.name ?? '');
  }
  try {
    record(ctx, env);
  } catch (err) {
    logger.error({ err: (err as Error).message, requestId: ctx.requestId }, 'building the call record failed');
  }
  if (ctx.leading) {
    // Answered, failed or not cacheable: the waiting requests look again (and call the provider themselves on a miss).
    await ctx.cacheWrite;
    ctx.leading();
  }
}

/** A stage threw: answer the error in the app's API shape (or nothing, when the client left) and say so for the record. */
function refuse(ctx: LlmRequest, env: PipelineEnv, err: unknown, stage: string): void {
  const log = requestLogger({ requestId: ctx.requestId, traceId: ctx.traceId });
  if (!ctx.req.complete) ctx.req.resume();
  // The identity of a refused request is still worth recording (who sent the bad request).
  if (ctx.tenant === '') identify(ctx, env);
  const base = { cacheStatus: 'bypass', decision: `refused at ${stage}`, attempts: ctx.outcome?.attempts, events: ctx.outcome?.events, served: ctx.outcome?.served };
  if (err instanceof ClientAbortedError) {
    // The server already answered (a body slower than listen.bodyTimeoutMs: 408) and cut the
    // connection: recorded as that answer, with its code.
    const answered = errorSentOn(ctx.res);
    if (answered) {
      ctx.outcome = { ...base, httpStatus: answered.status, error: answered };
      return;
    }
    // Nobody is left to answer: a client abort, not a fault of the sidecar.
    log.debug({ method: ctx.req.method, url: ctx.req.url, reason: err.message }, 'client aborted');
    ctx.outcome = { ...base, httpStatus: 499, clientAborted: true, errorType: 'client_aborted' };
    return;
  }
  const e = toSidecarError(err);
  if (e.code === 'LLM_SIDECAR_INTERNAL') log.error({ method: ctx.req.method, url: ctx.req.url, stage, stack: (err as Error)?.stack ?? String(err) }, 'internal error');
  // Headers already out (a fault mid-answer): the connection is cut, the app keeps the status it saw.
  const seenStatus = ctx.res.headersSent ? ctx.res.statusCode : undefined;
  sendError(ctx.res, ctx.endpoint.dialect, e, ctx.requestId);
  ctx.outcome = { ...base, httpStatus: seenStatus ?? e.status, error: e };
}
