// Stage "cache write": a complete answer the provider ended itself goes into the cache (then the
// semantic index learns its question); when every target failed, a stale entry (within
// cache.staleMaxSeconds) answers instead of the last error. The write is not awaited here: a store
// failure is a lost entry, never a failed call; the pipeline awaits it only to release requests
// waiting on this one (single flight).
import { jsonEntry, streamEntry, type CacheEntry } from '../cache/entry.ts';
import { cacheHeaders, serveEntry } from '../cache/serve.ts';
import type { CallCache } from './cache-read.ts';
import { clientGone, type LlmRequest, type PipelineEnv } from './context.ts';

export async function cacheWrite(ctx: LlmRequest, _env: PipelineEnv): Promise<boolean> {
  const c = ctx.cache;
  const answerExhausted = ctx.answerExhausted;
  if (answerExhausted) {
    const tried = ctx.outcome;
    const entry = c && c.staleMaxMs > 0 && !ctx.res.destroyed ? await c.store.getStale(c.key, c.staleMaxMs) : undefined;
    if (clientGone(ctx)) {
      // The app left while every target failed or while the stale entry was looked up: nobody to answer.
      ctx.outcome = { ...tried, httpStatus: 499, cacheStatus: tried?.cacheStatus ?? 'miss', clientAborted: true, errorType: 'client_aborted', error: undefined };
      return true;
    }
    if (c && entry && serveEntry(ctx.res, entry, { dialect: ctx.endpoint.dialect, stream: ctx.stream, includeUsage: c.includeUsage }, cacheHeaders('stale', entry, tried?.attempts?.length ?? 0, ctx.requestId))) {
      ctx.outcome = {
        ...tried,
        httpStatus: 200,
        cacheStatus: 'stale',
        observed: { completed: true, responseModel: entry.model },
        costUsd: '0',
        savedUsd: entry.costUsd,
      };
    } else ctx.outcome = answerExhausted();
    return true;
  }
  const a = ctx.cacheable;
  if (!c?.write || !a) return false;
  const common = { dialect: ctx.endpoint.dialect, operation: ctx.endpoint.operation, model: a.model, provider: a.provider, usage: a.usage, costUsd: a.costUsd, ttlMs: c.ttlMs };
  const entry: CacheEntry = a.kind === 'json' ? jsonEntry({ ...common, body: a.body }) : streamEntry({ ...common, events: a.events });
  // A fallback target answered: the entry is that target's answer, under its own key — kept under
  // the primary's, it was served as the primary's answer until it expired, to this route after the
  // primary recovered and to any route asking the primary model.
  const own = ownKey(ctx, c);
  const key = own ?? c.key;
  ctx.cacheWrite = c.store
    .set(key, entry, c.ttlMs)
    .then(() => (c.semantic && own === undefined ? c.semantic.cache.add(c.semantic.req, key, entry.expiresAt, c.semantic.vector) : undefined))
    .catch(() => undefined);
  return false;
}

/** The served target's own key when it is not the one the entry was looked up under (a fallback; not a cascade, whose key is the chain's). */
function ownKey(ctx: LlmRequest, c: CallCache): string | undefined {
  const served = ctx.outcome?.served;
  const first = ctx.plan?.candidates[0];
  if (!served || !first || ctx.plan?.strategy === 'cascade') return undefined;
  if (served.providerName === first.target.providerName && served.model === first.model) return undefined;
  return c.keyFor(served.providerName, served.model);
}
