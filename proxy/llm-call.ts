// One inbound LLM call's target loop: walks the route's chain of targets — breaker check, attempt,
// retry with backoff within the retry budget, cascade validation, fallback to the next target
// (translated to the other API when needed) — and answers the app in its own API. What happened
// goes back to the pipeline as a CallOutcome (pipeline/record.ts builds the record from it); the
// cache write and the stale fallback are pipeline stages of their own (pipeline/cache-write.ts).
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RetryConfig } from '../shared/config/schema.ts';
import { SidecarError, type ApiDialect } from '../shared/errors.ts';
import { formatPicoUsd, parsePicoUsd } from '../shared/pricing/cost.ts';
import { RESPONSE_HEADERS } from '../shared/sidecar-headers.ts';
import { EVENT_LLM_SIDECAR_CASCADE_ESCALATED, EVENT_LLM_SIDECAR_FALLBACK, EVENT_LLM_SIDECAR_RETRY, EVENT_LLM_SIDECAR_TARGET_SKIPPED } from '../shared/telemetry/semconv.ts';
import { Attempt, type AttemptOutcome } from './attempt.ts';
import type { AttemptRecord, CallEvent } from './call-record.ts';
import type { LlmEndpoint } from './endpoints.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import type { CacheableAnswer, CallDeps, CallOutcome, LlmRequest } from './pipeline/context.ts';
import { clientAskedForUsage, withIncludeUsage, type JsonObject } from './request-body.ts';
import { sendError } from './respond.ts';
import { observeJson, type ObservedResponse } from './response-observer.ts';
import { retryDelayMs } from './resilience/backoff.ts';
import { cascadeRequest, failedCheck, summarize, type ValidatorName } from './resilience/validators.ts';
import { credentialFor, type RoutePlan, type Target } from './routing.ts';
import { captureJsonOutput, type ChatMessage } from './telemetry/content.ts';
import type { CrossTranslation } from './translate/index.ts';
import { upstreamUrl } from './upstream.ts';
import { StreamRecorder } from './cache/stream-recorder.ts';

const STREAM_TRAILERS = `${RESPONSE_HEADERS.cost}, ${RESPONSE_HEADERS.overhead}`;

/** Wall-clock epoch milliseconds with sub-millisecond precision, for span timestamps. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The route's resilience settings for this call. */
export interface CallOptions {
  retry: RetryConfig;
  cascade?: { validators: ValidatorName[]; refusal: RegExp[]; streams: 'before-first-byte' | 'off' };
}

/** How the target loop ended: answered (and maybe cacheable), or every target failed or was skipped. */
export type CallEnd =
  | { kind: 'answered'; outcome: CallOutcome; cacheable?: CacheableAnswer }
  | {
      kind: 'exhausted';
      /** What the loop did (attempts, events, the last target), for a stale answer served instead. */
      tried: CallOutcome;
      /** Answer the last error to the app (the provider's, or the sidecar's own) and say so. */
      answer(): CallOutcome;
    };

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

type Last = { outcome: AttemptOutcome; served: Served; cross: boolean };

export class LlmCall {
  private readonly attempts: AttemptRecord[] = [];
  private readonly events: CallEvent[] = [];
  private readonly res: ServerResponse;
  private readonly cacheStatus: string;
  private current: Attempt | undefined;
  private clientGone = false;
  private overheadMs = 0;
  private tFirstChunk = 0;
  private skippedOpen = false;
  /** A target skipped because no credential may go to it (its name, for the error if nothing else answers). */
  private skippedNoCredential: string | undefined;
  private currentRecorder: StreamRecorder | undefined;
  /** An attempt is running and not yet in `attempts` (a stream commits while it runs). */
  private attemptInFlight = false;
  /** What the answers a cascade rejected cost (they were paid for all the same): added to the call's cost and tokens. */
  private escalatedPicoUsd = 0n;
  private escalatedTokens = 0;

  constructor(
    private readonly ctx: LlmRequest,
    private readonly plan: RoutePlan,
    private readonly opts: CallOptions,
    private readonly deps: CallDeps,
  ) {
    this.res = ctx.res;
    this.cacheStatus = ctx.cache ? 'miss' : 'bypass';
    this.res.on('close', () => {
      if (this.res.writableFinished) return;
      this.clientGone = true;
      this.current?.abortByClient();
    });
  }

  async run(): Promise<CallEnd> {
    const { plan } = this;
    const { retry } = this.opts;
    const dialect = this.ctx.endpoint.dialect;
    const candidates = plan.candidates;
    let last: Last | undefined;
    this.overheadMs = performance.now() - this.ctx.t0;
    for (let i = 0; i < candidates.length; i++) {
      const { target, model } = candidates[i] as { target: Target; model: string };
      const translation = target.provider.type === dialect ? undefined : this.deps.translation(dialect, target.provider.type);
      if (target.provider.type !== dialect && (!translation || this.ctx.endpoint.operation !== 'chat')) {
        this.event(EVENT_LLM_SIDECAR_TARGET_SKIPPED, { target: target.key, reason: 'api_mismatch' });
        continue;
      }
      if (credentialFor(target.provider, dialect) === undefined) {
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
          const committed = outcome.kind === 'committed';
          return { kind: 'answered', outcome: this.outcome(served, committed ? outcome.status : 499, committed ? outcome.observed : undefined, undefined, true) };
        }
        if (outcome.kind === 'committed') {
          target.breaker.record(outcome.error === undefined);
          if (!outcome.error) target.latency.observe((this.current?.tCommit || this.current?.tEnd || 0) - (this.current?.tStart ?? 0));
          return this.finishStream(served, outcome);
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
            this.paidAndRejected(served, outcome);
            last = { outcome, served, cross: translation !== undefined };
            break;
          }
          return this.deliver(outcome, served, translation);
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
        if (this.clientGone) return { kind: 'answered', outcome: this.outcome(served, 499, undefined, undefined, true) };
      }
    }
    return this.exhausted(last);
  }

  private cascadesStreams(isLast: boolean): boolean {
    return !isLast && this.plan.strategy === 'cascade' && this.opts.cascade?.streams !== 'off';
  }

  private async attempt(served: Served, translation: CrossTranslation | undefined, holdPreamble: boolean): Promise<AttemptOutcome> {
    const input = this.ctx;
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
    const headers = upstreamRequestHeaders(input.req.headers, { provider: target.provider, credential, bufferedBody: true, identityEncoding: true });
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
    const c = this.opts.cascade;
    if (this.plan.strategy !== 'cascade' || !c) return undefined;
    if (outcome.kind === 'empty-stream') return c.streams !== 'off' && c.validators.includes('empty') ? 'empty' : undefined;
    if (outcome.kind !== 'answer') return undefined;
    let json: JsonObject;
    try {
      json = JSON.parse(outcome.body.toString('utf8')) as JsonObject;
    } catch {
      return 'invalid_response';
    }
    const req = this.ctx.endpoint.dialect === 'openai' ? cascadeRequest(this.ctx.body) : { wantsJson: false, schema: undefined };
    return failedCheck(summarize(json, upstreamDialect), req, c.validators, c.refusal);
  }

  private writeHead(status: number, upstreamHeaders: IncomingHttpHeaders, served: Served, stream: boolean, extra?: OutgoingHttpHeaders): void {
    const t = performance.now();
    const cross = served.target.provider.type !== this.ctx.endpoint.dialect;
    const out = cross ? { 'content-type': stream ? 'text/event-stream; charset=utf-8' : 'application/json' } : downstreamResponseHeaders(upstreamHeaders);
    if (this.deps.masker?.active) this.deps.masker.maskHeaders(out);
    const h: OutgoingHttpHeaders = out;
    h[RESPONSE_HEADERS.cache] = this.cacheStatus;
    h[RESPONSE_HEADERS.provider] = served.target.providerName;
    h[RESPONSE_HEADERS.model] = served.model;
    h[RESPONSE_HEADERS.attempts] = String(this.attempts.length + (this.attemptInFlight ? 1 : 0));
    h[RESPONSE_HEADERS.sidecarRequestId] = this.ctx.requestId;
    // The provider's own request id wins: it is what the SDK surfaces and what support asks for.
    if (h[RESPONSE_HEADERS.requestId] === undefined) h[RESPONSE_HEADERS.requestId] = this.ctx.requestId;
    if (stream) h.trailer = STREAM_TRAILERS;
    Object.assign(h, extra);
    this.overheadMs += performance.now() - t;
    this.res.writeHead(status, h);
  }

  /** A complete JSON answer: translate if needed, set cost and overhead headers, send. */
  private deliver(outcome: AttemptOutcome, served: Served, translation: CrossTranslation | undefined): CallEnd & { kind: 'answered' } {
    const t = performance.now();
    if (outcome.kind === 'empty-stream') {
      this.writeHead(outcome.status, outcome.headers, served, true);
      for (const h of outcome.held) this.res.write(h);
      const cost = this.costOf(served, outcome.observed);
      this.res.addTrailers({ [RESPONSE_HEADERS.cost]: cost ?? 'unknown', [RESPONSE_HEADERS.overhead]: this.overheadMs.toFixed(3) });
      this.res.end();
      return { kind: 'answered', outcome: this.outcome(served, outcome.status, outcome.observed, cost, false) };
    }
    if (outcome.kind !== 'answer') throw new Error(`deliver: not a complete answer (${outcome.kind})`);
    const upstreamEndpoint = translation ? ENDPOINTS[served.target.provider.type] : this.ctx.endpoint;
    const observed = outcome.observed ?? observeJson(upstreamEndpoint, outcome.body);
    let body = outcome.body;
    if (translation && observed.json && outcome.status < 400) body = Buffer.from(JSON.stringify(translation.response(observed.json, this.ctx.requestModel)));
    else if (translation && outcome.status >= 400) body = Buffer.from(JSON.stringify(translation.error(outcome.status, observed.json)));
    const cost = outcome.status >= 400 && !observed.usage ? this.withEscalated('0') : this.costOf(served, observed);
    const output = this.ctx.capture && observed.json && outcome.status < 400 ? captureJsonOutput(upstreamEndpoint, observed.json) : undefined;
    this.overheadMs += performance.now() - t;
    this.writeHead(outcome.status, outcome.headers, served, false, {
      'content-length': String(body.length),
      [RESPONSE_HEADERS.cost]: cost ?? 'unknown',
      [RESPONSE_HEADERS.overhead]: (this.overheadMs + (performance.now() - t)).toFixed(3),
    });
    this.res.end(body);
    const cacheable: CacheableAnswer | undefined =
      !translation && outcome.status === 200 && observed.usage
        ? { kind: 'json', body: outcome.body.toString('utf8'), model: observed.responseModel ?? served.model, provider: served.target.providerName, usage: observed.usage, costUsd: cost }
        : undefined;
    return { kind: 'answered', outcome: this.outcome(served, outcome.status, observed, cost, false, undefined, output), cacheable };
  }

  private finishStream(served: Served, outcome: Extract<AttemptOutcome, { kind: 'committed' }>): CallEnd & { kind: 'answered' } {
    const t = performance.now();
    const cost = this.costOf(served, outcome.observed);
    if (!this.res.destroyed) {
      this.res.addTrailers({ [RESPONSE_HEADERS.cost]: cost ?? 'unknown', [RESPONSE_HEADERS.overhead]: (this.overheadMs + (performance.now() - t)).toFixed(3) });
      this.res.end();
    }
    const output = outcome.output?.output(outcome.observed.finishReasons?.[0]);
    // A cut or failed stream is never kept: only one the provider ended itself.
    const events = !outcome.error ? this.currentRecorder?.finish() : undefined;
    const usage = outcome.observed.usage;
    const cacheable: CacheableAnswer | undefined =
      events && usage ? { kind: 'stream', events, model: outcome.observed.responseModel ?? served.model, provider: served.target.providerName, usage, costUsd: cost } : undefined;
    return { kind: 'answered', outcome: this.outcome(served, outcome.status, outcome.observed, cost, false, outcome.error, output), cacheable };
  }

  /** Every target failed or was skipped: the pipeline may serve a stale entry, else the last error is answered. */
  private exhausted(last: Last | undefined): CallEnd {
    const first: Served = { target: this.plan.candidates[0]?.target as Target, model: this.ctx.requestModel, index: 0 };
    const served = last?.served ?? first;
    return { kind: 'exhausted', tried: this.outcome(served, 0, undefined, undefined, false), answer: () => this.answerLast(last, served) };
  }

  private answerLast(last: Last | undefined, served: Served): CallOutcome {
    if (last && last.outcome.kind === 'answer') {
      const translation = last.cross ? this.deps.translation(this.ctx.endpoint.dialect, last.served.target.provider.type) : undefined;
      return this.deliver(last.outcome, last.served, translation).outcome;
    }
    if (last && last.outcome.kind === 'empty-stream') return this.deliver(last.outcome, last.served, undefined).outcome;
    const { routeName } = this.plan;
    const dialect = this.ctx.endpoint.dialect;
    const error =
      last?.outcome.kind === 'failed'
        ? last.outcome.error
        : this.skippedNoCredential !== undefined && !this.skippedOpen
          ? new SidecarError(
              'LLM_SIDECAR_NO_CREDENTIAL',
              `provider "${this.skippedNoCredential}" has no apiKey configured, and the app's ${dialect} credentials go only to a provider of that API; set providers.${this.skippedNoCredential}.apiKey`,
            )
          : this.skippedOpen
            ? new SidecarError('LLM_SIDECAR_CIRCUIT_OPEN', `every target of route "${routeName}" is failing (circuit open); retry later`)
            : new SidecarError('LLM_SIDECAR_DIALECT_MISMATCH', `no target of route "${routeName}" speaks the ${dialect} API for this endpoint, and it cannot be translated`);
    sendError(this.res, dialect, error, this.ctx.requestId, { [RESPONSE_HEADERS.attempts]: String(this.attempts.length) });
    return this.outcome(served, error.status, undefined, undefined, false, error);
  }

  private priceOf(served: Served, observed: ObservedResponse): string | undefined {
    return this.deps.price(served.target.provider.type, observed.responseModel ?? served.model, observed.usage);
  }

  /** The answer's cost, plus what the answers a cascade rejected before it cost. */
  private costOf(served: Served, observed: ObservedResponse): string | undefined {
    return this.withEscalated(this.priceOf(served, observed));
  }

  private withEscalated(cost: string | undefined): string | undefined {
    return cost === undefined || this.escalatedPicoUsd === 0n ? cost : formatPicoUsd(parsePicoUsd(cost) + this.escalatedPicoUsd);
  }

  /** A complete answer the cascade rejected: the provider billed it, so the call's cost and budget count it. */
  private paidAndRejected(served: Served, outcome: AttemptOutcome): void {
    if (outcome.kind !== 'answer' && outcome.kind !== 'empty-stream') return;
    const usage = outcome.observed.usage;
    if (!usage) return;
    this.escalatedTokens += usage.inputTokens + usage.outputTokens;
    const cost = this.priceOf(served, outcome.observed);
    if (cost !== undefined) this.escalatedPicoUsd += parsePicoUsd(cost);
  }

  private event(name: string, attributes: Record<string, string | number>): void {
    this.events.push({ name, epochMs: epochNow(), attributes });
  }

  /** What this call did, for the record stage (pipeline/record.ts). */
  private outcome(served: Served, httpStatus: number, observed: ObservedResponse | undefined, cost: string | undefined, clientAborted: boolean, error?: SidecarError, output?: ChatMessage[]): CallOutcome {
    const lastAttempt = this.attempts[this.attempts.length - 1];
    const upstreamStatus = lastAttempt?.statusCode;
    return {
      httpStatus,
      cacheStatus: this.cacheStatus,
      evalSampled: this.ctx.evalSampled,
      served: served.target ? { providerName: served.target.providerName, providerType: served.target.provider.type, model: served.model, index: served.index } : undefined,
      attempts: this.attempts,
      events: this.events,
      observed,
      costUsd: cost,
      error,
      errorType: error?.errorType ?? (clientAborted ? 'client_aborted' : upstreamStatus !== undefined && upstreamStatus >= 400 ? String(upstreamStatus) : undefined),
      clientAborted,
      output,
      escalatedTokens: this.escalatedTokens === 0 ? undefined : this.escalatedTokens,
      timeToFirstChunkMs: this.tFirstChunk === 0 ? undefined : this.tFirstChunk - this.ctx.t0,
      overheadMs: this.overheadMs,
    };
  }
}
