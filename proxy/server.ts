// The proxy's inbound side. Per request: check the target and method at the edge → classify the
// path → an LLM endpoint runs the request pipeline (pipeline/index.ts: the stages in order); the
// sidecar's own endpoints answer themselves; paths the sidecar does not parse are streamed through
// untouched in both directions.
import { logger, requestLogger } from '../shared/log.ts';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Config } from '../shared/config/schema.ts';
import { errorBody, SidecarError, toSidecarError, type ApiDialect, type ErrorCode } from '../shared/errors.ts';
import { REQUEST_HEADERS, RESPONSE_HEADERS } from '../shared/sidecar-headers.ts';
import { randomHex } from '../shared/telemetry/ids.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { IdentityResolver } from './budget/identity.ts';
import type { CacheStore } from './cache/store.ts';
import type { SemanticCache } from './cache/semantic-cache.ts';
import type { CallRecorder, PassthroughRecord } from './call-record.ts';
import { classify, guessDialect, type LlmEndpoint } from './endpoints.ts';
import { downstreamResponseHeaders, readControls, upstreamRequestHeaders, type SidecarControls } from './headers.ts';
import { epochNow } from './llm-call.ts';
import type { BudgetGate } from './pipeline/budget.ts';
import { LlmRequest, type PipelineEnv, type Pricer } from './pipeline/context.ts';
import { runLlmPipeline } from './pipeline/index.ts';
import { ClientAbortedError } from './request-body.ts';
import { sendError } from './respond.ts';
import { credentialFor, Router } from './routing.ts';
import type { BreakerState } from './resilience/circuit-breaker.ts';
import type { CrossTranslation } from './translate/index.ts';
import { mapUpstreamError, upstreamUrl, UpstreamPools } from './upstream.ts';
import { ALLOW_HEADER, ALLOWED_METHODS, checkRequestTarget, type RequestTarget } from './request-target.ts';
import { SecretMasker } from './secret-mask.ts';

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
  translation?: (from: ApiDialect, to: ApiDialect) => CrossTranslation | undefined;
  onBreakerChange?: (target: string, from: BreakerState, to: BreakerState) => void;
  /** `POST /llm-sidecar/v1/feedback`: the sidecar's own endpoint (paths under /llm-sidecar/ are never forwarded). */
  feedback?: OwnEndpoint;
}

/** An endpoint of the sidecar's own on the traffic port; it answers the request itself. */
export interface OwnEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void | Promise<void>;
}

/** Whether the config caches anything (the default mode or a route's): then the process needs a cache store. */
export function cachingConfigured(config: Config): boolean {
  return config.cache.mode !== 'off' || Object.values(config.routes).some((r) => r.cache?.mode !== undefined && r.cache.mode !== 'off');
}

/** Paths under this prefix are the sidecar's own and never reach a provider. */
export const OWN_PATH_PREFIX = '/llm-sidecar/';

/** A refusal written on a socket that has no ServerResponse (CONNECT), in the OpenAI error shape. */
function refuseRawSocket(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify(errorBody('openai', new SidecarError(code, message)));
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${RESPONSE_HEADERS.error}: ${code}\r\nallow: ${ALLOW_HEADER}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Identity is always resolved: with the budgets section's API-key table and defaults, or the defaults alone. */
function identityResolver(config: Config): IdentityResolver {
  return new IdentityResolver(config.budgets?.identity ?? { apiKeys: {}, defaultTenant: 'default', defaultUser: 'anonymous' });
}

/** Every provider key of the config: what a provider's answer must never carry back to the app. */
function providerKeyMasker(config: Config): SecretMasker {
  return new SecretMasker(Object.values(config.providers).map((p) => p.apiKey));
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a valid W3C traceparent (all-zero ids are invalid). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  return m && m[1] !== '0'.repeat(32) ? m[1] : undefined;
}

/** The connection pools of one configuration and the LLM requests still running on them. */
interface PoolGeneration {
  pools: UpstreamPools;
  requests: number;
  /** Replaced by a reload: closed when its last request ends. */
  retired: boolean;
}

export class ProxyServer {
  readonly server: Server;
  private router: Router;
  private pools: UpstreamPools;
  private poolGeneration: PoolGeneration;
  private readonly finishPassthrough: (record: PassthroughRecord) => void;
  /** What the pipeline's stages work with; replaced whole on reload (requests in flight keep theirs). */
  private env: PipelineEnv;
  private draining = false;
  private listening = false;

  private config: Config;
  private masker: SecretMasker;

  constructor(private readonly options: ProxyOptions) {
    this.config = options.config;
    this.masker = providerKeyMasker(options.config);
    this.router = new Router(options.config, { prices: options.prices, onBreakerChange: options.onBreakerChange });
    this.pools = new UpstreamPools(options.config.providers);
    this.poolGeneration = { pools: this.pools, requests: 0, retired: false };
    const recorder = options.recorder;
    this.finishPassthrough = recorder?.recordPassthrough ? (record) => recorder.recordPassthrough?.(record) : () => {};
    // Shared by every configuration: requests waiting on one in flight must find it across a reload.
    const inFlight = new Map<string, Promise<void>>();
    this.env = {
      config: options.config,
      router: this.router,
      identity: identityResolver(options.config),
      budgets: options.budgets,
      cacheStore: options.cacheStore,
      semanticCache: options.semanticCache,
      price: options.price,
      call: {
        pools: this.pools,
        price: (type, model, usage) => (usage ? options.price(type, model, usage) : undefined),
        translation: options.translation ?? (() => undefined),
        maxBufferedBytes: options.config.listen.maxBufferedResponseBytes,
        masker: this.masker,
      },
      inFlight,
      refusalPatterns: (patterns) => this.refusalPatterns(patterns),
      emit: recorder ? (record) => recorder.record(record) : () => {},
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
   * connection pools they started with; the old pools close once the last of those requests ends. Listener
   * addresses and telemetry cannot change without a restart; such a config is refused.
   */
  reload(next: Config): void {
    const cur = this.config;
    const restartOnly: string[] = (['listen', 'admin', 'telemetry', 'budgets'] as const).filter((k) => JSON.stringify(cur[k]) !== JSON.stringify(next[k]));
    // The cache's store and embedder are built at start, only when something caches: a reload that
    // needs one the process does not have (or another one) would be accepted and do nothing.
    for (const k of ['store', 'embedder', 'staleMaxSeconds'] as const) if (JSON.stringify(cur.cache[k]) !== JSON.stringify(next.cache[k])) restartOnly.push(`cache.${k}`);
    if (this.options.cacheStore === undefined && cachingConfigured(next)) restartOnly.push('cache (turned on: no cache store was built at start)');
    if (this.options.semanticCache === undefined && this.options.cacheStore !== undefined && Object.values(next.routes).some((r) => r.cache?.semantic?.enabled)) {
      restartOnly.push('routes.*.cache.semantic (turned on: no semantic index was built at start)');
    }
    if (restartOnly.length > 0) throw new Error(`${restartOnly.join(', ')} cannot change without a restart`);
    const old = this.poolGeneration;
    this.router = new Router(next, { prices: this.options.prices, onBreakerChange: this.options.onBreakerChange });
    this.pools = new UpstreamPools(next.providers);
    this.poolGeneration = { pools: this.pools, requests: 0, retired: false };
    this.masker = providerKeyMasker(next);
    this.config = next;
    this.env = { ...this.env, config: next, router: this.router, identity: identityResolver(next), call: { ...this.env.call, pools: this.pools, masker: this.masker } };
    // Not before the requests running on them end: a retry, fallback or cascade step after the reload
    // dispatches on the pools its request started with (on closed pools it failed with a 502).
    old.retired = true;
    if (old.requests === 0) this.closeRetired(old);
  }

  private closeRetired(gen: PoolGeneration): void {
    gen.pools.close().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'closing the previous connection pools failed'));
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
    const requestId = firstHeader(req.headers[REQUEST_HEADERS.requestId]) ?? randomHex(16);
    // The edge: the target and the method decide where a request (and a key) goes, so they are
    // checked before anything else reads them (proxy/request-target.ts, docs/security.md).
    let target: RequestTarget;
    try {
      target = checkRequestTarget(req.url ?? '');
      if (!ALLOWED_METHODS.has(method)) throw new SidecarError('LLM_SIDECAR_METHOD_NOT_ALLOWED', `method ${method} is not forwarded by llm-sidecar (allowed: ${ALLOW_HEADER})`, { headers: { allow: ALLOW_HEADER } });
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
    req.resume();
    sendError(res, dialect, err, requestId, { connection: 'close' });
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
    if (!req.complete) req.resume();
    sendError(res, dialect, e, requestId);
  }

  /** An LLM endpoint: its request runs the pipeline's stages in order (pipeline/index.ts). */
  private handleLlm(req: IncomingMessage, res: ServerResponse, endpoint: LlmEndpoint, path: string, url: string, controls: SidecarControls, requestId: string, startEpochMs: number): Promise<void> {
    const traceparent = firstHeader(req.headers.traceparent);
    const ctx = new LlmRequest({
      req,
      res,
      endpoint,
      path,
      url,
      controls,
      requestId,
      startEpochMs,
      traceparent,
      tracestate: firstHeader(req.headers.tracestate),
      traceId: traceIdOf(traceparent) ?? randomHex(16),
    });
    const gen = this.poolGeneration;
    gen.requests++;
    return runLlmPipeline(ctx, this.env).finally(() => {
      if (--gen.requests === 0 && gen.retired) this.closeRetired(gen);
    });
  }

  private readonly refusalCache = new Map<string, RegExp>();

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
      this.finishPassthrough(r);
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
