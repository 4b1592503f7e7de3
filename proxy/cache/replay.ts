// Serving a cache entry in the shape the request asks for.
//
//   stream entry → stream request: the stored events, in order, one SSE text per event (the proxy
//     writes them one by one, so the client sees a stream, never one blob). OpenAI chat streams get
//     stream_options.include_usage re-applied for THIS request (applyIncludeUsage).
//   stream entry → JSON request: the events assembled into the JSON answer (OpenAI chat, Anthropic
//     messages, Responses API via its response.completed event).
//   JSON entry → JSON request: the stored body as is.
//   JSON entry → stream request: the event sequence synthesised from the answer (OpenAI chat,
//     Anthropic messages). Not possible for the Responses API or embeddings: canReplay says so, and
//     the caller treats it as a miss.
//
// Ids are kept: a replay carries the original response id, tool-call ids and `created`. The answer
// IS the original one (the x-llm-sidecar-cache header says it came from the cache); keeping ids
// makes a stream and a JSON replay of one entry agree, and a tool_use id the app sends back later
// matches the one it was given. Entries are replayed in their own dialect only (they are stored in
// the app's dialect and the key includes it).
import type { ApiDialect } from '../../shared/errors.ts';
import { assembleMessage, messageEvents } from './anthropic-replay.ts';
import type { CacheEntry, CachedSseEvent } from './entry.ts';
import { applyIncludeUsage, assembleChatCompletion, chatCompletionEvents } from './openai-chat-replay.ts';
import { asObject, parseObject, sseText, type Json } from './sse-text.ts';

export class ReplayError extends Error {}

export interface ReplayOptions {
  /** OpenAI chat: the request's `stream_options.include_usage`. */
  includeUsage?: boolean;
}

/** Whether `entry` can answer a request of this dialect and shape. */
export function canReplay(entry: CacheEntry, want: { dialect: ApiDialect; stream: boolean }): boolean {
  if (entry.dialect !== want.dialect) return false;
  if (want.stream) return entry.kind === 'stream' || (entry.operation === 'chat' && parseObject(entry.body ?? '') !== undefined);
  return entry.kind === 'json' || entry.operation === 'chat' || entry.operation === 'responses';
}

function streamEvents(entry: CacheEntry, opts: ReplayOptions): CachedSseEvent[] {
  if (entry.kind === 'stream') {
    const events = entry.events ?? [];
    return entry.dialect === 'openai' && entry.operation === 'chat' ? applyIncludeUsage(events, opts.includeUsage === true, entry.usage) : events;
  }
  const json = parseObject(entry.body ?? '');
  if (!json || entry.operation !== 'chat') throw new ReplayError(`cannot stream a ${entry.dialect} ${entry.operation} JSON entry`);
  return entry.dialect === 'anthropic' ? messageEvents(json, entry.usage) : chatCompletionEvents(json, { includeUsage: opts.includeUsage === true, usage: entry.usage });
}

/** The entry as SSE texts, event by event, for a streaming request in `wantDialect`. */
export function toSse(entry: CacheEntry, wantDialect: ApiDialect, opts: ReplayOptions = {}): string[] {
  if (entry.dialect !== wantDialect) throw new ReplayError(`a ${entry.dialect} entry cannot answer a ${wantDialect} request`);
  return streamEvents(entry, opts).map(sseText);
}

/** The entry as the JSON response body of a non-streaming request. */
export function toJson(entry: CacheEntry): string {
  if (entry.kind === 'json') return entry.body ?? '';
  const events = entry.events ?? [];
  if (entry.operation === 'chat') {
    return JSON.stringify(entry.dialect === 'anthropic' ? assembleMessage(events, entry.usage) : assembleChatCompletion(events, entry.usage));
  }
  if (entry.operation === 'responses') {
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      const data: Json | undefined = e?.event === 'response.completed' ? parseObject(e.data) : undefined;
      const response = asObject(data?.response);
      if (response) return JSON.stringify(response);
    }
  }
  throw new ReplayError(`cannot serve a ${entry.dialect} ${entry.operation} stream entry as JSON`);
}
