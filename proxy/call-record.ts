// What the proxy knows about one finished LLM call: the unit that telemetry, metrics and (later)
// budgets consume. Built once per call after the answer went out, off the request path.
import { logger } from '../shared/log.ts';
import type { ApiDialect, ErrorCode } from '../shared/errors.ts';
import type { NormalizedUsage } from '../shared/usage.ts';
import type { HitKind } from './cache/guard.ts';
import type { CapturedContent } from './telemetry/content.ts';

/** What a semantic hit matched, for its span (span-recorder.ts semanticHitAttributes). */
export interface SemanticMatch {
  question: string;
  similarity: number;
  kind: HitKind;
}

/** One physical request to a provider (a retry is a second attempt). */
export interface AttemptRecord {
  startEpochMs: number;
  endEpochMs: number;
  statusCode?: number;
  errorType?: string;
  providerName: string;
  model: string;
  serverAddress: string;
  serverPort: number;
}

/** Something that happened during the call: fallback, retry, skipped target, cascade escalation. */
export interface CallEvent {
  name: string;
  epochMs: number;
  attributes: Record<string, string | number>;
}

/** Sampling parameters of the request that semconv records (`gen_ai.request.*`). */
export interface RequestParams {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface CallRecord {
  requestId: string;
  /** Epoch milliseconds (sub-ms precision) when the request arrived: the SERVER span's start. */
  startEpochMs: number;
  /** When the LLM operation began (after the body was read): the gen_ai CLIENT span's start. */
  operationStartEpochMs: number;
  /** When the last byte went to the app (or the call ended otherwise). */
  endEpochMs: number;
  /** Inbound W3C trace context, so the app's own trace contains the sidecar's spans. */
  traceparent?: string;
  tracestate?: string;
  /** The trace id of this call: the app's, or one the sidecar chose (sampling is decided from it). */
  traceId: string;
  /** Sampled for evaluation. */
  evalSampled: boolean;
  /** Prompt and answer, only for sampled calls with capture enabled; redacted by the span recorder. */
  content?: CapturedContent;
  /** A semantic cache hit: the cached question it matched, the similarity and the kind of match. */
  semanticMatch?: SemanticMatch;
  method: string;
  path: string;
  serverAddress: string;
  serverPort: number;
  requestParams: RequestParams;
  attemptDetails: AttemptRecord[];
  dialect: ApiDialect;
  /** `gen_ai.operation.name`. */
  operation: string;
  route: string;
  /** Routing strategy and why the chain is in its order. */
  strategy: string;
  decision: string;
  events: CallEvent[];
  /** Index in the chain of the target that served (0 = first choice). */
  fallbackIndex: number;
  providerName: string;
  providerType: ApiDialect;
  requestModel: string;
  /** Model sent upstream (after alias mapping). */
  upstreamModel: string;
  responseModel?: string;
  responseId?: string;
  finishReasons?: string[];
  stream: boolean;
  tenant?: string;
  user?: string;
  feature?: string;
  /** Status the app received (for a stream cut after headers: the original 200). */
  httpStatus: number;
  /** Status the provider answered with, when it answered. */
  upstreamStatus?: number;
  errorCode?: ErrorCode;
  /** `error.type` for spans: a sidecar error type, or the provider's HTTP status class. */
  errorType?: string;
  usage?: NormalizedUsage;
  /** Exact decimal USD; undefined when the model has no price (cost unknown, never 0). */
  costUsd?: string;
  /** miss | hit | semantic-hit | stale | bypass (the contract's x-llm-sidecar-cache values). */
  cacheStatus: string;
  /** On a cache hit: what the original call cost, i.e. the spend the hit avoided. */
  savedUsd?: string;
  durationMs: number;
  timeToFirstChunkMs?: number;
  overheadMs: number;
  attempts: number;
  /** The provider's end-of-answer marker was seen. */
  completed: boolean;
  clientAborted: boolean;
}

/** A request on a path the sidecar does not parse: traced and counted, nothing more. */
export interface PassthroughRecord {
  requestId: string;
  startEpochMs: number;
  endEpochMs: number;
  traceparent?: string;
  tracestate?: string;
  method: string;
  path: string;
  route: string;
  providerName: string;
  providerType: ApiDialect;
  serverAddress: string;
  serverPort: number;
  httpStatus: number;
  upstreamStatus?: number;
  errorCode?: ErrorCode;
  errorType?: string;
  clientAborted: boolean;
}

export interface CallRecorder {
  record(call: CallRecord): void;
  recordPassthrough?(call: PassthroughRecord): void;
}

/** Fans a record out to several consumers; one failing consumer never affects the others or the request. */
export class CompositeRecorder implements CallRecorder {
  constructor(private readonly recorders: CallRecorder[]) {}

  record(call: CallRecord): void {
    for (const r of this.recorders) {
      try {
        r.record(call);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'call recorder failed');
      }
    }
  }

  recordPassthrough(call: PassthroughRecord): void {
    for (const r of this.recorders) {
      try {
        r.recordPassthrough?.(call);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'call recorder failed');
      }
    }
  }
}
