// The proxy's inbound side. Per request: classify the path → read and check the body → resolve the
// route → dispatch upstream through a keep-alive pool → hand the answer to an LlmExchange. Paths
// the sidecar does not parse are streamed through untouched in both directions.
import { logger, requestLogger } from '../shared/log.ts';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Config, RetryConfig } from '../shared/config/schema.ts';
import { ERROR_HEADER, errorBody, SidecarError, toSidecarError, type ApiDialect, type ErrorCode } from '../shared/errors.ts';
import type { NormalizedUsage } from '../shared/usage.ts';
import type { CallRecord, CallRecorder, PassthroughRecord, RequestParams } from './call-record.ts';
import { classify, guessDialect, type LlmEndpoint } from './endpoints.ts';
import { downstreamResponseHeaders, readControls, upstreamRequestHeaders, type SidecarControls } from './headers.ts';
import { epochNow, LlmCall, RESPONSE_HEADERS, type CallDeps, type Translation } from './llm-call.ts';
import { requestFeatures, type RequestFeatures } from './token-estimate.ts';
import type { BreakerState } from './resilience/circuit-breaker.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { ClientAbortedError, parseJsonObject, readBody, requireModel } from './request-body.ts';
import { sendError } from './respond.ts';
import { credentialFor, Router, type RoutePlan } from './routing.ts';
import { captureCachedOutput, captureInput, sampledByTraceId, type CapturedContent } from './telemetry/content.ts';
import { randomHex } from '../shared/telemetry/ids.ts';
import { admit, BudgetRejection, settleReservation, type BudgetGate } from './budget-gate.ts';
import type { CacheEntry } from './cache/entry.ts';
import { planCache, semanticMatchOf, serveEntry, type CacheStore, type SemanticMatch } from './cache-gate.ts';
import type { SemanticCache } from './cache/semantic-cache.ts';
import type { Reservation } from './budget/index.ts';
import { mapUpstreamError, upstreamUrl, UpstreamPools } from './upstream.ts';
import { ALLOW_HEADER, ALLOWED_METHODS, checkRequestTarget, type RequestTarget } from './request-target.ts';
import { SecretMasker } from './secret-mask.ts';

export type Pricer = (providerType: ApiDialect, model: string, usage: NormalizedUsage) => string | undefined;

export interface ProxyOptions {
  config: Config;
  /** Budgets and rate limits, when configured. */
  budgets?: BudgetGate;
  /** The response cache's store, when caching is configured. */
  cacheStore?: CacheStore;
  /** The semantic index, when a route enables it. */
  semanticCache?: SemanticCache;
  price: Pricer;
  prices?: PriceTable;
  recorder?: CallRecorder;
  translation?: (from: ApiDialect, to: ApiDialect) => Translation | undefined;
  onBreakerChange?: (target: string, from: BreakerState, to: BreakerState) => void;
  /** `POST /llm-sidecar/v1/feedback`: the sidecar's own endpoint (paths under /llm-sidecar/ are never forwarded). */
  feedback?: OwnEndpoint;
}

/** An endpoint of the sidecar's own on the traffic port; it answers the request itself. */
export interface OwnEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void | Promise<void>;
}

/** Paths under this prefix are the sidecar's own and never reach a provider. */
export const OWN_PATH_PREFIX = '/llm-sidecar/';

/** A refusal written on a socket that has no ServerResponse (CONNECT), in the OpenAI error shape. */
function refuseRawSocket(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify(errorBody('openai', new SidecarError(code, message)));
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${ERROR_HEADER}: ${code}\r\nallow: ${ALLOW_HEADER}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** The question and the cached answer served for it, for the judge of a semantic hit. */
function semanticHitContent(endpoint: LlmEndpoint, body: Record<string, unknown>, entry: CacheEntry): CapturedContent | undefined {
  const output = captureCachedOutput(endpoint, entry);
  return output ? { ...captureInput(endpoint, body), output } : undefined;
}

/** Every provider key of the config: what a provider's answer must never carry back to the app. */
function providerKeyMasker(config: Config): SecretMasker {
  return new SecretMasker(Object.values(config.providers).map((p) => p.apiKey));
}

const NO_RETRY: RetryConfig = { maxRetries: 0, on: [], baseMs: 0, maxMs: 0, maxRetryAfterMs: 0, budgetRatio: 0 };

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

interface CallBase {
  requestId: string;
  startEpochMs: number;
  t0: number;
  traceparent: string | undefined;
  tracestate: string | undefined;
  traceId: string;
  path: string;
  requestParams: RequestParams;
  endpoint: LlmEndpoint;
  plan: RoutePlan;
  requestModel: string;
  stream: boolean;
  tenant: string | undefined;
  user: string | undefined;
  feature: string | undefined;
}

/** The record of a call answered without a provider attempt: a budget refusal or a cache hit. */
function callWithoutProvider(b: CallBase, outcome: Pick<CallRecord, 'endEpochMs' | 'decision' | 'httpStatus' | 'completed' | 'cacheStatus'> & Partial<CallRecord>): CallRecord {
  const first = b.plan.candidates[0];
  const elapsed = outcome.endEpochMs - (performance.timeOrigin + b.t0);
  return {
    requestId: b.requestId,
    startEpochMs: b.startEpochMs,
    operationStartEpochMs: performance.timeOrigin + b.t0,
    traceparent: b.traceparent,
    tracestate: b.tracestate,
    traceId: b.traceId,
    evalSampled: false,
    method: 'POST',
    path: b.path,
    serverAddress: '',
    serverPort: 0,
    requestParams: b.requestParams,
    attemptDetails: [],
    dialect: b.endpoint.dialect,
    operation: b.endpoint.operationName,
    route: b.plan.routeName,
    strategy: b.plan.strategy,
    events: [],
    fallbackIndex: 0,
    providerName: first?.target.providerName ?? '',
    providerType: first?.target.provider.type ?? b.endpoint.dialect,
    requestModel: b.requestModel,
    upstreamModel: first?.model ?? b.requestModel,
    stream: b.stream,
    tenant: b.tenant,
    user: b.user,
    feature: b.feature,
    durationMs: elapsed,
    overheadMs: elapsed,
    attempts: 0,
    clientAborted: false,
    ...outcome,
  };
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a valid W3C traceparent (all-zero ids are invalid). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  return m && m[1] !== '0'.repeat(32) ? m[1] : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function requestParams(body: Record<string, unknown>): RequestParams {
  return {
    maxTokens: num(body.max_tokens) ?? num(body.max_completion_tokens) ?? num(body.max_output_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    seed: num(body.seed),
  };
}

export class ProxyServer {
  readonly server: Server;
  private router: Router;
  private pools: UpstreamPools;
  private readonly hooks: { finish(record: CallRecord): void; finishPassthrough(record: PassthroughRecord): void };
  private callDeps: CallDeps;
  private draining = false;
  private listening = false;

  private config: Config;
  private masker: SecretMasker;

  constructor(private readonly options: ProxyOptions) {
    this.config = options.config;
    this.masker = providerKeyMasker(options.config);
    this.router = new Router(options.config, { prices: options.prices, onBreakerChange: options.onBreakerChange });
    this.pools = new UpstreamPools(options.config.providers);
    const recorder = options.recorder;
    this.hooks = {
      // Recorded in the same turn as the answer's last write: a crash (SIGKILL, OOM kill) right
      // after an answer went out still finds its spans in the journal (shared/clickhouse/span-journal.ts).
      // The response is already written, so this adds nothing to the call's latency.
      finish: recorder ? (record: CallRecord) => recorder.record(record) : () => {},
      finishPassthrough: recorder?.recordPassthrough ? (record: PassthroughRecord) => recorder.recordPassthrough?.(record) : () => {},
    };
    this.callDeps = {
      pools: this.pools,
      price: (type, model, usage) => (usage ? options.price(type, model, usage) : undefined),
      finish: this.hooks.finish,
      translation: options.translation ?? (() => undefined),
      maxBufferedBytes: options.config.listen.maxBufferedResponseBytes,
      masker: this.masker,
    };
    const { headersTimeoutMs, bodyTimeoutMs } = options.config.listen;
    this.server = createServer(
      {
        keepAliveTimeout: 65_000,
        // Node answers a raw 408 when headers take longer; the body has our own timer (limitBodyTime),
        // and requestTimeout is the backstop for both. Checked every second, not Node's default 30 s.
        headersTimeout: headersTimeoutMs,
        requestTimeout: headersTimeoutMs + bodyTimeoutMs + 1_000,
        connectionsCheckingInterval: 1_000,
      },
      (req, res) => this.handle(req, res),
    );
    // CONNECT (authority-form targets) never reaches 'request': answer it here instead of a bare close.
    this.server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseRawSocket(socket, 405, 'LLM_SIDECAR_METHOD_NOT_ALLOWED', 'method CONNECT is not forwarded by llm-sidecar'));
  }

  /**
   * Swap in a new configuration without dropping requests: requests in flight keep the router and
   * connection pools they started with; the old pools close once those requests finish. Listener
   * addresses and telemetry cannot change without a restart; such a config is refused.
   */
  reload(next: Config): void {
    const cur = this.config;
    const restartOnly = (['listen', 'admin', 'telemetry', 'budgets'] as const).filter((k) => JSON.stringify(cur[k]) !== JSON.stringify(next[k]));
    if (restartOnly.length > 0) throw new Error(`${restartOnly.join(', ')} cannot change without a restart`);
    const oldPools = this.pools;
    this.router = new Router(next, { prices: this.options.prices, onBreakerChange: this.options.onBreakerChange });
    this.pools = new UpstreamPools(next.providers);
    this.masker = providerKeyMasker(next);
    this.callDeps = { ...this.callDeps, pools: this.pools, masker: this.masker };
    this.config = next;
    oldPools.close().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'closing the previous connection pools failed'));
  }

  get ready(): boolean {
    return this.listening && !this.draining;
  }

  upstreamStats(): ReturnType<UpstreamPools['stats']> {
    return this.pools.stats();
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
    return this.server.address() as AddressInfo;
  }

  /** Stop accepting, let in-flight requests finish (up to graceMs), then close upstream pools. */
  async close(graceMs = 10_000): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive connections become idle as their last response ends: close them as they do.
    this.server.closeIdleConnections();
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    await closed;
    clearInterval(sweep);
    clearTimeout(timer);
    this.listening = false;
    await this.pools.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const startEpochMs = epochNow();
    const method = req.method ?? 'GET';
    const requestId = firstHeader(req.headers['x-request-id']) ?? randomHex(16);
    // The edge: the target and the method decide where a request (and a key) goes, so they are
    // checked before anything else reads them (proxy/request-target.ts, docs/security.md).
    let target: RequestTarget;
    try {
      target = checkRequestTarget(req.url ?? '');
      if (!ALLOWED_METHODS.has(method)) throw new SidecarError('LLM_SIDECAR_METHOD_NOT_ALLOWED', `method ${method} is not forwarded by llm-sidecar (allowed: ${ALLOW_HEADER})`);
    } catch (err) {
      this.refuseAtEdge(req, res, err as SidecarError, requestId);
      return;
    }
    const pathname = target.path;
    const url = target.search === '' ? pathname : pathname + target.search;
    const endpoint = classify(method, pathname);
    const dialect = endpoint.kind === 'llm' ? endpoint.dialect : guessDialect(pathname, req.headers);
    if (this.draining) {
      req.resume();
      sendError(res, dialect, new SidecarError('LLM_SIDECAR_SHUTTING_DOWN', 'llm-sidecar is shutting down; retry'), requestId, { connection: 'close' });
      return;
    }
    this.limitBodyTime(req, res, dialect, requestId);
    if (pathname.startsWith(OWN_PATH_PREFIX)) {
      this.handleOwn(req, res, pathname, dialect, requestId);
      return;
    }
    const controls = readControls(req.headers);
    if (endpoint.kind === 'llm') {
      this.handleLlm(req, res, endpoint, pathname, url, controls, requestId, startEpochMs).catch((err: unknown) => this.fail(req, res, dialect, err, requestId));
    } else {
      try {
        this.handlePassthrough(req, res, url, pathname, dialect, controls, requestId, startEpochMs);
      } catch (err) {
        this.fail(req, res, dialect, err, requestId);
      }
    }
  }

  /** A request refused before routing: a 4xx of ours, and the connection closed (nothing after it on the socket is trusted). */
  private refuseAtEdge(req: IncomingMessage, res: ServerResponse, err: SidecarError, requestId: string): void {
    const dialect = guessDialect('', req.headers);
    const extra: Record<string, string> = { connection: 'close' };
    if (err.code === 'LLM_SIDECAR_METHOD_NOT_ALLOWED') extra.allow = ALLOW_HEADER;
    req.resume();
    sendError(res, dialect, err, requestId, extra);
  }

  /**
   * A body that does not arrive within listen.bodyTimeoutMs (a client trickling it to hold a
   * connection and a provider slot) is cut with a 408 of ours and the connection closed.
   */
  private limitBodyTime(req: IncomingMessage, res: ServerResponse, dialect: ApiDialect, requestId: string): void {
    if (req.complete || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) return;
    const timer = setTimeout(() => {
      if (req.complete) return;
      const err = new SidecarError('LLM_SIDECAR_REQUEST_TIMEOUT', `the request body did not arrive within ${this.config.listen.bodyTimeoutMs} ms`);
      if (res.headersSent) res.destroy();
      else {
        sendError(res, dialect, err, requestId, { connection: 'close' });
        res.once('finish', () => req.destroy());
      }
    }, this.config.listen.bodyTimeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    res.once('close', clear);
  }

  /** The sidecar's own endpoints: answered here, never forwarded; unknown ones are a 404 of ours. */
  private handleOwn(req: IncomingMessage, res: ServerResponse, pathname: string, dialect: ApiDialect, requestId: string): void {
    const own = pathname === '/llm-sidecar/v1/feedback' ? this.options.feedback : undefined;
    if (!own) {
      req.resume();
      sendError(res, dialect, new SidecarError('LLM_SIDECAR_NOT_FOUND', `${pathname} is not an endpoint of llm-sidecar`), requestId);
      return;
    }
    Promise.resolve()
      .then(() => own.handle(req, res, requestId))
      .catch((err: unknown) => this.fail(req, res, dialect, err, requestId));
  }

  private fail(req: IncomingMessage, res: ServerResponse, dialect: ApiDialect, err: unknown, requestId: string): void {
    if (err instanceof ClientAbortedError) {
      // Nobody is left to answer: a client abort, not a fault of the sidecar.
      requestLogger({ requestId, traceId: traceIdOf(firstHeader(req.headers.traceparent)) }).debug({ method: req.method, url: req.url, reason: err.message }, 'client aborted');
      return;
    }
    const e = toSidecarError(err);
    if (e.code === 'LLM_SIDECAR_INTERNAL') {
      requestLogger({ requestId, traceId: traceIdOf(firstHeader(req.headers.traceparent)) }).error({ method: req.method, url: req.url, stack: (err as Error)?.stack ?? String(err) }, 'internal error');
    }
    // A body we refused is still on its way: close the connection rather than read it. Retry-After
    // only where waiting helps (429/503): a 400 (input too large) stays a 400 however long one waits.
    const extra: Record<string, string> | undefined =
      e.code === 'LLM_SIDECAR_BODY_TOO_LARGE' ? { connection: 'close' } : err instanceof BudgetRejection && (e.status === 429 || e.status === 503) ? { 'retry-after': String(err.retryAfterS) } : undefined;
    if (!req.complete) req.resume();
    sendError(res, dialect, e, requestId, extra);
  }

  private async handleLlm(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: LlmEndpoint,
    pathname: string,
    url: string,
    controls: SidecarControls,
    requestId: string,
    startEpochMs: number,
  ): Promise<void> {
    const limits = this.config.listen;
    const raw = await readBody(req, limits.maxBodyBytes);
    const t0 = performance.now();
    let body = parseJsonObject(raw);
    let sendRaw = raw;
    const requestModel = requireModel(body);
    const budgets = this.options.budgets;
    // Identity: headers, then the body's user field and the API-key map when budgets are configured.
    const who = budgets ? budgets.identity.resolve(req.headers, body) : undefined;
    const tenant = who?.tenant ?? controls.tenant;
    const user = who?.user ?? controls.user;
    let features: RequestFeatures | undefined;
    const lazyFeatures = (): RequestFeatures => (features ??= requestFeatures(endpoint.dialect, body));
    const route = this.router.select(requestModel, controls.route, lazyFeatures, tenant, controls.feature);
    const plan = this.router.plan(endpoint.dialect, requestModel, route, lazyFeatures);
    const traceparent = firstHeader(req.headers.traceparent);
    const traceId = traceIdOf(traceparent) ?? randomHex(16);
    // What every call record of this request shares (refusals and cache hits are recorded too).
    const base = (): CallBase => ({
      requestId,
      startEpochMs,
      t0,
      traceparent,
      tracestate: firstHeader(req.headers.tracestate),
      traceId,
      path: pathname,
      requestParams: requestParams(body),
      endpoint,
      plan,
      requestModel,
      stream: body.stream === true,
      tenant,
      user,
      feature: controls.feature,
    });
    let reservation: Reservation | undefined;
    if (budgets) {
      try {
        const gate = await admit(budgets, { endpoint, pathname, body, plan, tenant: tenant as string, user: user as string, price: this.options.price });
        body = gate.body;
        if (gate.changed) sendRaw = Buffer.from(JSON.stringify(body));
        reservation = gate.reservation;
      } catch (err) {
        // A refusal is a call too: it is recorded (span, llm_calls row) so dashboards show rejections.
        if (err instanceof SidecarError) {
          this.hooks.finish(
            callWithoutProvider(base(), { endEpochMs: epochNow(), decision: 'refused before routing: budget', httpStatus: err.status, errorCode: err.code, errorType: err.errorType, completed: false, cacheStatus: 'bypass' }),
          );
        }
        throw err;
      }
    }
    const evaluation = this.config.evaluation;
    // Judge traffic is never sampled for evaluation itself.
    const evalSampled = controls.feature !== 'judge' && sampledByTraceId(traceId, evaluation.routes[plan.routeName] ?? evaluation.sampleRate);
    const rc = route?.config;
    const cache = planCache(this.options.cacheStore, this.options.semanticCache, this.config.cache, rc, { endpoint, body, headers: req.headers, plan, tenant, control: controls.cache });
    // Single flight: set when this request leads its cache key; the requests waiting on it go once it answered.
    let leading: (() => void) | undefined;
    if (cache?.read) {
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
        const leader = this.inFlight.get(cache.key);
        if (leader) {
          await leader;
          entry = await cache.store.get(cache.key);
          decision = 'served from the cache after waiting for an identical request in flight';
        } else {
          let done!: () => void;
          this.inFlight.set(cache.key, new Promise<void>((r) => (done = r)));
          const key = cache.key;
          leading = () => {
            this.inFlight.delete(key);
            done();
          };
        }
      }
      const hitHeaders = {
        [RESPONSE_HEADERS.cache]: status,
        [RESPONSE_HEADERS.provider]: entry?.provider ?? '',
        [RESPONSE_HEADERS.model]: entry?.model ?? '',
        [RESPONSE_HEADERS.attempts]: '0',
        [RESPONSE_HEADERS.cost]: '0',
        [RESPONSE_HEADERS.overhead]: (performance.now() - t0).toFixed(3),
        [RESPONSE_HEADERS.requestId]: requestId,
        [RESPONSE_HEADERS.sidecarRequestId]: requestId,
      };
      if (entry && serveEntry(res, entry, { dialect: endpoint.dialect, stream: body.stream === true, includeUsage: cache.includeUsage }, hitHeaders)) {
        void reservation?.release();
        this.hooks.finish(
          callWithoutProvider(base(), {
            endEpochMs: epochNow(),
            decision,
            providerName: entry.provider ?? '',
            providerType: (entry.provider && this.config.providers[entry.provider]?.type) || endpoint.dialect,
            upstreamModel: entry.model,
            responseModel: entry.model,
            httpStatus: 200,
            costUsd: '0',
            cacheStatus: status,
            savedUsd: entry.costUsd,
            completed: true,
            // Semantic hits are sampled for evaluation like provider answers (the cache_equivalence
            // judge reads the question and the answer served for it); exact hits repeat a stored answer.
            ...(semanticMatch ? { semanticMatch, evalSampled, content: evalSampled && evaluation.captureContent ? semanticHitContent(endpoint, body, entry) : undefined } : {}),
          }),
        );
        return;
      }
    }
    try {
      const call = new LlmCall(
        {
          requestId,
          method: 'POST',
          path: pathname,
          url,
          startEpochMs,
          t0,
          traceparent,
          tracestate: firstHeader(req.headers.tracestate),
          traceId,
          evalSampled,
          capture: evalSampled && evaluation.captureContent ? captureInput(endpoint, body) : undefined,
          endpoint,
          inboundHeaders: req.headers,
          raw: sendRaw,
          body,
          requestModel,
          stream: body.stream === true,
          plan,
          // Without a configured route the sidecar is transparent: the app's SDK does its own retries.
          retry: rc?.retry ?? NO_RETRY,
          cascade: rc ? { validators: rc.cascade.validators, refusal: this.refusalPatterns(rc.cascade.refusalPatterns), streams: rc.cascade.streams } : undefined,
          tenant,
          user,
          feature: controls.feature,
          requestParams: requestParams(body),
          cache,
        },
        res,
        reservation ? { ...this.callDeps, finish: settleReservation(reservation, this.callDeps.finish) } : this.callDeps,
      );
      await call.run();
      if (leading) await call.cacheWritten();
    } finally {
      // Answered, failed or not cacheable: the waiting requests look again (and call the provider themselves on a miss).
      leading?.();
    }
  }

  private readonly refusalCache = new Map<string, RegExp>();
  /** Cache keys with a request on its way to the provider (single flight); resolved when its answer is stored or lost. */
  private readonly inFlight = new Map<string, Promise<void>>();

  private refusalPatterns(patterns: string[]): RegExp[] {
    return patterns.map((p) => {
      let re = this.refusalCache.get(p);
      if (!re) this.refusalCache.set(p, (re = new RegExp(p, 'i')));
      return re;
    });
  }

  private handlePassthrough(
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    pathname: string,
    dialect: ApiDialect,
    controls: SidecarControls,
    requestId: string,
    startEpochMs: number,
  ): void {
    const target = this.router.resolvePassthrough(dialect, controls.route);
    const credential = credentialFor(target.provider, dialect);
    if (credential === undefined) {
      throw new SidecarError('LLM_SIDECAR_NO_CREDENTIAL', `provider "${target.providerName}" has no apiKey configured, and the app's ${dialect} credentials go only to a provider of that API`);
    }
    const upstream = this.pools.get(target.providerName);
    const path = upstreamUrl(upstream, url);
    const masker = this.masker.active ? this.masker.stream() : undefined;
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    let controller: Dispatcher.DispatchController | undefined;
    let waiting = false;
    let upstreamStatus: number | undefined;
    let recorded = false;
    const record = (httpStatus: number, error?: SidecarError, clientAborted = false): void => {
      if (recorded) return;
      recorded = true;
      const r: PassthroughRecord = {
        requestId,
        startEpochMs,
        endEpochMs: epochNow(),
        traceparent: firstHeader(req.headers.traceparent),
        tracestate: firstHeader(req.headers.tracestate),
        method,
        path: pathname,
        route: target.route,
        providerName: target.providerName,
        providerType: target.provider.type,
        serverAddress: upstream.hostname,
        serverPort: upstream.port,
        httpStatus,
        upstreamStatus,
        errorCode: error?.code,
        errorType: error?.errorType ?? (clientAborted ? 'client_aborted' : httpStatus >= 400 ? String(httpStatus) : undefined),
        clientAborted,
      };
      this.hooks.finishPassthrough(r);
    };
    res.on('close', () => {
      if (res.writableFinished) return;
      controller?.abort(new Error('client disconnected'));
      record(499, undefined, true);
    });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => {
        controller = c;
      },
      onResponseStart: (_c, status, headers) => {
        upstreamStatus = status;
        const out = downstreamResponseHeaders(headers);
        // Byte-faithful: keep the provider's framing when it declared one.
        const length = firstHeader(headers['content-length']);
        if (length !== undefined) out['content-length'] = length;
        if (masker) this.masker.maskHeaders(out);
        out[RESPONSE_HEADERS.provider] = target.providerName;
        out[RESPONSE_HEADERS.sidecarRequestId] = requestId;
        if (out[RESPONSE_HEADERS.requestId] === undefined) out[RESPONSE_HEADERS.requestId] = requestId;
        res.writeHead(status, out);
      },
      onResponseData: (c, data) => {
        const chunk = masker ? masker.push(data) : data;
        if (!res.write(chunk) && !waiting) {
          waiting = true;
          c.pause();
          res.once('drain', () => {
            waiting = false;
            c.resume();
          });
        }
      },
      onResponseEnd: () => {
        res.end(masker?.end());
        record(upstreamStatus ?? 200);
      },
      onResponseError: (_c, err) => {
        if (res.destroyed) return;
        const mapped = mapUpstreamError(err, target.providerName);
        if (res.headersSent) res.destroy(mapped);
        else sendError(res, dialect, mapped, requestId);
        record(res.headersSent ? (upstreamStatus ?? 502) : mapped.status, mapped);
      },
    };
    upstream.pool.dispatch(
      {
        origin: upstream.origin,
        path,
        method,
        headers: upstreamRequestHeaders(req.headers, { provider: target.provider, credential, bufferedBody: false, identityEncoding: false }),
        body: hasBody ? req : null,
      },
      handler,
    );
  }
}
