// The cache stage of the pipeline: decide whether a request may be served from / written to the
// cache (route mode, deterministic-only, the x-llm-sidecar-cache header), compute its key in the
// tenant's (and, when the app's own key is forwarded, that key's) scope, serve hits in the shape
// the request asks for — a stream replayed event by event — and write complete answers back.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { CacheConfig, RouteConfig } from '../shared/config/schema.ts';
import type { ApiDialect } from '../shared/errors.ts';
import { cacheKey, cacheScope, isDeterministic } from './cache/cache-key.ts';
import type { CacheEntry } from './cache/entry.ts';
import { canReplay, toJson, toSse } from './cache/replay.ts';
import { hashApiKey } from './budget/index.ts';
import type { LlmEndpoint } from './endpoints.ts';
import type { JsonObject } from './request-body.ts';
import type { RoutePlan } from './routing.ts';
import type { SemanticCache } from './cache/semantic-cache.ts';
import type { SemanticHit } from './cache/semantic-cache.ts';
import type { SemanticRequest } from './cache/semantic-request.ts';

/** What a semantic hit matched, for its span (span-recorder.ts semanticHitAttributes). */
export interface SemanticMatch {
  question: string;
  similarity: number;
  kind: SemanticHit['kind'];
}

export function semanticMatchOf(hit: SemanticHit): SemanticMatch {
  return { question: hit.text, similarity: hit.similarity, kind: hit.kind };
}

/** What a cache store must do; entries are safe to lose, so every failure is a miss / no-op. */
export interface CacheStore {
  get(key: string): Promise<CacheEntry | undefined>;
  getStale(key: string, maxStalenessMs: number): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface CallCache {
  store: CacheStore;
  key: string;
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

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The app's own key, when it is forwarded (no configured key replaces it): part of the scope. */
function forwardedKeyHash(headers: IncomingHttpHeaders, plan: RoutePlan): string | undefined {
  const provider = plan.candidates[0]?.target.provider;
  if (!provider || provider.apiKey !== undefined) return undefined;
  const auth = first(headers.authorization);
  const key = auth?.startsWith('Bearer ') ? auth.slice(7) : (first(headers['x-api-key']) ?? first(headers['api-key']));
  return key ? hashApiKey(key) : undefined;
}

export function planCache(
  store: CacheStore | undefined,
  semantic: SemanticCache | undefined,
  config: CacheConfig,
  route: RouteConfig | undefined,
  req: { endpoint: LlmEndpoint; body: JsonObject; headers: IncomingHttpHeaders; plan: RoutePlan; tenant: string | undefined; control: string | undefined },
): CallCache | undefined {
  if (!store || req.endpoint.operation === 'count_tokens') return undefined;
  const mode = route?.cache?.mode ?? config.mode;
  if (mode === 'off' || req.control === 'no-store') return undefined;
  if (mode === 'deterministic' && !isDeterministic(req.body)) return undefined;
  const target = req.plan.candidates[0];
  if (!target) return undefined;
  const scope = cacheScope({ tenant: req.tenant ?? 'default', apiKeyHash: forwardedKeyHash(req.headers, req.plan), shared: route?.cache?.shared });
  const keyInput = { scope, dialect: req.endpoint.dialect, operation: req.endpoint.operation, provider: target.target.providerName, model: target.model, body: req.body, headers: req.headers };
  const key = cacheKey(keyInput);
  const semanticReq = semantic && route?.cache?.semantic?.enabled ? semantic.prepare(keyInput) : undefined;
  const so = req.body.stream_options as JsonObject | undefined;
  return {
    store,
    key,
    read: req.control !== 'no-cache' && req.control !== 'refresh',
    write: true,
    ttlMs: (route?.cache?.ttlSeconds ?? config.ttlSeconds) * 1000,
    staleMaxMs: config.staleMaxSeconds * 1000,
    coalesce: req.body.stream !== true && (route?.cache?.coalesce ?? config.coalesce),
    includeUsage: so?.include_usage === true,
    ...(semanticReq && semantic ? { semantic: { cache: semantic, req: semanticReq, vector: undefined } } : {}),
  };
}

/**
 * Writes a cached answer to the app. Returns false (nothing written) when the entry cannot be
 * served in the requested shape — then it is a miss.
 */
export function serveEntry(res: ServerResponse, entry: CacheEntry, want: { dialect: ApiDialect; stream: boolean; includeUsage: boolean }, headers: OutgoingHttpHeaders): boolean {
  if (entry.dialect !== want.dialect || !canReplay(entry, { dialect: want.dialect, stream: want.stream })) return false;
  if (want.stream) {
    const events = toSse(entry, want.dialect, { includeUsage: want.includeUsage });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
    // Event by event, as the provider sent them: never one blob.
    for (const e of events) res.write(e);
    res.end();
    return true;
  }
  const body = toJson(entry);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  return true;
}
