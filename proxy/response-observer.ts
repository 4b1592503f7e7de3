// Reads what telemetry needs (usage, response model and id, finish reasons) from a provider's
// answer: a complete JSON body, or SSE events one at a time. Only events that can carry these
// fields are parsed, so the common content delta costs a substring check, not a JSON.parse.
import {
  fromAnthropicUsage,
  fromOpenAIChatUsage,
  fromOpenAIEmbeddingsUsage,
  fromOpenAIResponsesUsage,
  mergeAnthropicStreamUsage,
  type NormalizedUsage,
} from '../shared/usage.ts';
import type { LlmEndpoint } from './endpoints.ts';
import type { SseEvent } from './sse.ts';

export interface ObservedResponse {
  usage?: NormalizedUsage;
  responseModel?: string;
  responseId?: string;
  finishReasons?: string[];
  /**
   * True once the provider's own end-of-answer marker was seen (stream completeness): OpenAI chat's
   * finish chunk and `[DONE]`, Anthropic's `message_stop`, the Responses API's terminal event.
   */
  completed: boolean;
  /** The provider ended the stream with its own error event (forwarded to the app as it came). */
  providerError?: boolean;
  /** The parsed JSON answer (non-streaming only), for content capture. */
  json?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function tryParse(text: string): Json | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Fields of a non-streaming answer. */
export function observeJson(endpoint: LlmEndpoint, body: Buffer): ObservedResponse {
  const out: ObservedResponse = { completed: true };
  const json = tryParse(body.toString('utf8'));
  if (!json) return out;
  out.json = json;
  out.responseModel = str(json.model);
  out.responseId = str(json.id);
  if (endpoint.dialect === 'anthropic') {
    if (endpoint.operation === 'count_tokens') return out;
    out.usage = fromAnthropicUsage(json.usage);
    const stop = str(json.stop_reason);
    if (stop) out.finishReasons = [stop];
    return out;
  }
  switch (endpoint.operation) {
    case 'chat': {
      out.usage = fromOpenAIChatUsage(json.usage);
      if (Array.isArray(json.choices)) {
        out.finishReasons = json.choices.map((c) => str(asObject(c)?.finish_reason)).filter((r): r is string => r !== undefined);
      }
      break;
    }
    case 'responses':
      out.usage = fromOpenAIResponsesUsage(json.usage);
      if (str(json.status)) out.finishReasons = [str(json.status) as string];
      break;
    case 'embeddings':
      out.usage = fromOpenAIEmbeddingsUsage(json.usage);
      break;
    default:
      break;
  }
  return out;
}

/** Bytes kept from each end of an answer too large to hold: ids and models open it, usage closes it. */
export const LARGE_ANSWER_EDGE_BYTES = 64 * 1024;

/** The JSON object that starts at `from` in `text` (string-aware brace matching), or undefined. */
function objectAt(text: string, from: number): Json | undefined {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return tryParse(text.slice(from, i + 1));
  }
  return undefined;
}

function stringField(text: string, key: string, last: boolean): string | undefined {
  const re = new RegExp(`"${key}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`, 'g');
  let found: string | undefined;
  for (const m of text.matchAll(re)) {
    found = m[1];
    if (!last) break;
  }
  if (found === undefined) return undefined;
  try {
    return JSON.parse(`"${found}"`) as string;
  } catch {
    return undefined;
  }
}

/**
 * Fields of a non-streaming answer too large to hold (it was streamed through to the app), read
 * from its first and last bytes: `id` and `model` open every answer of both APIs (embeddings put
 * `model` last), `usage` and the finish reason close them. Best effort by design: what cannot be
 * found is reported as unknown, never guessed.
 */
export function observeLargeJson(endpoint: LlmEndpoint, head: string, tail: string): ObservedResponse {
  const out: ObservedResponse = { completed: true };
  out.responseId = stringField(head, 'id', false);
  out.responseModel = stringField(head, 'model', false) ?? stringField(tail, 'model', true);
  const at = tail.lastIndexOf('"usage"');
  const brace = at < 0 ? -1 : tail.indexOf('{', at);
  const usage = brace < 0 ? undefined : objectAt(tail, brace);
  if (endpoint.dialect === 'anthropic') {
    out.usage = fromAnthropicUsage(usage);
    const stop = stringField(tail, 'stop_reason', true);
    if (stop) out.finishReasons = [stop];
    return out;
  }
  if (endpoint.operation === 'embeddings') out.usage = fromOpenAIEmbeddingsUsage(usage);
  else if (endpoint.operation === 'responses') out.usage = fromOpenAIResponsesUsage(usage);
  else if (endpoint.operation === 'chat') {
    out.usage = fromOpenAIChatUsage(usage);
    const finish = stringField(tail, 'finish_reason', true);
    if (finish) out.finishReasons = [finish];
  }
  return out;
}

export interface StreamObserver {
  readonly result: ObservedResponse;
  onEvent(ev: SseEvent): void;
}

class OpenAIChatStreamObserver implements StreamObserver {
  readonly result: ObservedResponse = { completed: false };
  private readonly finish = new Map<number, string>();

  /** `finishEnds`: the server never sends [DONE]; a finish chunk completes the answer. */
  constructor(private readonly finishEnds: boolean) {}

  onEvent(ev: SseEvent): void {
    const data = ev.data;
    if (data === '[DONE]') {
      // `[DONE]` alone does not make an answer: a gateway may append it to a cut stream.
      this.result.completed = this.finish.size > 0 && !this.result.providerError;
      if (this.finish.size > 0) this.result.finishReasons = [...this.finish.values()];
      return;
    }
    const first = this.result.responseId === undefined;
    // Compact JSON (OpenAI's own) costs a substring check per chunk; spaced JSON (some compatible
    // servers) is parsed whenever the key is there with a value that is not null.
    const hasUsage = data.includes('"usage"') && !data.includes('"usage":null');
    const hasFinish = data.includes('"finish_reason"') && !data.includes('"finish_reason":null');
    // Every chunk has `choices`; a mid-stream failure is `{"error":{…}}` (quotes in strings are escaped).
    const hasError = data.includes('"error"') && !data.includes('"choices"');
    if (!first && !hasUsage && !hasFinish && !hasError) return;
    const json = tryParse(data);
    if (!json) return;
    if (asObject(json.error)) {
      this.result.providerError = true;
      return;
    }
    if (first) {
      this.result.responseId = str(json.id);
      this.result.responseModel = str(json.model);
    }
    if (hasUsage) this.result.usage = fromOpenAIChatUsage(json.usage) ?? this.result.usage;
    if (hasFinish && Array.isArray(json.choices)) {
      for (const c of json.choices) {
        const o = asObject(c);
        const reason = str(o?.finish_reason);
        if (reason) this.finish.set(typeof o?.index === 'number' ? o.index : 0, reason);
      }
      if (this.finishEnds && this.finish.size > 0) {
        this.result.completed = !this.result.providerError;
        this.result.finishReasons = [...this.finish.values()];
      }
    }
  }
}

class OpenAIResponsesStreamObserver implements StreamObserver {
  readonly result: ObservedResponse = { completed: false };

  onEvent(ev: SseEvent): void {
    const type = ev.event;
    if (type === 'error') this.result.providerError = true;
    if (type !== 'response.created' && type !== 'response.completed' && type !== 'response.incomplete' && type !== 'response.failed') return;
    const response = asObject(tryParse(ev.data)?.response);
    if (!response) return;
    this.result.responseId = str(response.id);
    this.result.responseModel = str(response.model);
    if (type === 'response.failed') this.result.providerError = true;
    if (type !== 'response.created') {
      this.result.completed = true;
      this.result.usage = fromOpenAIResponsesUsage(response.usage);
      const status = str(response.status);
      if (status) this.result.finishReasons = [status];
    }
  }
}

class AnthropicStreamObserver implements StreamObserver {
  readonly result: ObservedResponse = { completed: false };

  onEvent(ev: SseEvent): void {
    switch (ev.event) {
      case 'message_start': {
        const message = asObject(tryParse(ev.data)?.message);
        if (!message) return;
        this.result.responseId = str(message.id);
        this.result.responseModel = str(message.model);
        this.result.usage = fromAnthropicUsage(message.usage);
        return;
      }
      case 'message_delta': {
        const json = tryParse(ev.data);
        if (!json) return;
        this.result.usage = mergeAnthropicStreamUsage(this.result.usage, json.usage);
        const stop = str(asObject(json.delta)?.stop_reason);
        if (stop) this.result.finishReasons = [stop];
        return;
      }
      case 'message_stop':
        this.result.completed = !this.result.providerError;
        return;
      case 'error':
        this.result.providerError = true;
        return;
      default:
        return;
    }
  }
}

/** Streams the sidecar does not understand (embeddings never stream) are observed by nobody. */
class NullStreamObserver implements StreamObserver {
  readonly result: ObservedResponse = { completed: true };
  onEvent(): void {}
}

export function streamObserver(endpoint: LlmEndpoint, streamEnd: 'done' | 'finish' = 'done'): StreamObserver {
  if (endpoint.dialect === 'anthropic') return endpoint.operation === 'chat' ? new AnthropicStreamObserver() : new NullStreamObserver();
  if (endpoint.operation === 'chat') return new OpenAIChatStreamObserver(streamEnd === 'finish');
  if (endpoint.operation === 'responses') return new OpenAIResponsesStreamObserver();
  return new NullStreamObserver();
}

/**
 * When the sidecar added `stream_options.include_usage` itself, the app must not see the result:
 * the extra usage-only chunk is dropped and the `"usage":null` OpenAI adds to every other chunk is
 * removed. Inside JSON strings quotes are escaped, so the literal `"usage":null` is always a key.
 * Returns the event text to forward, or undefined to drop it.
 */
export function hideInjectedUsage(ev: SseEvent): string | undefined {
  const raw = ev.raw;
  if (raw.includes('"usage":{')) {
    const json = tryParse(ev.data);
    if (json && Array.isArray(json.choices) && json.choices.length === 0) return undefined;
    if (json && 'usage' in json) {
      delete json.usage;
      return `data: ${JSON.stringify(json)}`;
    }
    return raw;
  }
  if (raw.includes('"usage":null')) {
    return raw.includes(',"usage":null') ? raw.replace(',"usage":null', '') : raw.replace('"usage":null,', '');
  }
  return raw;
}
