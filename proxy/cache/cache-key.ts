// The exact-match cache key: sha256 of a canonical form of everything that can change the answer.
//
// Rule: the WHOLE request body is part of the key, minus the fields listed in IGNORED_FIELDS,
// which only change how the answer is delivered, billed or attributed, never what it says. Keys
// are sorted recursively and formatting whitespace is irrelevant (canonical.ts), so the same
// request from two clients serialising differently hits the same entry. String contents are kept
// byte for byte: a trailing space in a prompt is a different prompt.
//
// Also in the key:
//   - scope: who may see the entry (cacheScope: tenant, and the app's own API key unless shared),
//     so entries never cross tenants or keys;
//   - dialect and operation: an OpenAI chat completion and an Anthropic message never collide;
//   - provider and model the request is routed to (body.model is replaced by `model`);
//   - the request headers that change the answer (ANSWER_HEADERS: anthropic-beta enables features
//     such as longer outputs or interleaved thinking; anthropic-version changes the wire format).
//   - the query string, as forwarded (an OpenAI-compatible server such as Azure OpenAI reads
//     `?api-version=`, which changes the answer's shape); absent from the material when empty, so
//     keys of requests without one are unchanged.
import type { ApiDialect } from '../../shared/errors.ts';
import { canonicalJson, sha256Hex } from './canonical.ts';

/**
 * Top-level body fields that cannot change the answer:
 *   stream, stream_options  — delivery shape; a stream and a JSON answer are served from one entry
 *                             (replay.ts), and include_usage is re-applied on replay;
 *   user, safety_identifier, metadata — attribution/abuse tracking only;
 *   store                   — whether OpenAI keeps a copy for evals/distillation;
 *   service_tier            — price/latency tier, not content;
 *   prompt_cache_key, prompt_cache_retention, cache_control — provider prompt-cache hints
 *                             (cache_control is also dropped from system/message/tool blocks);
 *   model                   — replaced by the routed model passed in the input.
 */
export const IGNORED_FIELDS: readonly string[] = [
  'stream',
  'stream_options',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'cache_control',
  'model',
];

/** Request headers that change the answer, lower-case. */
export const ANSWER_HEADERS: readonly string[] = ['anthropic-beta', 'anthropic-version'];

export interface CacheKeyInput {
  /** From cacheScope(): tenant and, when the app's own key is forwarded, its hash. */
  scope: string;
  dialect: ApiDialect;
  /** 'chat' | 'responses' | 'embeddings' | … (the proxy's endpoint operation). */
  operation: string;
  /** The provider the request is routed to (its name in the config). */
  provider: string;
  /** The model the request is routed to (after alias resolution). */
  model: string;
  /** The parsed request body as the app sent it. */
  body: Record<string, unknown>;
  /** Inbound request headers; only ANSWER_HEADERS are read. */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The request's query string as forwarded, without '?' ('' or undefined: none). */
  query?: string;
}

const IGNORED = new Set(IGNORED_FIELDS);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function withoutCacheControl(block: unknown): unknown {
  if (!isObject(block) || !('cache_control' in block)) return block;
  const { cache_control: _ignored, ...rest } = block;
  return rest;
}

/** cache_control on system blocks, message content blocks and tools: prompt-cache breakpoints only. */
function stripCacheControl(body: Json): Json {
  const out: Json = { ...body };
  if (Array.isArray(out.system)) out.system = out.system.map(withoutCacheControl);
  if (Array.isArray(out.tools)) out.tools = out.tools.map(withoutCacheControl);
  if (Array.isArray(out.messages)) {
    out.messages = out.messages.map((m) => {
      if (!isObject(m)) return m;
      const msg = withoutCacheControl(m) as Json;
      return Array.isArray(msg.content) ? { ...msg, content: msg.content.map(withoutCacheControl) } : msg;
    });
  }
  return out;
}

/** The body as it counts for the key: ignored fields removed, cache_control stripped. */
export function answerRelevantBody(body: Readonly<Json>): Json {
  const out: Json = {};
  for (const k of Object.keys(body)) if (!IGNORED.has(k)) out[k] = body[k];
  return stripCacheControl(out);
}

function answerHeaders(headers: CacheKeyInput['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const name of ANSWER_HEADERS) {
    const v = headers[name];
    const value = Array.isArray(v) ? v.join(',') : v;
    // anthropic-beta is a comma list whose order does not matter.
    if (value !== undefined) out[name] = name === 'anthropic-beta' ? value.split(',').map((s) => s.trim()).filter(Boolean).sort().join(',') : value.trim();
  }
  return out;
}

/** The canonical text whose sha256 is the key (exported for tests and debugging). */
export function cacheKeyMaterial(input: CacheKeyInput): string {
  return canonicalJson({
    v: 1,
    scope: input.scope,
    dialect: input.dialect,
    operation: input.operation,
    provider: input.provider,
    model: input.model,
    headers: answerHeaders(input.headers),
    ...(input.query ? { query: input.query } : {}),
    body: answerRelevantBody(input.body),
  });
}

/** sha256 hex of the canonical request. */
export function cacheKey(input: CacheKeyInput): string {
  return sha256Hex(cacheKeyMaterial(input));
}

export interface ScopeInput {
  /** The tenant the request is for (identity). */
  tenant: string;
  /** sha256 of the app's own API key when that key is forwarded to the provider; undefined when the sidecar injects its key. */
  apiKeyHash?: string | undefined;
  /**
   * true: entries are shared by every API key of the tenant (the operator's choice, e.g. one app
   * with rotating keys). false (default): an app key only sees entries made with the same key.
   */
  shared?: boolean;
}

/**
 * Who may see an entry. Always the tenant; also the API key's hash when the app's own key is
 * forwarded and sharing is off: two apps with different provider keys can have different
 * entitlements (fine-tunes, data-retention terms), so their answers are not interchangeable.
 * JSON-encoded so that no tenant name can forge another scope.
 */
export function cacheScope(input: ScopeInput): string {
  const key = input.shared === true || input.apiKeyHash === undefined ? null : input.apiKeyHash;
  return JSON.stringify(['v1', input.tenant, key]);
}

/**
 * Whether a request asks for a repeatable answer, for the "deterministic only" cache mode:
 * `temperature === 0`, or a numeric `seed` (OpenAI's reproducibility knob), or `top_k === 1`
 * (Anthropic greedy sampling). An absent temperature means the provider default (1.0), which is
 * NOT deterministic.
 */
export function isDeterministic(body: Readonly<Json>): boolean {
  return body.temperature === 0 || (typeof body.seed === 'number' && Number.isFinite(body.seed)) || body.top_k === 1;
}
