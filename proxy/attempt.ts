// One physical request to a provider, as an undici dispatch handler. It decides nothing about
// retries; it reports what happened, and writes to the app only once the call commits to it:
//   JSON answers are held whole and handed back (the call validates them, then sends);
//   streams hold their preamble (role-only chunk, message_start, ping) until the first content,
//   so that a failure before content can still be retried or fall back invisibly; from the first
//   content on, chunks go to the app as they arrive, with backpressure.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorEvent, SidecarError, type ApiDialect } from '../shared/errors.ts';
import type { LlmEndpoint } from './endpoints.ts';
import { hideInjectedUsage, streamObserver, type ObservedResponse, type StreamObserver } from './response-observer.ts';
import { parseEvent, SseSplitter, type SseEvent } from './sse.ts';
import { StreamAssembler } from './telemetry/content.ts';
import type { StreamRecorder } from './cache/stream-recorder.ts';
import { mapUpstreamError } from './upstream.ts';

/** Turns the provider's SSE events into the app's API, event by event (cross-provider fallback). */
export interface StreamTranslator {
  push(event: string | undefined, data: Record<string, unknown>): string;
  end(): string;
  readonly hasContent: boolean;
}

export interface AttemptOptions {
  /** The endpoint as the provider sees it (its dialect decides how usage is read). */
  upstreamEndpoint: LlmEndpoint;
  clientDialect: ApiDialect;
  providerName: string;
  hideUsage: boolean;
  translator: StreamTranslator | undefined;
  /** Hold the stream's preamble until content (only worth it when a retry or fallback could follow). */
  holdPreamble: boolean;
  maxBufferedBytes: number;
  firstTokenMs: number | undefined;
  totalMs: number | undefined;
  capture: boolean;
  /** Collects the provider's events for a cache write (same-API streams only). */
  recorder: StreamRecorder | undefined;
  res: ServerResponse;
  /** Called once, synchronously, when the stream commits: it must write the response headers. */
  commit(status: number, headers: IncomingHttpHeaders): void;
}

export type AttemptOutcome =
  /** A complete non-streaming answer (any status), not sent yet. */
  | { kind: 'answer'; status: number; headers: IncomingHttpHeaders; body: Buffer }
  /** A stream that ended before any content: nothing sent yet; the held bytes can still be flushed. */
  | { kind: 'empty-stream'; status: number; headers: IncomingHttpHeaders; held: (Buffer | string)[]; observed: ObservedResponse }
  /** The answer went to the app (possibly ending in an error event). */
  | { kind: 'committed'; status: number; observed: ObservedResponse; error?: SidecarError; output?: StreamAssembler }
  /** Nothing reached the app; `status`/`body` are set when the provider answered with an error status. */
  | { kind: 'failed'; error: SidecarError; cause: 'connect' | 'timeout' | 'client' | 'other' };

const CONTENT_MARKERS = ['"content":"', '"tool_calls":[', '"refusal":"', '"type":"content_block_delta"', '"type":"content_block_start"', 'output_text.delta', 'function_call_arguments.delta'];

/** Whether an event carries answer content (not just the preamble). */
function isContent(ev: SseEvent): boolean {
  if (ev.data === '[DONE]') return false;
  if (ev.event === 'content_block_start' || ev.event === 'content_block_delta' || ev.event === 'response.output_text.delta') return true;
  if (ev.event === 'error') return false;
  // OpenAI chat: a chunk with a non-empty content, a tool call or a refusal.
  for (const m of CONTENT_MARKERS) if (ev.data.includes(m) && !ev.data.includes('"content":""')) return true;
  return false;
}

export class Attempt implements Dispatcher.DispatchHandler {
  readonly result: Promise<AttemptOutcome>;
  private resolve!: (o: AttemptOutcome) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private sse = false;
  private committed = false;
  private settled = false;
  private chunks: Buffer[] = [];
  private size = 0;
  private held: (Buffer | string)[] = [];
  private splitter: SseSplitter | undefined;
  private observer: StreamObserver | undefined;
  private assembler: StreamAssembler | undefined;
  private firstTokenTimer: NodeJS.Timeout | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  private abortReason: 'timeout' | 'client' | undefined;
  private waitingDrain = false;
  tStart = 0;
  tHeaders = 0;
  tFirstChunk = 0;
  tCommit = 0;
  tEnd = 0;

  get recorder(): StreamRecorder | undefined {
    return this.o.recorder;
  }

  constructor(private readonly o: AttemptOptions) {
    this.result = new Promise((r) => (this.resolve = r));
  }

  start(): void {
    this.tStart = performance.now();
    if (this.o.firstTokenMs !== undefined) this.firstTokenTimer = setTimeout(() => this.timeout('first token'), this.o.firstTokenMs);
    if (this.o.totalMs !== undefined) this.totalTimer = setTimeout(() => this.timeout('total'), this.o.totalMs);
  }

  /** The app went away: stop the provider's work. */
  abortByClient(): void {
    this.abortReason = 'client';
    this.controller?.abort(new Error('client disconnected'));
  }

  private timeout(which: string): void {
    this.abortReason = 'timeout';
    this.timeoutWhich = which;
    this.controller?.abort(new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `provider "${this.o.providerName}" exceeded the ${which} timeout`));
  }

  private timeoutWhich = '';

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(new Error('aborted before start'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.tHeaders = performance.now();
    this.status = statusCode;
    this.headers = headers;
    const ct = headers['content-type'];
    this.sse = statusCode < 300 && typeof ct === 'string' && ct.startsWith('text/event-stream');
    if (!this.sse) {
      // A JSON answer's first token is its headers.
      clearTimeout(this.firstTokenTimer);
      return;
    }
    this.splitter = new SseSplitter();
    this.observer = streamObserver(this.o.upstreamEndpoint);
    if (this.o.capture) this.assembler = new StreamAssembler();
    if (!this.o.holdPreamble) this.commitStream();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.tFirstChunk === 0) this.tFirstChunk = performance.now();
    if (!this.sse) {
      this.size += chunk.length;
      if (this.size > this.o.maxBufferedBytes) {
        controller.abort(new SidecarError('LLM_SIDECAR_UPSTREAM_CONNECTION_RESET', `answer from provider "${this.o.providerName}" exceeds ${this.o.maxBufferedBytes} bytes`));
        return;
      }
      this.chunks.push(chunk);
      return;
    }
    const events = (this.splitter as SseSplitter).push(chunk);
    const passRaw = !this.o.hideUsage && !this.o.translator;
    let out = '';
    let sawContent = false;
    for (const raw of events) {
      const ev = parseEvent(raw);
      this.observe(ev);
      if (!sawContent && isContent(ev)) sawContent = true;
      if (passRaw) continue;
      if (this.o.translator) {
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(ev.data) as Record<string, unknown>;
        } catch {
          continue;
        }
        out += this.o.translator.push(ev.event, data);
      } else {
        const kept = hideInjectedUsage(ev);
        if (kept !== undefined) out += `${kept}\n\n`;
      }
    }
    const payload: Buffer | string = passRaw ? chunk : out;
    if (!this.committed) {
      if (payload.length > 0) this.held.push(payload);
      const content = this.o.translator ? this.o.translator.hasContent : sawContent;
      if (!content) return;
      this.commitStream();
      return;
    }
    if (payload.length > 0) this.write(controller, payload);
  }

  onResponseEnd(): void {
    this.tEnd = performance.now();
    this.clearTimers();
    if (!this.sse) {
      const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      this.settle({ kind: 'answer', status: this.status, headers: this.headers, body });
      return;
    }
    const rest = (this.splitter as SseSplitter).end();
    let tail = '';
    if (rest.length > 0) {
      const ev = parseEvent(rest);
      this.observe(ev);
      if (this.o.hideUsage && !this.o.translator) tail = hideInjectedUsage(ev) ?? '';
    }
    if (this.o.translator) tail += this.o.translator.end();
    const observed = (this.observer as StreamObserver).result;
    if (!this.committed) {
      if (tail) this.held.push(tail);
      this.settle({ kind: 'empty-stream', status: this.status, headers: this.headers, held: this.held, observed });
      return;
    }
    if (tail) this.o.res.write(tail);
    this.settle({ kind: 'committed', status: this.status, observed, output: this.assembler });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.tEnd = performance.now();
    this.clearTimers();
    this.o.recorder?.abandon();
    if (this.abortReason === 'client') {
      this.settle(
        this.committed
          ? { kind: 'committed', status: this.status, observed: this.observedOrEmpty(), error: new SidecarError('LLM_SIDECAR_INTERNAL', 'client disconnected'), output: this.assembler }
          : { kind: 'failed', error: new SidecarError('LLM_SIDECAR_INTERNAL', 'client disconnected'), cause: 'client' },
      );
      return;
    }
    const mapped =
      this.abortReason === 'timeout'
        ? new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `provider "${this.o.providerName}" exceeded the ${this.timeoutWhich} timeout`)
        : mapUpstreamError(err, this.o.providerName);
    if (this.committed) {
      // Never end a cut stream as a clean 200: the app's SDK must see an error event.
      const cut = new SidecarError('LLM_SIDECAR_UPSTREAM_STREAM_CUT', `the stream from provider "${this.o.providerName}" was cut before it completed: ${mapped.message}`);
      if (!this.o.res.destroyed) this.o.res.write(errorEvent(this.o.clientDialect, cut));
      this.settle({ kind: 'committed', status: this.status, observed: this.observedOrEmpty(), error: cut, output: this.assembler });
      return;
    }
    const cause = this.abortReason === 'timeout' || mapped.code === 'LLM_SIDECAR_UPSTREAM_TIMEOUT' ? 'timeout' : mapped.code === 'LLM_SIDECAR_UPSTREAM_UNREACHABLE' || this.status === 0 ? 'connect' : 'other';
    this.settle({ kind: 'failed', error: mapped, cause });
  }

  private observe(ev: SseEvent): void {
    (this.observer as StreamObserver).onEvent(ev);
    this.o.recorder?.push(ev.event, ev.data);
    const a = this.assembler;
    if (!a || ev.data === '[DONE]') return;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (this.o.upstreamEndpoint.dialect === 'anthropic') a.anthropicEvent(json);
    else a.openAiChunk(json);
  }

  private observedOrEmpty(): ObservedResponse {
    return this.observer?.result ?? { completed: false };
  }

  private commitStream(): void {
    this.committed = true;
    this.tCommit = performance.now();
    clearTimeout(this.firstTokenTimer);
    this.o.commit(this.status, this.headers);
    for (const h of this.held) this.o.res.write(h);
    this.held = [];
  }

  private write(controller: Dispatcher.DispatchController, data: Buffer | string): void {
    if (!this.o.res.write(data) && !this.waitingDrain) {
      this.waitingDrain = true;
      controller.pause();
      this.o.res.once('drain', () => {
        this.waitingDrain = false;
        controller.resume();
      });
    }
  }

  private clearTimers(): void {
    clearTimeout(this.firstTokenTimer);
    clearTimeout(this.totalTimer);
  }

  private settle(o: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.resolve(o);
  }
}
