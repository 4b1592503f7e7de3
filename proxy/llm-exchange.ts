// One LLM call's upstream response, as an undici dispatch handler: bytes go to the app as they
// arrive (SSE chunk by chunk, with backpressure), usage is read on the side, and the call is
// recorded when it ends — completed, failed, cut or abandoned by the app.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorEvent, SidecarError, type ApiDialect } from '../shared/errors.ts';
import type { CallRecord, RequestParams } from './call-record.ts';
import type { LlmEndpoint } from './endpoints.ts';
import { downstreamResponseHeaders } from './headers.ts';
import { hideInjectedUsage, observeJson, streamObserver, type ObservedResponse, type StreamObserver } from './response-observer.ts';
import { parseEvent, SseSplitter, type SseEvent } from './sse.ts';
import { captureJsonOutput, StreamAssembler, type CapturedContent, type ChatMessage } from './telemetry/content.ts';
import { mapUpstreamError } from './upstream.ts';
import { sendError } from './respond.ts';

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

export interface ExchangeContext {
  requestId: string;
  method: string;
  path: string;
  /** Epoch ms when the request arrived. */
  startEpochMs: number;
  traceparent?: string;
  tracestate?: string;
  traceId: string;
  evalSampled: boolean;
  /** Input captured for a sampled call; the exchange adds the output. */
  capture?: Pick<CapturedContent, 'system' | 'input'>;
  serverAddress: string;
  serverPort: number;
  requestParams: RequestParams;
  /** performance.now() when the request body had been read: the sidecar's own work starts here. */
  t0: number;
  endpoint: LlmEndpoint;
  dialect: ApiDialect;
  route: string;
  providerName: string;
  providerType: ApiDialect;
  requestModel: string;
  upstreamModel: string;
  stream: boolean;
  /** The sidecar added include_usage: hide the usage chunk from the app. */
  hideUsage: boolean;
  tenant?: string;
  user?: string;
  feature?: string;
  maxBufferedBytes: number;
}

export interface ExchangeHooks {
  price(providerType: ApiDialect, model: string, usage: ObservedResponse['usage']): string | undefined;
  finish(record: CallRecord): void;
}

type Mode = 'pending' | 'buffer' | 'stream' | 'raw';

function fmtMs(ms: number): string {
  return ms.toFixed(3);
}

/** Wall-clock epoch milliseconds with sub-millisecond precision, for span timestamps. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export class LlmExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private mode: Mode = 'pending';
  private status = 0;
  private headers: OutgoingHttpHeaders = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private splitter: SseSplitter | undefined;
  private observer: StreamObserver | undefined;
  private tDispatch = 0;
  private tFirstChunk = 0;
  private tUpstreamEnd = 0;
  /** Sidecar time spent before the body started flowing (request handling + header processing). */
  private overheadMs = 0;
  private clientGone = false;
  private assembler: StreamAssembler | undefined;
  private capturedOutput: ChatMessage[] | undefined;
  private finished = false;
  private waitingDrain = false;
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.controller?.resume();
  };

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly res: ServerResponse,
    private readonly hooks: ExchangeHooks,
  ) {
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      // undici answers the abort with onResponseError, which records the call.
      this.controller?.abort(new Error('client disconnected'));
    });
  }

  markDispatched(): void {
    this.tDispatch = performance.now();
    this.overheadMs = this.tDispatch - this.ctx.t0;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('client disconnected'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const tStart = performance.now();
    this.status = statusCode;
    const out = downstreamResponseHeaders(headers);
    out[RESPONSE_HEADERS.cache] = 'bypass';
    out[RESPONSE_HEADERS.provider] = this.ctx.providerName;
    out[RESPONSE_HEADERS.model] = this.ctx.upstreamModel;
    out[RESPONSE_HEADERS.attempts] = '1';
    out[RESPONSE_HEADERS.sidecarRequestId] = this.ctx.requestId;
    // The provider's own request id wins: it is what the SDK surfaces and what support asks for.
    if (out[RESPONSE_HEADERS.requestId] === undefined) out[RESPONSE_HEADERS.requestId] = this.ctx.requestId;
    this.headers = out;
    const type = headers['content-type'];
    const contentType = Array.isArray(type) ? type[0] : type;
    if (contentType !== undefined && contentType.startsWith('text/event-stream')) {
      this.mode = 'stream';
      this.splitter = new SseSplitter();
      this.observer = streamObserver(this.ctx.endpoint);
      if (this.ctx.capture) this.assembler = new StreamAssembler();
      out.trailer = STREAM_TRAILERS;
      this.overheadMs += performance.now() - tStart;
      this.res.writeHead(statusCode, out);
      return;
    }
    const declared = Number(headers['content-length']);
    if (declared > this.ctx.maxBufferedBytes) this.startRaw();
    else this.mode = 'buffer';
    this.overheadMs += performance.now() - tStart;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.tFirstChunk === 0) this.tFirstChunk = performance.now();
    if (this.clientGone) return;
    if (this.mode === 'buffer') {
      this.size += chunk.length;
      this.chunks.push(chunk);
      if (this.size > this.ctx.maxBufferedBytes) this.startRaw();
      return;
    }
    if (this.mode === 'raw') {
      this.write(controller, chunk);
      return;
    }
    // stream
    const events = (this.splitter as SseSplitter).push(chunk);
    const observer = this.observer as StreamObserver;
    if (!this.ctx.hideUsage) {
      for (const raw of events) this.observe(observer, parseEvent(raw));
      this.write(controller, chunk);
      return;
    }
    let out = '';
    for (const raw of events) {
      const ev = parseEvent(raw);
      this.observe(observer, ev);
      const kept = hideInjectedUsage(ev);
      if (kept !== undefined) out += `${kept}\n\n`;
    }
    if (out.length > 0) this.write(controller, out);
  }

  onResponseEnd(): void {
    this.tUpstreamEnd = performance.now();
    if (this.clientGone) {
      this.finish(499, undefined);
      return;
    }
    const tEnd = performance.now();
    if (this.mode === 'buffer') {
      const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      const observed = observeJson(this.ctx.endpoint, body);
      if (this.ctx.capture && observed.json) this.capturedOutput = captureJsonOutput(this.ctx.endpoint, observed.json);
      const cost = this.costOf(observed);
      this.headers[RESPONSE_HEADERS.cost] = cost ?? 'unknown';
      this.headers['content-length'] = String(body.length);
      this.overheadMs += performance.now() - tEnd;
      this.headers[RESPONSE_HEADERS.overhead] = fmtMs(this.overheadMs);
      this.res.writeHead(this.status, this.headers);
      this.res.end(body);
      this.finish(this.status, observed, cost);
      return;
    }
    if (this.mode === 'stream') {
      const rest = (this.splitter as SseSplitter).end();
      const observer = this.observer as StreamObserver;
      if (rest.length > 0) {
        const ev = parseEvent(rest);
        this.observe(observer, ev);
        // Upstream's unterminated last event is forwarded (already written in pass-through mode).
        if (this.ctx.hideUsage) {
          const kept = hideInjectedUsage(ev);
          if (kept !== undefined) this.res.write(kept);
        }
      }
      const cost = this.costOf(observer.result);
      this.overheadMs += performance.now() - tEnd;
      this.res.addTrailers({ [RESPONSE_HEADERS.cost]: cost ?? 'unknown', [RESPONSE_HEADERS.overhead]: fmtMs(this.overheadMs) });
      this.res.end();
      this.finish(this.status, observer.result, cost);
      return;
    }
    this.res.end();
    this.finish(this.status, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.tUpstreamEnd = performance.now();
    if (this.clientGone) {
      this.finish(499, this.observer?.result);
      return;
    }
    const mapped = mapUpstreamError(err, this.ctx.providerName);
    if (this.mode === 'stream' && this.res.headersSent) {
      // Never end a cut stream as a clean 200: the app's SDK must see an error event.
      const cut = new SidecarError('LLM_SIDECAR_UPSTREAM_STREAM_CUT', `the stream from provider "${this.ctx.providerName}" was cut before it completed: ${mapped.message}`);
      this.res.end(errorEvent(this.ctx.dialect, cut));
      this.finish(this.status, this.observer?.result, undefined, cut);
      return;
    }
    if (this.res.headersSent) {
      this.res.destroy(mapped);
      this.finish(this.status, undefined, undefined, mapped);
      return;
    }
    sendError(this.res, this.ctx.dialect, mapped, this.ctx.requestId);
    this.finish(mapped.status, undefined, undefined, mapped);
  }

  private observe(observer: StreamObserver, ev: SseEvent): void {
    observer.onEvent(ev);
    const assembler = this.assembler;
    if (!assembler || ev.data === '[DONE]') return;
    // Only sampled calls pay for parsing every event.
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (this.ctx.dialect === 'anthropic') assembler.anthropicEvent(json);
    else if (this.ctx.endpoint.operation === 'chat') assembler.openAiChunk(json);
    else if (ev.event === 'response.completed' && json.response) this.capturedOutput = captureJsonOutput(this.ctx.endpoint, json.response as Record<string, unknown>);
  }

  /** Past the buffer limit (or declared larger): stream the rest through; cost goes to trailers. */
  private startRaw(): void {
    this.mode = 'raw';
    this.res.writeHead(this.status, { ...this.headers, trailer: STREAM_TRAILERS });
    for (const c of this.chunks) this.res.write(c);
    this.chunks = [];
  }

  private write(controller: Dispatcher.DispatchController, data: Buffer | string): void {
    if (!this.res.write(data) && !this.waitingDrain) {
      this.waitingDrain = true;
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  private costOf(observed: ObservedResponse): string | undefined {
    if (!observed.usage) return this.status >= 400 ? '0' : undefined;
    return this.hooks.price(this.ctx.providerType, observed.responseModel ?? this.ctx.upstreamModel, observed.usage);
  }

  private finish(httpStatus: number, observed: ObservedResponse | undefined, cost?: string, error?: SidecarError): void {
    if (this.finished) return;
    this.finished = true;
    const now = performance.now();
    const ctx = this.ctx;
    const providerFailed = this.status >= 400;
    // performance.now() → epoch: both clocks are monotonic from timeOrigin.
    const epoch = (t: number): number => performance.timeOrigin + t;
    const errorType = error?.errorType ?? (this.clientGone ? 'client_aborted' : providerFailed ? String(this.status) : undefined);
    this.hooks.finish({
      requestId: ctx.requestId,
      startEpochMs: ctx.startEpochMs,
      operationStartEpochMs: epoch(ctx.t0),
      endEpochMs: epoch(now),
      traceparent: ctx.traceparent,
      tracestate: ctx.tracestate,
      traceId: ctx.traceId,
      evalSampled: ctx.evalSampled,
      content: ctx.capture
        ? { system: ctx.capture.system, input: ctx.capture.input, output: this.capturedOutput ?? this.assembler?.output(observed?.finishReasons?.[0]) ?? [] }
        : undefined,
      method: ctx.method,
      serverAddress: ctx.serverAddress,
      serverPort: ctx.serverPort,
      requestParams: ctx.requestParams,
      attemptDetails:
        this.tDispatch === 0
          ? []
          : [
              {
                startEpochMs: epoch(this.tDispatch),
                endEpochMs: epoch(this.tUpstreamEnd || now),
                statusCode: this.status === 0 ? undefined : this.status,
                errorType: this.status === 0 || this.status >= 400 || error ? errorType : undefined,
              },
            ],
      path: ctx.path,
      dialect: ctx.dialect,
      operation: ctx.endpoint.operationName,
      route: ctx.route,
      providerName: ctx.providerName,
      providerType: ctx.providerType,
      requestModel: ctx.requestModel,
      upstreamModel: ctx.upstreamModel,
      responseModel: observed?.responseModel,
      responseId: observed?.responseId,
      finishReasons: observed?.finishReasons,
      stream: ctx.stream,
      tenant: ctx.tenant,
      user: ctx.user,
      feature: ctx.feature,
      httpStatus,
      upstreamStatus: this.status === 0 ? undefined : this.status,
      errorCode: error?.code,
      errorType,
      usage: observed?.usage,
      costUsd: cost,
      durationMs: now - ctx.t0,
      timeToFirstChunkMs: this.tFirstChunk === 0 ? undefined : this.tFirstChunk - ctx.t0,
      overheadMs: this.overheadMs,
      attempts: 1,
      completed: observed?.completed ?? false,
      clientAborted: this.clientGone,
    });
  }
}
