// One inbound LLM call: walks the route's chain of targets — breaker check, attempt, retry with
// backoff within the retry budget, cascade validation, fallback to the next target (translated to
// the other API when needed) — then answers the app in its own API and records the call.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RetryConfig } from '../shared/config/schema.ts';
import { SidecarError, type ApiDialect } from '../shared/errors.ts';
import { EVENT_LLM_SIDECAR_CASCADE_ESCALATED, EVENT_LLM_SIDECAR_FALLBACK, EVENT_LLM_SIDECAR_RETRY, EVENT_LLM_SIDECAR_TARGET_SKIPPED } from '../shared/telemetry/semconv.ts';
import type { NormalizedUsage } from '../shared/usage.ts';
import { Attempt, type AttemptOutcome, type StreamTranslator } from './attempt.ts';
import type { AttemptRecord, CallRecord, RequestParams } from './call-record.ts';
import type { LlmEndpoint } from './endpoints.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { clientAskedForUsage, withIncludeUsage, type JsonObject } from './request-body.ts';
import { sendError } from './respond.ts';
import { observeJson, type ObservedResponse } from './response-observer.ts';
import { retryDelayMs } from './resilience/backoff.ts';
import { cascadeRequest, failedCheck, summarize, type ValidatorName } from './resilience/validators.ts';
import { credentialFor, type RoutePlan, type Target } from './routing.ts';
import { captureJsonOutput, type CapturedContent, type ChatMessage } from './telemetry/content.ts';
import { upstreamUrl, type UpstreamPools } from './upstream.ts';
import { serveEntry, type CallCache } from './cache-gate.ts';
import { jsonEntry, streamEntry, type CacheEntry } from './cache/entry.ts';
import { StreamRecorder } from './cache/stream-recorder.ts';
import type { SecretMasker } from './secret-mask.ts';

export const RESPONSE_HEADERS = {
  cache: 'x-llm-sidecar-cache',
  provider: 'x-llm-sidecar-provider',
  model: 'x-llm-sidecar-model',
  attempts: 'x-llm-sidecar-attempts',
  cost: 'x-llm-sidecar-cost-usd',
  overhead: 'x-llm-sidecar-overhead-ms',
  requestId: 'x-request-id',
  sidecarRequestId: 'x-llm-sidecar-request-id',
} as const;

const STREAM_TRAILERS = `${RESPONSE_HEADERS.cost}, ${RESPONSE_HEADERS.overhead}`;

/** Wall-clock epoch milliseconds with sub-millisecond precision, for span timestamps. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

const epoch = (t: number): number => performance.timeOrigin + t;

/** Request and answer translation between the two APIs, for cross-provider fallback. */
export interface Translation {
  request(body: JsonObject, model: string): JsonObject;
  response(json: JsonObject, requestedModel: string): JsonObject;
  stream(opts: { includeUsage: boolean; requestedModel: string }): StreamTranslator;
  /** A provider error body in the app's API shape. */
  error(status: number, json: unknown): JsonObject;
}

export interface CallDeps {
  pools: UpstreamPools;
  price(providerType: ApiDialect, model: string, usage: NormalizedUsage | undefined): string | undefined;
  finish(record: CallRecord): void;
  translation(from: ApiDialect, to: ApiDialect): Translation | undefined;
  maxBufferedBytes: number;
  /** Masks configured provider keys in what providers send back (proxy/secret-mask.ts). */
  masker?: SecretMasker;
}

export interface CallInput {
  requestId: string;
  method: string;
  path: string;
  url: string;
  startEpochMs: number;
  t0: number;
  traceparent?: string;
  tracestate?: string;
  traceId: string;
  evalSampled: boolean;
  capture?: Pick<CapturedContent, 'system' | 'input'>;
  endpoint: LlmEndpoint;
  inboundHeaders: IncomingHttpHeaders;
  raw: Buffer;
  body: JsonObject;
  requestModel: string;
  stream: boolean;
  plan: RoutePlan;
  retry: RetryConfig;
  cascade?: { validators: ValidatorName[]; refusal: RegExp[]; streams: 'before-first-byte' | 'off' };
  tenant?: string;
  user?: string;
  feature?: string;
  requestParams: RequestParams;
  /** Cache context when the route caches this request (a miss: the answer is written back). */
  cache?: CallCache;
}

const ENDPOINTS: Record<ApiDialect, LlmEndpoint> = {
  openai: { kind: 'llm', dialect: 'openai', operation: 'chat', operationName: 'chat' },
  anthropic: { kind: 'llm', dialect: 'anthropic', operation: 'chat', operationName: 'chat' },
};
const CHAT_PATH: Record<ApiDialect, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Served {
  target: Target;
  model: string;
  index: number;
}

export class LlmCall {
  private readonly attempts: AttemptRecord[] = [];
  /** The cache write of this call's answer, once started. */
  private cacheWrite: Promise<void> | undefined;
  private current: Attempt | undefined;
  private clientGone = false;
  private overheadMs = 0;
  private tFirstChunk = 0;
  private served: Served | undefined;
  private skippedOpen = false;
  private currentRecorder: StreamRecorder | undefined;
  /** An attempt is running and not yet in `attempts` (a stream commits while it runs). */
  private attemptInFlight = false;
  private readonly events: { name: string; epochMs: number; attributes: Record<string, string | number> }[] = [];

  constructor(
    private readonly input: CallInput,
    private readonly res: ServerResponse,
    private readonly deps: CallDeps,
  ) {
    this.cacheStatus = input.cache ? 'miss' : 'bypass';
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.current?.abortByClient();
    });
  }

  async run(): Promise<void> {
    const { plan, retry } = this.input;
    const candidates = plan.candidates;
    let last: { outcome: AttemptOutcome; served: Served; cross: boolean } | undefined;
    this.overheadMs = performance.now() - this.input.t0;
    for (let i = 0; i < candidates.length; i++) {
      const { target, model } = candidates[i] as { target: Target; model: string };
      const translation = target.provider.type === this.input.endpoint.dialect ? undefined : this.deps.translation(this.input.endpoint.dialect, target.provider.type);
      if (target.provider.type !== this.input.endpoint.dialect && (!translation || this.input.endpoint.operation !== 'chat')) {
        this.event(EVENT_LLM_SIDECAR_TARGET_SKIPPED, { target: target.key, reason: 'api_mismatch' });
        continue;
      }
      const credential = credentialFor(target.provider, this.input.endpoint.dialect);
      if (credential === undefined) {
        // The app's key is for another API and this target has none of its own: never send it there.
        this.skippedNoCredential = target.providerName;
        this.event(EVENT_LLM_SIDECAR_TARGET_SKIPPED, { target: target.key, reason: 'no_credential' });
        continue;
      }
      if (!target.breaker.allow()) {
        this.skippedOpen = true;
        this.event(EVENT_LLM_SIDECAR_TARGET_SKIPPED, { target: target.key, reason: 'circuit_open' });
        continue;
      }
      if (i > 0) this.event(EVENT_LLM_SIDECAR_FALLBACK, { target: target.key, index: i });
      target.budget.recordRequest();
      const isLastCandidate = i === candidates.length - 1;
      for (let r = 0; ; r++) {
        const served: Served = { target, model, index: i };
        const mayRetry = r < retry.maxRetries;
        const outcome = await this.attempt(served, translation, !isLastCandidate || mayRetry || this.cascadesStreams(isLastCandidate));
        if (this.clientGone || (outcome.kind === 'failed' && outcome.cause === 'client')) {
          this.finishRecord(served, outcome.kind === 'committed' ? outcome.status : 499, outcome.kind === 'committed' ? outcome.observed : undefined, undefined, true);
          return;
        }
        if (outcome.kind === 'committed') {
          target.breaker.record(outcome.error === undefined);
          if (!outcome.error) target.latency.observe((this.current?.tCommit || this.current?.tEnd || 0) - (this.current?.tStart ?? 0));
          this.finishStream(served, outcome);
          return;
        }
        const status = outcome.kind === 'failed' ? 0 : outcome.status;
        const failedClass = outcome.kind === 'failed' ? outcome.cause : status === 429 ? '429' : status >= 500 ? '5xx' : undefined;
        if (failedClass === undefined) {
          target.breaker.record(true);
          target.latency.observe((this.current?.tEnd ?? 0) - (this.current?.tStart ?? 0));
          // A provider 4xx (other than 429) is the request's fault: answer it as is, never escalate.
          const escalate = !isLastCandidate && status < 400 && this.cascadeFailure(outcome, target.provider.type);
          if (escalate) {
            this.event(EVENT_LLM_SIDECAR_CASCADE_ESCALATED, { target: target.key, reason: escalate });
            last = { outcome, served, cross: translation !== undefined };
            break;
          }
          this.deliver(outcome, served, translation);
          return;
        }
        target.breaker.record(false);
        last = { outcome, served, cross: translation !== undefined };
        const retryable = failedClass === 'other' ? retry.on.includes('connect') : retry.on.includes(failedClass as 'connect' | 'timeout' | '429' | '5xx');
        if (!retryable && isLastCandidate) break;
        if (!retryable || !mayRetry || !target.budget.tryRetry()) break;
        const headers = outcome.kind === 'answer' ? outcome.headers : undefined;
        const delay = retryDelayMs(r, headers, { baseMs: retry.baseMs, maxMs: retry.maxMs, maxRetryAfterMs: Number.POSITIVE_INFINITY });
        if (delay > retry.maxRetryAfterMs) break; // the provider asks for longer than we wait: next target
        this.event(EVENT_LLM_SIDECAR_RETRY, { target: target.key, attempt: r + 1, delay_ms: Math.round(delay) });
        await sleep(delay);
        if (this.clientGone) {
          this.finishRecord(served, 499, undefined, undefined, true);
          return;
        }
      }
    }
    await this.exhausted(last);
  }

  private cascadesStreams(isLast: boolean): boolean {
    return !isLast && this.input.plan.strategy === 'cascade' && this.input.cascade?.streams !== 'off';
  }

  private async attempt(served: Served, translation: Translation | undefined, holdPreamble: boolean): Promise<AttemptOutcome> {
    const { input } = this;
    const { target, model } = served;
    const upstreamDialect = target.provider.type;
    const upstream = this.deps.pools.get(target.providerName);
    let body: Buffer;
    let path: string;
    let hideUsage = false;
    if (translation) {
      const translated = translation.request(input.body, model);
      body = Buffer.from(JSON.stringify(translated));
      path = upstreamUrl(upstream, CHAT_PATH[upstreamDialect]);
    } else {
      hideUsage = input.stream && upstreamDialect === 'openai' && input.endpoint.operation === 'chat' && !clientAskedForUsage(input.body);
      if (model !== input.requestModel) {
        const patched: JsonObject = { ...input.body, model };
        body = Buffer.from(JSON.stringify(patched));
        if (hideUsage) body = withIncludeUsage(body, patched);
      } else body = hideUsage ? withIncludeUsage(input.raw, input.body) : input.raw;
      path = upstreamUrl(upstream, input.url);
    }
    const credential = credentialFor(target.provider, input.endpoint.dialect) ?? 'configured'; // the loop skipped targets without one
    const headers = upstreamRequestHeaders(input.inboundHeaders, { provider: target.provider, credential, bufferedBody: true, identityEncoding: true });
    if (translation && upstreamDialect === 'anthropic' && headers['anthropic-version'] === undefined) headers['anthropic-version'] = '2023-06-01';
    const attempt = new Attempt({
      upstreamEndpoint: translation ? ENDPOINTS[upstreamDialect] : input.endpoint,
      clientDialect: input.endpoint.dialect,
      providerName: target.providerName,
      hideUsage,
      translator: translation && input.stream ? translation.stream({ includeUsage: clientAskedForUsage(input.body), requestedModel: input.requestModel }) : undefined,
      holdPreamble,
      maxBufferedBytes: this.deps.maxBufferedBytes,
      streamLargeAnswers: !translation,
      firstTokenMs: target.timeouts.firstTokenMs,
      totalMs: target.timeouts.totalMs,
      idleMs: target.timeouts.idleMs ?? target.provider.timeouts.idleMs,
      streamEnd: target.provider.streamEnd ?? 'done',
      capture: input.capture !== undefined,
      recorder: input.cache?.write && !translation && input.stream ? new StreamRecorder(upstreamDialect, input.endpoint.operation) : undefined,
      res: this.res,
      commit: (status, upstreamHeaders) => this.writeHead(status, upstreamHeaders, served, true),
    });
    this.current = attempt;
    this.currentRecorder = attempt.recorder;
    this.served = served;
    this.attemptInFlight = true;
    attempt.start();
    const startEpoch = epochNow();
    upstream.pool.dispatch(
      { origin: upstream.origin, path, method: 'POST', headers, body, ...(target.timeouts.idleMs !== undefined ? { bodyTimeout: target.timeouts.idleMs } : {}) },
      attempt,
    );
    const outcome = await attempt.result;
    // A provider that echoes a configured key (in an error body, say) never gets it past here: the
    // body, and the JSON the attempt parsed from it (translation, capture and the cache read that).
    if (outcome.kind === 'answer' && this.deps.masker?.active) {
      const masked = this.deps.masker.maskBuffer(outcome.body);
      if (masked !== outcome.body) {
        outcome.body = masked;
        outcome.observed = observeJson(translation ? ENDPOINTS[upstreamDialect] : input.endpoint, masked);
      }
      this.deps.masker.maskHeaders(outcome.headers);
    }
    this.attemptInFlight = false;
    if (this.tFirstChunk === 0 && attempt.tFirstChunk !== 0) this.tFirstChunk = attempt.tFirstChunk;
    const status = outcome.kind === 'failed' ? undefined : outcome.status;
    this.attempts.push({
      startEpochMs: startEpoch,
      endEpochMs: epochNow(),
      statusCode: status,
      errorType: outcome.kind === 'failed' ? outcome.error.errorType : status !== undefined && status >= 400 ? String(status) : outcome.kind === 'committed' ? outcome.error?.errorType : undefined,
      providerName: target.providerName,
      model,
      serverAddress: upstream.hostname,
      serverPort: upstream.port,
    });
    return outcome;
  }

  /** Which cascade check a complete answer fails, if any (cascade strategy only). */
  private cascadeFailure(outcome: AttemptOutcome, upstreamDialect: ApiDialect): string | undefined {
    const c = this.input.cascade;
    if (this.input.plan.strategy !== 'cascade' || !c) return undefined;
    if (outcome.kind === 'empty-stream') return c.streams !== 'off' && c.validators.includes('empty') ? 'empty' : undefined;
    if (outcome.kind !== 'answer') return undefined;
    let json: JsonObject;
    try {
      json = JSON.parse(outcome.body.toString('utf8')) as JsonObject;
    } catch {
      return 'invalid_response';
    }
    const req = this.input.endpoint.dialect === 'openai' ? cascadeRequest(this.input.body) : { wantsJson: false, schema: undefined };
    return failedCheck(summarize(json, upstreamDialect), req, c.validators, c.refusal);
  }

  private writeHead(status: number, upstreamHeaders: IncomingHttpHeaders, served: Served, stream: boolean, extra?: OutgoingHttpHeaders): void {
    const t = performance.now();
    const cross = served.target.provider.type !== this.input.endpoint.dialect;
    const out = cross ? { 'content-type': stream ? 'text/event-stream; charset=utf-8' : 'application/json' } : downstreamResponseHeaders(upstreamHeaders);
    if (this.deps.masker?.active) this.deps.masker.maskHeaders(out);
    const h: OutgoingHttpHeaders = out;
    h[RESPONSE_HEADERS.cache] = this.cacheStatus;
    h[RESPONSE_HEADERS.provider] = served.target.providerName;
    h[RESPONSE_HEADERS.model] = served.model;
    h[RESPONSE_HEADERS.attempts] = String(this.attempts.length + (this.attemptInFlight ? 1 : 0));
    h[RESPONSE_HEADERS.sidecarRequestId] = this.input.requestId;
    // The provider's own request id wins: it is what the SDK surfaces and what support asks for.
    if (h[RESPONSE_HEADERS.requestId] === undefined) h[RESPONSE_HEADERS.requestId] = this.input.requestId;
    if (stream) h.trailer = STREAM_TRAILERS;
    Object.assign(h, extra);
    this.overheadMs += performance.now() - t;
    this.res.writeHead(status, h);
  }

  /** A complete JSON answer: translate if needed, set cost and overhead headers, send. */
  private deliver(outcome: AttemptOutcome, served: Served, translation: Translation | undefined): void {
    const t = performance.now();
    if (outcome.kind === 'empty-stream') {
      this.writeHead(outcome.status, outcome.headers, served, true);
      for (const h of outcome.held) this.res.write(h);
      const cost = this.costOf(served, outcome.observed);
      this.res.addTrailers({ [RESPONSE_HEADERS.cost]: cost ?? 'unknown', [RESPONSE_HEADERS.overhead]: this.overheadMs.toFixed(3) });
      this.res.end();
      this.finishRecord(served, outcome.status, outcome.observed, cost, false);
      return;
    }
    if (outcome.kind !== 'answer') return;
    const upstreamEndpoint = translation ? ENDPOINTS[served.target.provider.type] : this.input.endpoint;
    const observed = outcome.observed ?? observeJson(upstreamEndpoint, outcome.body);
    let body = outcome.body;
    if (translation && observed.json && outcome.status < 400) body = Buffer.from(JSON.stringify(translation.response(observed.json, this.input.requestModel)));
    else if (translation && outcome.status >= 400) body = Buffer.from(JSON.stringify(translation.error(outcome.status, observed.json)));
    const cost = outcome.status >= 400 && !observed.usage ? '0' : this.costOf(served, observed);
    const output = this.input.capture && observed.json && outcome.status < 400 ? captureJsonOutput(upstreamEndpoint, observed.json) : undefined;
    this.overheadMs += performance.now() - t;
    this.writeHead(outcome.status, outcome.headers, served, false, {
      'content-length': String(body.length),
      [RESPONSE_HEADERS.cost]: cost ?? 'unknown',
      [RESPONSE_HEADERS.overhead]: (this.overheadMs + (performance.now() - t)).toFixed(3),
    });
    this.res.end(body);
    this.finishRecord(served, outcome.status, observed, cost, false, undefined, output);
    const c = this.input.cache;
    if (c?.write && !translation && outcome.status === 200 && observed.usage) {
      const entry = jsonEntry({ dialect: this.input.endpoint.dialect, operation: this.input.endpoint.operation, model: observed.responseModel ?? served.model, provider: served.target.providerName, usage: observed.usage, costUsd: cost, ttlMs: c.ttlMs, body: outcome.body.toString('utf8') });
      this.writeCache(c, entry);
    }
  }

  private finishStream(served: Served, outcome: Extract<AttemptOutcome, { kind: 'committed' }>): void {
    const t = performance.now();
    const cost = this.costOf(served, outcome.observed);
    if (!this.res.destroyed) {
      this.res.addTrailers({ [RESPONSE_HEADERS.cost]: cost ?? 'unknown', [RESPONSE_HEADERS.overhead]: (this.overheadMs + (performance.now() - t)).toFixed(3) });
      this.res.end();
    }
    const output = outcome.output?.output(outcome.observed.finishReasons?.[0]);
    this.finishRecord(served, outcome.status, outcome.observed, cost, false, outcome.error, output);
    const c = this.input.cache;
    const events = !outcome.error ? this.currentRecorder?.finish() : undefined;
    if (c?.write && events && outcome.observed.usage) {
      const entry = streamEntry({ dialect: this.input.endpoint.dialect, operation: this.input.endpoint.operation, model: outcome.observed.responseModel ?? served.model, provider: served.target.providerName, usage: outcome.observed.usage, costUsd: cost, ttlMs: c.ttlMs, events });
      this.writeCache(c, entry);
    }
  }

  /** Store the answer, then teach the semantic index that this question has an answer under this key. */
  private writeCache(c: CallCache, entry: CacheEntry): void {
    this.cacheWrite = c.store
      .set(c.key, entry, c.ttlMs)
      .then(() => (c.semantic ? c.semantic.cache.add(c.semantic.req, c.key, entry.expiresAt, c.semantic.vector) : undefined))
      .catch(() => undefined); // a store failure is a lost entry, never a failed call
  }

  /** Resolves once this call's cache write (if any) is in the store: identical requests waiting on it can then read it. */
  cacheWritten(): Promise<void> {
    return this.cacheWrite ?? Promise.resolve();
  }

  /** Every target failed or was skipped: a stale cache entry if there is one, else the last error. */
  private async exhausted(last: { outcome: AttemptOutcome; served: Served; cross: boolean } | undefined): Promise<void> {
    const c = this.input.cache;
    if (c && c.staleMaxMs > 0 && !this.clientGone) {
      const entry = await c.store.getStale(c.key, c.staleMaxMs);
      const headers = {
        [RESPONSE_HEADERS.cache]: 'stale',
        [RESPONSE_HEADERS.provider]: entry?.provider ?? '',
        [RESPONSE_HEADERS.model]: entry?.model ?? '',
        [RESPONSE_HEADERS.attempts]: String(this.attempts.length),
        [RESPONSE_HEADERS.sidecarRequestId]: this.input.requestId,
        [RESPONSE_HEADERS.requestId]: this.input.requestId,
        [RESPONSE_HEADERS.cost]: '0',
      };
      if (entry && serveEntry(this.res, entry, { dialect: this.input.endpoint.dialect, stream: this.input.stream, includeUsage: c.includeUsage }, headers)) {
        this.cacheStatus = 'stale';
        const served = last?.served ?? { target: this.input.plan.candidates[0]?.target as Target, model: entry.model, index: 0 };
        this.finishRecord(served, 200, { completed: true, responseModel: entry.model }, '0', false, undefined, undefined, entry.costUsd);
        return;
      }
    }
    if (last && last.outcome.kind === 'answer') {
      const translation = last.cross ? this.deps.translation(this.input.endpoint.dialect, last.served.target.provider.type) : undefined;
      this.deliver(last.outcome, last.served, translation);
      return;
    }
    if (last && last.outcome.kind === 'empty-stream') {
      this.deliver(last.outcome, last.served, undefined);
      return;
    }
    const error =
      last?.outcome.kind === 'failed'
        ? last.outcome.error
        : this.skippedNoCredential !== undefined && !this.skippedOpen
          ? new SidecarError(
              'LLM_SIDECAR_NO_CREDENTIAL',
              `provider "${this.skippedNoCredential}" has no apiKey configured, and the app's ${this.input.endpoint.dialect} credentials go only to a provider of that API; set providers.${this.skippedNoCredential}.apiKey`,
            )
        : this.skippedOpen
          ? new SidecarError('LLM_SIDECAR_CIRCUIT_OPEN', `every target of route "${this.input.plan.routeName}" is failing (circuit open); retry later`)
          : new SidecarError('LLM_SIDECAR_DIALECT_MISMATCH', `no target of route "${this.input.plan.routeName}" speaks the ${this.input.endpoint.dialect} API for this endpoint, and it cannot be translated`);
    sendError(this.res, this.input.endpoint.dialect, error, this.input.requestId, { [RESPONSE_HEADERS.attempts]: String(this.attempts.length) });
    const served = last?.served ?? { target: this.input.plan.candidates[0]?.target as Target, model: this.input.requestModel, index: 0 };
    this.finishRecord(served, error.status, undefined, undefined, false, error);
  }

  private costOf(served: Served, observed: ObservedResponse): string | undefined {
    return this.deps.price(served.target.provider.type, observed.responseModel ?? served.model, observed.usage);
  }

  private event(name: string, attributes: Record<string, string | number>): void {
    this.events.push({ name, epochMs: epochNow(), attributes });
  }

  private cacheStatus: string;
  /** A target skipped because no credential may go to it (its name, for the error if nothing else answers). */
  private skippedNoCredential: string | undefined;

  private finishRecord(served: Served, httpStatus: number, observed: ObservedResponse | undefined, cost: string | undefined, clientAborted: boolean, error?: SidecarError, output?: ChatMessage[], savedUsd?: string): void {
    const input = this.input;
    const now = performance.now();
    const lastAttempt = this.attempts[this.attempts.length - 1];
    const upstreamStatus = lastAttempt?.statusCode;
    const errorType = error?.errorType ?? (clientAborted ? 'client_aborted' : upstreamStatus !== undefined && upstreamStatus >= 400 ? String(upstreamStatus) : undefined);
    this.deps.finish({
      requestId: input.requestId,
      startEpochMs: input.startEpochMs,
      operationStartEpochMs: epoch(input.t0),
      endEpochMs: epoch(now),
      traceparent: input.traceparent,
      tracestate: input.tracestate,
      traceId: input.traceId,
      evalSampled: input.evalSampled,
      content: input.capture ? { system: input.capture.system, input: input.capture.input, output: output ?? [] } : undefined,
      method: input.method,
      path: input.path,
      serverAddress: lastAttempt?.serverAddress ?? '',
      serverPort: lastAttempt?.serverPort ?? 0,
      requestParams: input.requestParams,
      attemptDetails: this.attempts,
      dialect: input.endpoint.dialect,
      operation: input.endpoint.operationName,
      route: input.plan.routeName,
      strategy: input.plan.strategy,
      decision: input.plan.decision,
      events: this.events,
      providerName: served.target?.providerName ?? '',
      providerType: served.target?.provider.type ?? input.endpoint.dialect,
      requestModel: input.requestModel,
      upstreamModel: served.model,
      responseModel: observed?.responseModel,
      responseId: observed?.responseId,
      finishReasons: observed?.finishReasons,
      stream: input.stream,
      tenant: input.tenant,
      user: input.user,
      feature: input.feature,
      httpStatus,
      upstreamStatus,
      errorCode: error?.code,
      errorType,
      usage: observed?.usage,
      costUsd: cost,
      cacheStatus: this.cacheStatus,
      savedUsd,
      durationMs: now - input.t0,
      timeToFirstChunkMs: this.tFirstChunk === 0 ? undefined : this.tFirstChunk - input.t0,
      overheadMs: this.overheadMs,
      attempts: this.attempts.length,
      fallbackIndex: served.index,
      completed: observed?.completed ?? false,
      clientAborted,
    });
  }
}
