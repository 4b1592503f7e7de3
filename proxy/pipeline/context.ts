// The one typed context an LLM request carries through the pipeline (pipeline/index.ts). Each stage
// reads what earlier stages put here and adds its own part; the record stage turns it into the
// call's CallRecord. Fields are listed in the order the stages fill them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../shared/config/schema.ts';
import type { ApiDialect, SidecarError } from '../../shared/errors.ts';
import type { NormalizedUsage } from '../../shared/usage.ts';
import type { IdentityResolver } from '../budget/identity.ts';
import type { CacheStore } from '../cache/store.ts';
import type { SemanticCache } from '../cache/semantic-cache.ts';
import type { SecretMasker } from '../secret-mask.ts';
import type { CrossTranslation } from '../translate/index.ts';
import type { UpstreamPools } from '../upstream.ts';
import type { Router } from '../routing.ts';
import type { BudgetGate } from './budget.ts';
import type { Reservation } from '../budget/index.ts';
import type { AttemptRecord, CallEvent, CallRecord, RequestParams, SemanticMatch } from '../call-record.ts';
import type { CallCache } from './cache-read.ts';
import type { CachedSseEvent } from '../cache/entry.ts';
import type { LlmEndpoint } from '../endpoints.ts';
import type { SidecarControls } from '../headers.ts';
import type { JsonObject } from '../request-body.ts';
import type { ObservedResponse } from '../response-observer.ts';
import type { RoutePlan } from '../routing.ts';
import type { CapturedContent, ChatMessage } from '../telemetry/content.ts';

/** What the target loop (proxy/llm-call.ts) works with. */
export interface CallDeps {
  pools: UpstreamPools;
  price(providerType: ApiDialect, model: string, usage: NormalizedUsage | undefined): string | undefined;
  /** The translation for an app speaking `from` served by a provider speaking `to` (proxy/translate/). */
  translation(from: ApiDialect, to: ApiDialect): CrossTranslation | undefined;
  maxBufferedBytes: number;
  /** Masks configured provider keys in what providers send back (proxy/secret-mask.ts). */
  masker?: SecretMasker;
}

/** What the stages work with besides the request: the configuration and the sidecar's parts. */
export interface PipelineEnv {
  config: Config;
  router: Router;
  identity: IdentityResolver;
  budgets: BudgetGate | undefined;
  cacheStore: CacheStore | undefined;
  semanticCache: SemanticCache | undefined;
  price: Pricer;
  call: CallDeps;
  /** Cache keys with a request on its way to the provider (single flight). */
  inFlight: Map<string, Promise<void>>;
  /** The compiled refusal patterns of a cascade route. */
  refusalPatterns(patterns: string[]): RegExp[];
  /** Where a finished call's record goes (telemetry, metrics). */
  emit(record: CallRecord): void;
}

export type Pricer = (providerType: ApiDialect, model: string, usage: NormalizedUsage) => string | undefined;

/** One stage: fills its part of the context, answers the request (true: later stages are skipped) or throws a SidecarError. */
export interface Stage {
  readonly name: string;
  run(ctx: LlmRequest, env: PipelineEnv): boolean | void | Promise<boolean | void>;
}

/** How the call was answered: what the record stage needs beyond the request itself. */
export interface CallOutcome {
  /** Status the app received (for a stream cut after headers: the original 200). */
  httpStatus: number;
  /** miss | hit | semantic-hit | stale | bypass. */
  cacheStatus: string;
  /** Overrides the route plan's decision (refusals, cache hits). */
  decision?: string;
  /** The target that answered (or was last tried); default: the plan's first choice. */
  served?: { providerName: string; providerType: LlmEndpoint['dialect']; model: string; index: number };
  attempts?: AttemptRecord[];
  events?: CallEvent[];
  observed?: Pick<ObservedResponse, 'usage' | 'responseModel' | 'responseId' | 'finishReasons' | 'completed'>;
  /** With the answers a cascade rejected before the one served (they were billed too). */
  costUsd?: string;
  savedUsd?: string;
  /** Tokens of the answers a cascade rejected: the budget counts them with the served answer's usage. */
  escalatedTokens?: number;
  error?: SidecarError;
  /** `error.type` when it is not the error's own (a provider's status class, a client abort). */
  errorType?: string;
  clientAborted?: boolean;
  /** Sampled for evaluation: provider answers and semantic hits only (default false). */
  evalSampled?: boolean;
  /** The answer as captured for evaluation (sampled calls with capture on). */
  output?: ChatMessage[];
  /** Overrides the captured content (a semantic hit: the question and the cached answer served). */
  content?: CapturedContent;
  semanticMatch?: SemanticMatch;
  timeToFirstChunkMs?: number;
  /** Time the sidecar itself spent; default: the whole call (nothing upstream was waited for). */
  overheadMs?: number;
}

/** The bytes of an answer worth caching, with what the entry records about it. */
export type CacheableAnswer = { model: string; provider: string; usage: NonNullable<ObservedResponse['usage']>; costUsd: string | undefined } & (
  | { kind: 'json'; body: string }
  | { kind: 'stream'; events: CachedSseEvent[] }
);

/** The route plan; the stages after `route` may rely on it. */
export function planOf(ctx: LlmRequest): RoutePlan {
  if (!ctx.plan) throw new Error('pipeline: a stage after "route" ran without a route plan');
  return ctx.plan;
}

/** The app's connection closed before its answer was complete: nobody is left to serve. */
export function clientGone(ctx: LlmRequest): boolean {
  return ctx.res.destroyed && !ctx.res.writableFinished;
}

type Arrival = Pick<LlmRequest, 'req' | 'res' | 'endpoint' | 'path' | 'url' | 'controls' | 'requestId' | 'startEpochMs' | 'traceparent' | 'tracestate' | 'traceId'>;

const EMPTY = Buffer.alloc(0);

/**
 * What the pipeline knows about one LLM request. A class with every field assigned in one order,
 * not a spread literal: V8 keeps one fast hidden class for every request's context; built with
 * `{ ...init, … }` it fell to a dictionary object and doubled the proxy's CPU per request
 * (profiled with test/telemetry/profile-sidecar.ts).
 */
export class LlmRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly endpoint: LlmEndpoint;
  /** The checked path, and the path with its query as forwarded. */
  readonly path: string;
  readonly url: string;
  readonly controls: SidecarControls;
  readonly requestId: string;
  readonly startEpochMs: number;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** The app's trace id, or one chosen here (evaluation sampling is decided from it). */
  readonly traceId: string;

  // read-body
  /** performance.now() once the body is in: the start of the LLM operation. */
  t0 = performance.now();
  /** The bytes sent upstream (the app's, or re-serialised after a budget trim). */
  raw: Buffer = EMPTY;
  body: JsonObject = {};
  requestModel = '';
  stream = false;
  requestParams: RequestParams = {};

  // identify (always on: the same normalised values for routing, budgets, cache scope and spans)
  tenant = '';
  user = '';
  feature: string | undefined = undefined;

  // route
  plan: RoutePlan | undefined = undefined;
  evalSampled = false;
  capture: Pick<CapturedContent, 'system' | 'input'> | undefined = undefined;

  // budget
  reservation: Reservation | undefined = undefined;

  // cache read
  cache: CallCache | undefined = undefined;
  /** Set while this request leads its cache key (single flight); the pipeline releases the followers. */
  leading: (() => void) | undefined = undefined;

  // call and cache write
  /** A complete answer the cache may keep, set by the call stage. */
  cacheable: CacheableAnswer | undefined = undefined;
  /** The cache write in progress, awaited before followers are released. */
  cacheWrite: Promise<void> | undefined = undefined;
  /** Answer the exhausted call's last error (set by the call stage when no target answered). */
  answerExhausted: (() => CallOutcome) | undefined = undefined;

  // record
  outcome: CallOutcome | undefined = undefined;
  recorded = false;

  /** The context as the request arrives, before any stage ran. */
  constructor(a: Arrival) {
    this.req = a.req;
    this.res = a.res;
    this.endpoint = a.endpoint;
    this.path = a.path;
    this.url = a.url;
    this.controls = a.controls;
    this.requestId = a.requestId;
    this.startEpochMs = a.startEpochMs;
    this.traceparent = a.traceparent;
    this.tracestate = a.tracestate;
    this.traceId = a.traceId;
  }
}
