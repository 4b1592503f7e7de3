// Stage "cache read": whether this request may be served from / written to the cache (route mode,
// deterministic-only, the x-llm-sidecar-cache control), its key in the tenant's (and, when the
// app's own key is forwarded, that key's) scope; then the lookup — exact, then semantic — and single
// flight: a miss that leads its key makes identical requests wait for its answer instead of calling
// the provider again. A hit is served in the shape the request asks for and ends the pipeline.
import type { IncomingHttpHeaders } from 'node:http';
import type { CacheConfig, RouteConfig } from '../../shared/config/schema.ts';
import { RESPONSE_HEADERS } from '../../shared/sidecar-headers.ts';
import { hashApiKey } from '../budget/index.ts';
import { cacheKey, cacheScope, isDeterministic, type CacheKeyInput } from '../cache/cache-key.ts';
import type { CacheEntry } from '../cache/entry.ts';
import type { SemanticCache, SemanticHit } from '../cache/semantic-cache.ts';
import type { SemanticRequest } from '../cache/semantic-request.ts';
import { cacheHeaders, serveEntry } from '../cache/serve.ts';
import type { CacheStore } from '../cache/store.ts';
import type { SemanticMatch } from '../call-record.ts';
import type { LlmEndpoint } from '../endpoints.ts';
import type { JsonObject } from '../request-body.ts';
import type { RoutePlan } from '../routing.ts';
import { captureCachedOutput, captureInput, type CapturedContent } from '../telemetry/content.ts';
import { clientGone, planOf, type LlmRequest, type PipelineEnv } from './context.ts';

/** How this request uses the cache. */
export interface CallCache {
  store: CacheStore;
  /** The key of the answer the route's first target gives (a cascade: the whole chain gives). */
  key: string;
  /** The key of an answer another target of the chain gave (a fallback's answer is its own model's, not the primary's). */
  keyFor(provider: string, model: string): string;
  /** Look the answer up (false for `no-cache` / `refresh`). */
  read: boolean;
  /** Store the answer (false for `no-store`). */
  write: boolean;
  ttlMs: number;
  staleMaxMs: number;
  /** Wait for an identical request in flight instead of calling the provider again (non-streaming only). */
  coalesce: boolean;
  includeUsage: boolean;
  /** Set when the route has a semantic cache: the prepared request and (after a miss) its vector. */
  semantic?: { cache: SemanticCache; req: SemanticRequest; vector: Float32Array | undefined };
}

export function semanticMatchOf(hit: SemanticHit): SemanticMatch {
  return { question: hit.text, similarity: hit.similarity, kind: hit.kind };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const BEARER = /^bearer\s+(\S+)$/i;

/**
 * The app's own credentials, when they are forwarded (no configured key replaces them): part of the
 * scope. Every credential header the provider receives counts, and the auth scheme's case does not
 * (`bearer K` is `Bearer K` to the provider, RFC 9110 §11.1): a scheme written in lower case once
 * left the key out of the scope, and any caller of the tenant, with any key or none, was served the
 * entries made with it.
 */
function forwardedKeyHash(headers: IncomingHttpHeaders, plan: RoutePlan): string | undefined {
  const provider = plan.candidates[0]?.target.provider;
  if (!provider || provider.apiKey !== undefined) return undefined;
  const parts: [string, string][] = [];
  const auth = first(headers.authorization)?.trim();
  if (auth) {
    const token = BEARER.exec(auth)?.[1];
    parts.push(token !== undefined ? ['bearer', token] : ['authorization', auth]);
  }
  for (const name of ['x-api-key', 'api-key'] as const) {
    const v = first(headers[name])?.trim();
    if (v) parts.push([name, v]);
  }
  if (parts.length === 0) return undefined;
  // One key alone hashes as itself (the form entries were stored under before); several, together.
  const only = parts.length === 1 ? parts[0] : undefined;
  return hashApiKey(only && only[0] !== 'authorization' ? only[1] : JSON.stringify(parts));
}

export function planCache(
  store: CacheStore | undefined,
  semantic: SemanticCache | undefined,
  config: CacheConfig,
  route: RouteConfig | undefined,
  req: { endpoint: LlmEndpoint; body: JsonObject; headers: IncomingHttpHeaders; url: string; plan: RoutePlan; tenant: string; control: string | undefined },
): CallCache | undefined {
  if (!store || req.endpoint.operation === 'count_tokens') return undefined;
  const mode = route?.cache?.mode ?? config.mode;
  if (mode === 'off' || req.control === 'no-store') return undefined;
  if (mode === 'deterministic' && !isDeterministic(req.body)) return undefined;
  const target = req.plan.candidates[0];
  if (!target) return undefined;
  const scope = cacheScope({ tenant: req.tenant, apiKeyHash: forwardedKeyHash(req.headers, req.plan), shared: route?.cache?.shared });
  // A cascade answers with whichever level passed its checks: its entries are the chain's, never
  // served to a route that asks its first (cheap) model alone.
  const cascade = req.plan.strategy === 'cascade';
  const keyInput: CacheKeyInput = {
    scope,
    dialect: req.endpoint.dialect,
    operation: req.endpoint.operation,
    provider: cascade ? `cascade:${req.plan.candidates.map((c) => c.target.providerName).join('>')}` : target.target.providerName,
    model: cascade ? req.plan.candidates.map((c) => c.model).join('>') : target.model,
    body: req.body,
    headers: req.headers,
    query: queryOf(req.url),
  };
  const key = cacheKey(keyInput);
  const semanticReq = semantic && route?.cache?.semantic?.enabled ? semantic.prepare(keyInput) : undefined;
  const so = req.body.stream_options as JsonObject | undefined;
  return {
    store,
    key,
    keyFor: (provider, model) => cacheKey({ ...keyInput, provider, model }),
    read: req.control !== 'no-cache' && req.control !== 'refresh',
    write: true,
    ttlMs: (route?.cache?.ttlSeconds ?? config.ttlSeconds) * 1000,
    staleMaxMs: config.staleMaxSeconds * 1000,
    coalesce: req.body.stream !== true && (route?.cache?.coalesce ?? config.coalesce),
    includeUsage: so?.include_usage === true,
    ...(semanticReq && semantic ? { semantic: { cache: semantic, req: semanticReq, vector: undefined } } : {}),
  };
}

/** The question and the cached answer served for it, for the judge of a semantic hit. */
function semanticHitContent(endpoint: LlmEndpoint, body: JsonObject, entry: CacheEntry): CapturedContent | undefined {
  const output = captureCachedOutput(endpoint, entry);
  return output ? { ...captureInput(endpoint, body), output } : undefined;
}

export async function cacheRead(ctx: LlmRequest, env: PipelineEnv): Promise<boolean> {
  const plan = planOf(ctx);
  const cache = planCache(env.cacheStore, env.semanticCache, env.config.cache, plan.route?.config, {
    endpoint: ctx.endpoint,
    body: ctx.body,
    headers: ctx.req.headers,
    url: ctx.url,
    plan,
    tenant: ctx.tenant,
    control: ctx.controls.cache,
  });
  ctx.cache = cache;
  if (!cache?.read) return false;
  let entry = await cache.store.get(cache.key);
  let status = 'hit';
  let decision = 'served from the cache';
  let semanticMatch: SemanticMatch | undefined;
  if (!entry && cache.semantic) {
    // Exact miss: the same context with a similar last question may answer it.
    const found = await cache.semantic.cache.lookup(cache.semantic.req);
    cache.semantic.vector = found.vector;
    if (found.hit) {
      entry = await cache.store.get(found.hit.key);
      if (entry) {
        status = 'semantic-hit';
        semanticMatch = semanticMatchOf(found.hit);
      } else cache.semantic.cache.forget(found.hit.key);
    }
  }
  if (!entry && cache.coalesce) {
    const leader = env.inFlight.get(cache.key);
    if (leader) {
      await leader;
      // The app left while it waited: nothing to serve (the pipeline records the abort).
      if (clientGone(ctx)) return false;
      entry = await cache.store.get(cache.key);
      decision = 'served from the cache after waiting for an identical request in flight';
    } else {
      let done!: () => void;
      env.inFlight.set(cache.key, new Promise<void>((r) => (done = r)));
      const key = cache.key;
      ctx.leading = () => {
        env.inFlight.delete(key);
        done();
      };
    }
  }
  if (!entry) return false;
  const headers = { ...cacheHeaders(status, entry, 0, ctx.requestId), [RESPONSE_HEADERS.overhead]: (performance.now() - ctx.t0).toFixed(3) };
  if (!serveEntry(ctx.res, entry, { dialect: ctx.endpoint.dialect, stream: ctx.stream, includeUsage: cache.includeUsage }, headers)) return false;
  const evaluation = env.config.evaluation;
  ctx.outcome = {
    httpStatus: 200,
    cacheStatus: status,
    decision,
    served: {
      providerName: entry.provider ?? '',
      providerType: (entry.provider && env.config.providers[entry.provider]?.type) || ctx.endpoint.dialect,
      model: entry.model,
      index: 0,
    },
    observed: { completed: true, responseModel: entry.model },
    costUsd: '0',
    savedUsd: entry.costUsd,
    // Semantic hits are sampled for evaluation like provider answers (the cache_equivalence judge
    // reads the question and the answer served for it); exact hits repeat a stored answer.
    ...(semanticMatch
      ? { semanticMatch, evalSampled: ctx.evalSampled, content: ctx.evalSampled && evaluation.captureContent ? semanticHitContent(ctx.endpoint, ctx.body, entry) : undefined }
      : {}),
  };
  return true;
}

/** The query string of the forwarded path ('' when none): it reaches the provider, so it is part of the key. */
function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}
