// Writing a cached answer to the app in the shape its request asks for: a stream replayed event by
// event as the provider sent it, or one JSON body. Used for hits (pipeline/cache-read.ts) and for
// the stale fallback when every provider failed (pipeline/cache-write.ts).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ApiDialect } from '../../shared/errors.ts';
import { RESPONSE_HEADERS } from '../../shared/sidecar-headers.ts';
import type { CacheEntry } from './entry.ts';
import { canReplay, toJson, toSse } from './replay.ts';

/** Writes the entry; false (nothing written) when it cannot be served in the requested shape: then it is a miss. */
export function serveEntry(res: ServerResponse, entry: CacheEntry, want: { dialect: ApiDialect; stream: boolean; includeUsage: boolean }, headers: OutgoingHttpHeaders): boolean {
  if (entry.dialect !== want.dialect || !canReplay(entry, { dialect: want.dialect, stream: want.stream })) return false;
  if (want.stream) {
    const events = toSse(entry, want.dialect, { includeUsage: want.includeUsage });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
    // Event by event, as the provider sent them: never one blob.
    for (const e of events) res.write(e);
    res.end();
    return true;
  }
  const body = toJson(entry);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  return true;
}

/** The sidecar's headers on an answer from the cache: `hit`, `semantic-hit` or `stale`, at no cost. */
export function cacheHeaders(status: string, entry: CacheEntry, attempts: number, requestId: string): OutgoingHttpHeaders {
  return {
    [RESPONSE_HEADERS.cache]: status,
    [RESPONSE_HEADERS.provider]: entry.provider ?? '',
    [RESPONSE_HEADERS.model]: entry.model ?? '',
    [RESPONSE_HEADERS.attempts]: String(attempts),
    [RESPONSE_HEADERS.cost]: '0',
    [RESPONSE_HEADERS.requestId]: requestId,
    [RESPONSE_HEADERS.sidecarRequestId]: requestId,
  };
}
