// One physical request to a provider, as an undici dispatch handler. It decides nothing about
// retries; it reports what happened, and writes to the app only once the call commits to it:
//   JSON answers are held whole and handed back (the call validates them, then sends), up to
//   `maxBufferedBytes`; a larger one is streamed through as it arrives (cost and overhead then go
//   in trailers) unless it must be translated, which needs it whole;
//   streams hold their preamble (role-only chunk, message_start, ping) until the first content,
//   so that a failure before content can still be retried or fall back invisibly; from the first
//   content on, chunks go to the app as they arrive, with backpressure.
// Nothing that looks like an answer but is not one reaches the app as a clean answer: a stream
// without the provider's end marker ends with an error event, a 2xx that is not JSON (or not SSE
// we can read) fails the attempt. The outcomes per fault are tabled in docs/errors.md.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { brotliDecompress, gunzip, inflate, type InputType } from 'node:zlib';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { errorEvent, SidecarError, type ApiDialect } from '../shared/errors.ts';
import type { LlmEndpoint } from './endpoints.ts';
import { hideInjectedUsage, LARGE_ANSWER_EDGE_BYTES, observeJson, observeLargeJson, streamObserver, type ObservedResponse, type StreamObserver } from './response-observer.ts';
import { readEvent, SseSplitter, type SseEvent } from './sse.ts';
import { StreamAssembler } from './telemetry/content.ts';
import type { StreamRecorder } from './cache/stream-recorder.ts';
import type { StreamTranslation } from './translate/index.ts';
import { mapUpstreamError } from './upstream.ts';


export interface AttemptOptions {
  /** The endpoint as the provider sees it (its dialect decides how usage is read). */
  upstreamEndpoint: LlmEndpoint;
  clientDialect: ApiDialect;
  providerName: string;
  hideUsage: boolean;
  translator: StreamTranslation | undefined;
  /** Hold the stream's preamble until content (only worth it when a retry or fallback could follow). */
  holdPreamble: boolean;
  maxBufferedBytes: number;
  /** A JSON answer above `maxBufferedBytes` may go to the app as it arrives (false when it must be translated). */
  streamLargeAnswers: boolean;
  /** Until the headers of a JSON answer, or the first content of a stream (every attempt, the last one included). */
  firstTokenMs: number | undefined;
  totalMs: number | undefined;
  /**
   * Longest silence between the headers and a body's first byte, and between two chunks (the
   * target's, else the route's, else the provider's). Timed here with a native timer: undici's own
   * body timeout runs on a coarse ~1 s clock and stays only as a backstop.
   */
  idleMs: number | undefined;
  /** OpenAI chat streams: `done` needs a finish chunk and [DONE]; `finish` (servers without [DONE]) the finish chunk. */
  streamEnd: 'done' | 'finish';
  capture: boolean;
  /** Collects the provider's events for a cache write (same-API streams only). */
  recorder: StreamRecorder | undefined;
  res: ServerResponse;
  /** Called once, synchronously, when the stream commits: it must write the response headers. */
  commit(status: number, headers: IncomingHttpHeaders): void;
}

export type AttemptOutcome =
  /** A complete non-streaming answer (any status), not sent yet, with what was read from it. */
  | { kind: 'answer'; status: number; headers: IncomingHttpHeaders; body: Buffer; observed: ObservedResponse }
  /** A stream that ended before any content: nothing sent yet; the held bytes can still be flushed. */
  | { kind: 'empty-stream'; status: number; headers: IncomingHttpHeaders; held: (Buffer | string)[]; observed: ObservedResponse }
  /** The answer went to the app (possibly ending in an error event). */
  | { kind: 'committed'; status: number; observed: ObservedResponse; error?: SidecarError; output?: StreamAssembler }
  /** Nothing reached the app; `status`/`body` are set when the provider answered with an error status. */
  | { kind: 'failed'; error: SidecarError; cause: 'connect' | 'timeout' | 'client' | 'other' };

const CONTENT_MARKERS = ['"content":"', '"tool_calls":[', '"refusal":"', '"type":"content_block_delta"', '"type":"content_block_start"', 'output_text.delta', 'function_call_arguments.delta'];

const SPACED_CONTENT = /"(?:content|refusal|text|partial_json)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[\s*\{/;

/** Whether an event carries answer content (not just the preamble). */
function isContent(ev: SseEvent): boolean {
  if (ev.data === '[DONE]') return false;
  if (ev.event === 'content_block_start' || ev.event === 'content_block_delta' || ev.event === 'response.output_text.delta') return true;
  if (ev.event === 'error') return false;
  // OpenAI chat: a chunk with a non-empty content, a tool call or a refusal.
  for (const m of CONTENT_MARKERS) if (ev.data.includes(m) && !ev.data.includes('"content":""')) return true;
  // Spaced JSON (some OpenAI-compatible servers): otherwise content is never seen, and the first-token
  // timer would end a stream that is flowing.
  return ev.data.includes('": ') && SPACED_CONTENT.test(ev.data);
}

/** Cheap shape check: every event of the APIs the sidecar reads carries one JSON object. */
function looksJson(data: string): boolean {
  return data.charCodeAt(0) === 123 && data.charCodeAt(data.length - 1) === 125;
}

/** Transport errors that mean the provider's bytes are not HTTP we can read (not a network fault). */
function unreadable(err: Error, providerName: string): SidecarError | undefined {
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${providerName}" sent response headers larger than the limit (${code})`, { cause: err });
  // A body cut by the connection closing is a reset (below), not broken HTTP.
  if (code === 'HPE_INVALID_EOF_STATE' || err.message.includes('Invalid EOF state')) return undefined;
  if (err instanceof undiciErrors.HTTPParserError || (typeof code === 'string' && code.startsWith('HPE_'))) {
    return new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${providerName}" sent a response that is not valid HTTP: ${err.message}`, { cause: err });
  }
  return undefined;
}

const DECODERS: Record<string, (buf: InputType, opts: { maxOutputLength: number }, cb: (err: Error | null, out: Buffer) => void) => void> = {
  gzip: gunzip,
  'x-gzip': gunzip,
  deflate: inflate,
  br: brotliDecompress,
};

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
  private idleTimer: NodeJS.Timeout | undefined;
  private abortReason: 'timeout' | 'client' | undefined;
  private waitingDrain = false;
  /** The stream has shown content (the first-token timer stops there). */
  private contentSeen = false;
  /** A stream event that is not JSON (garbage from the provider or a gateway in between). */
  private invalidEvent = false;
  private expectJsonEvents = false;
  /** A JSON answer too large to hold, going to the app as it arrives: its first and last bytes. */
  private large: { head: string; tail: Buffer[]; tailBytes: number } | undefined;
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

  private onIdle(): void {
    // While the app is slow to read, the provider is paused by us: its silence is not its fault.
    if (this.waitingDrain) {
      this.idleTimer?.refresh();
      return;
    }
    this.timeout(`idle (${this.o.idleMs} ms without a byte)`);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(new Error('aborted before start'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.tHeaders = performance.now();
    if (this.o.idleMs !== undefined && !this.settled) this.idleTimer = setTimeout(() => this.onIdle(), this.o.idleMs);
    this.status = statusCode;
    this.headers = headers;
    const ct = headers['content-type'];
    this.sse = statusCode < 300 && typeof ct === 'string' && ct.trimStart().toLowerCase().startsWith('text/event-stream');
    if (!this.sse) {
      // A JSON answer's first token is its headers.
      clearTimeout(this.firstTokenTimer);
      return;
    }
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      // The sidecar asked for identity; a compressed stream cannot be read for usage or end markers.
      controller.abort(new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${this.o.providerName}" sent a stream with content-encoding "${String(encoding)}" although identity was asked`));
      return;
    }
    this.expectJsonEvents = this.o.upstreamEndpoint.operation === 'chat' || this.o.upstreamEndpoint.operation === 'responses';
    this.splitter = new SseSplitter();
    this.observer = streamObserver(this.o.upstreamEndpoint, this.o.streamEnd);
    if (this.o.capture) this.assembler = new StreamAssembler();
    if (!this.o.holdPreamble) this.commitStream();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.tFirstChunk === 0) this.tFirstChunk = performance.now();
    this.idleTimer?.refresh();
    if (!this.sse) {
      this.size += chunk.length;
      if (this.large) return this.passLarge(controller, chunk);
      this.chunks.push(chunk);
      if (this.size > this.o.maxBufferedBytes) this.startLarge(controller);
      return;
    }
    const events = (this.splitter as SseSplitter).push(chunk);
    const passRaw = !this.o.hideUsage && !this.o.translator;
    let out = '';
    let sawContent = false;
    for (const raw of events) {
      const ev = readEvent(raw);
      if (ev === undefined) {
        // Comments and data-less blocks (keep-alives): forwarded, never observed or translated.
        if (!passRaw && !this.o.translator) out += `${raw}\n\n`;
        continue;
      }
      this.observe(ev);
      if (!sawContent && !this.contentSeen && isContent(ev)) sawContent = true;
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
    const content = this.o.translator ? this.o.translator.hasContent : sawContent;
    if (content && !this.contentSeen) {
      this.contentSeen = true;
      clearTimeout(this.firstTokenTimer);
    }
    if (!this.committed) {
      if (this.invalidEvent) {
        // Garbage before any content: nothing reached the app, so the next attempt or target can answer.
        controller.abort(new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${this.o.providerName}" sent a stream event that is not JSON`));
        return;
      }
      if (payload.length > 0) this.held.push(payload);
      if (!content) return;
      this.commitStream();
      return;
    }
    if (payload.length > 0) this.write(controller, payload);
  }

  /** The JSON answer outgrew the buffer: send it through as it comes, or fail when it must be held. */
  private startLarge(controller: Dispatcher.DispatchController): void {
    if (!this.o.streamLargeAnswers) {
      controller.abort(
        new SidecarError('LLM_SIDECAR_UPSTREAM_RESPONSE_TOO_LARGE', `the answer of provider "${this.o.providerName}" exceeds listen.maxBufferedResponseBytes (${this.o.maxBufferedBytes} bytes) and must be translated whole`),
      );
      return;
    }
    clearTimeout(this.firstTokenTimer);
    const held = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.large = { head: held.subarray(0, LARGE_ANSWER_EDGE_BYTES).toString('utf8'), tail: [], tailBytes: 0 };
    this.committed = true;
    this.tCommit = performance.now();
    this.o.commit(this.status, this.headers);
    this.size -= held.length;
    this.passLarge(controller, held);
  }

  private passLarge(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const l = this.large as NonNullable<typeof this.large>;
    l.tail.push(chunk);
    l.tailBytes += chunk.length;
    while (l.tail.length > 1 && l.tailBytes - (l.tail[0] as Buffer).length >= LARGE_ANSWER_EDGE_BYTES) l.tailBytes -= (l.tail.shift() as Buffer).length;
    this.write(controller, chunk);
  }

  onResponseEnd(): void {
    this.tEnd = performance.now();
    this.clearTimers();
    if (this.large) {
      const tail = Buffer.concat(this.large.tail).toString('utf8');
      this.settle({ kind: 'committed', status: this.status, observed: observeLargeJson(this.o.upstreamEndpoint, this.large.head, tail) });
      return;
    }
    if (!this.sse) {
      const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      const encoding = this.headers['content-encoding'];
      if (encoding === undefined || encoding === 'identity') this.settleAnswer(body);
      else this.decode(String(encoding).toLowerCase(), body);
      return;
    }
    const rest = (this.splitter as SseSplitter).end();
    let tail = '';
    // An unterminated last event is read all the same (a lenient end, as the SDKs' own parsers are).
    const ev = rest.length > 0 ? readEvent(rest) : undefined;
    if (ev) {
      this.observe(ev);
      if (this.o.hideUsage && !this.o.translator) {
        const kept = hideInjectedUsage(ev);
        if (kept !== undefined) tail = `${kept}\n\n`;
      }
    }
    const observed = (this.observer as StreamObserver).result;
    const failure = this.streamFailure(observed);
    if (failure) {
      this.o.recorder?.abandon();
      observed.completed = false; // an end marker after garbage or an error does not make an answer
      if (!this.committed) {
        this.settle({ kind: 'failed', error: failure, cause: 'other' });
        return;
      }
      if (tail) this.o.res.write(tail);
      // The provider's own error event already reached the app; anything else gets ours.
      if (failure.code !== 'LLM_SIDECAR_UPSTREAM_STREAM_ERROR' && !this.o.res.destroyed) this.o.res.write(errorEvent(this.o.clientDialect, failure));
      this.settle({ kind: 'committed', status: this.status, observed, error: failure, output: this.assembler });
      return;
    }
    this.o.recorder?.completeAtEnd();
    if (this.o.translator) tail += this.o.translator.end();
    if (!this.committed) {
      if (tail) this.held.push(tail);
      this.settle({ kind: 'empty-stream', status: this.status, headers: this.headers, held: this.held, observed });
      return;
    }
    if (tail) this.o.res.write(tail);
    this.settle({ kind: 'committed', status: this.status, observed, output: this.assembler });
  }

  /** Why a stream that ended cleanly at the transport level is still not a complete answer. */
  private streamFailure(observed: ObservedResponse): SidecarError | undefined {
    const p = `provider "${this.o.providerName}"`;
    if (observed.providerError) return new SidecarError('LLM_SIDECAR_UPSTREAM_STREAM_ERROR', `${p} ended the stream with an error event`);
    if (this.invalidEvent) return new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `${p} sent a stream event that is not JSON`);
    if (!observed.completed) {
      const marker = this.o.upstreamEndpoint.dialect === 'anthropic' ? 'message_stop' : this.o.upstreamEndpoint.operation === 'responses' ? 'response.completed' : 'a finish chunk and [DONE]';
      return new SidecarError('LLM_SIDECAR_UPSTREAM_STREAM_CUT', `the stream from ${p} was cut before it completed: it ended without ${marker}`);
    }
    return undefined;
  }

  /** A JSON answer, read once here; a 2xx that is not JSON is no answer (retry, fall back, or 502). */
  private settleAnswer(body: Buffer): void {
    const observed = observeJson(this.o.upstreamEndpoint, body);
    if (this.status < 300 && observed.json === undefined) {
      const type = this.headers['content-type'];
      this.settle({ kind: 'failed', error: new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${this.o.providerName}" answered ${this.status} with a body that is not JSON (content-type ${JSON.stringify(type ?? null)})`), cause: 'other' });
      return;
    }
    this.settle({ kind: 'answer', status: this.status, headers: this.headers, body, observed });
  }

  /** A compressed JSON answer although identity was asked: decoded (bounded), then read as usual. */
  private decode(encoding: string, body: Buffer): void {
    const fn = DECODERS[encoding];
    const fail = (why: string): void => this.settle({ kind: 'failed', error: new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `provider "${this.o.providerName}" sent a body with content-encoding "${encoding}": ${why}`), cause: 'other' });
    if (!fn) return fail('not a known encoding');
    fn(body, { maxOutputLength: this.o.maxBufferedBytes }, (err, out) => {
      if (err) return fail(err.message);
      const { 'content-encoding': _dropped, ...rest } = this.headers;
      this.headers = rest;
      this.size = out.length;
      this.settleAnswer(out);
    });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.tEnd = performance.now();
    this.clearTimers();
    if (this.committed && this.sse && this.abortReason === undefined && this.observer?.result.completed && !this.invalidEvent) {
      // The provider's end marker arrived; only the transport's last bytes (the final chunk,
      // trailers) were lost. The app has the whole answer: it is one.
      this.settle({ kind: 'committed', status: this.status, observed: this.observer.result, output: this.assembler });
      return;
    }
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
        : unreadable(err, this.o.providerName) ?? mapUpstreamError(err, this.o.providerName);
    if (this.large) {
      // Half a JSON document cannot carry an error: the connection to the app is cut, as the provider's was.
      this.o.res.destroy();
      this.settle({ kind: 'committed', status: this.status, observed: { completed: false }, error: mapped });
      return;
    }
    if (this.committed) {
      // Never end a cut stream as a clean 200: the app's SDK must see an error event. A timeout
      // keeps its own code (it names the cause); anything else is a cut.
      const cut =
        mapped.code === 'LLM_SIDECAR_UPSTREAM_TIMEOUT'
          ? new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `the stream from provider "${this.o.providerName}" was cut before it completed: ${mapped.message}`)
          : new SidecarError('LLM_SIDECAR_UPSTREAM_STREAM_CUT', `the stream from provider "${this.o.providerName}" was cut before it completed: ${mapped.message}`);
      if (!this.o.res.destroyed) this.o.res.write(errorEvent(this.o.clientDialect, cut));
      this.settle({ kind: 'committed', status: this.status, observed: this.observedOrEmpty(), error: cut, output: this.assembler });
      return;
    }
    const cause = this.abortReason === 'timeout' || mapped.code === 'LLM_SIDECAR_UPSTREAM_TIMEOUT' ? 'timeout' : mapped.code === 'LLM_SIDECAR_UPSTREAM_UNREACHABLE' || this.status === 0 ? 'connect' : 'other';
    this.settle({ kind: 'failed', error: mapped, cause });
  }

  private observe(ev: SseEvent): void {
    if (this.expectJsonEvents && !looksJson(ev.data) && ev.data !== '[DONE]') this.invalidEvent = true;
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
    // The first-token timer keeps running until content, also on a stream committed at its headers.
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
    clearTimeout(this.idleTimer);
  }

  private settle(o: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.resolve(o);
  }
}
