// A tiny HTTP server for the replay tests, standing where the proxy stands:
//   - `record`: forwards the request to the fake provider, streams the provider's bytes to the
//     client unchanged (so the SDK sees the ORIGINAL answer) and turns them into a cache entry,
//     reading events and usage with the proxy's own SSE splitter and response observers;
//   - `replay`: answers from a cache entry through toSse (one write per event) / toJson.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { classify, type LlmEndpoint } from '../../proxy/endpoints.ts';
import { observeJson, streamObserver } from '../../proxy/response-observer.ts';
import { parseEvent, SseSplitter } from '../../proxy/sse.ts';
import { jsonEntry, streamEntry, type CacheEntry } from '../../proxy/cache/entry.ts';
import { toJson, toSse } from '../../proxy/cache/replay.ts';
import { StreamRecorder } from '../../proxy/cache/stream-recorder.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';

export interface ReplayServer {
  url: string;
  /** What the next requests get: forwarded to the provider and recorded, or replayed from an entry. */
  mode: { kind: 'record'; upstream: string; injectUsage?: boolean } | { kind: 'replay'; entry: CacheEntry };
  /** The entry built from the last recorded answer. */
  recorded: CacheEntry | undefined;
  /** SSE texts written for the last replayed stream (one per write). */
  writes: string[];
  /** The last request body received. */
  lastBody: Record<string, unknown> | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startReplayServer(upstream: string): Promise<ReplayServer> {
  const state: ReplayServer = {
    url: '',
    mode: { kind: 'record', upstream },
    recorded: undefined,
    writes: [],
    lastBody: undefined,
    close: async () => undefined,
  };

  async function record(req: IncomingMessage, res: ServerResponse, endpoint: LlmEndpoint, body: Record<string, unknown>, inject: boolean): Promise<void> {
    const sent = { ...body };
    // Like the proxy: always ask OpenAI for usage on streams.
    if (inject && endpoint.dialect === 'openai' && sent.stream === true) sent.stream_options = { include_usage: true };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const h of ['anthropic-version', 'anthropic-beta', 'x-api-key', 'authorization']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const up = await request(`${upstream}${req.url ?? ''}`, { method: 'POST', headers, body: JSON.stringify(sent) });
    const contentType = String(up.headers['content-type'] ?? 'application/json');
    res.writeHead(up.statusCode, { 'content-type': contentType });
    if (contentType.startsWith('text/event-stream')) {
      const splitter = new SseSplitter();
      const observer = streamObserver(endpoint);
      const recorder = new StreamRecorder(endpoint.dialect, endpoint.operation);
      for await (const chunk of up.body) {
        res.write(chunk);
        for (const raw of splitter.push(chunk as Buffer)) {
          const ev = parseEvent(raw);
          observer.onEvent(ev);
          recorder.push(ev.event, ev.data);
        }
      }
      res.end();
      const events = recorder.finish();
      state.recorded = events
        ? streamEntry({ dialect: endpoint.dialect, operation: endpoint.operation, model: observer.result.responseModel ?? String(body.model), usage: observer.result.usage ?? ZERO_USAGE, ttlMs: 60_000, events })
        : undefined;
    } else {
      const bytes = Buffer.from(await up.body.arrayBuffer());
      res.end(bytes);
      const seen = observeJson(endpoint, bytes);
      state.recorded = jsonEntry({ dialect: endpoint.dialect, operation: endpoint.operation, model: seen.responseModel ?? String(body.model), usage: seen.usage ?? ZERO_USAGE, ttlMs: 60_000, body: bytes.toString('utf8') });
    }
  }

  async function replay(res: ServerResponse, endpoint: LlmEndpoint, body: Record<string, unknown>, entry: CacheEntry): Promise<void> {
    if (body.stream === true) {
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const events = toSse(entry, endpoint.dialect, { includeUsage });
      state.writes = events;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      for (const e of events) {
        if (!res.write(e)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    } else {
      const text = toJson(entry);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      state.lastBody = body;
      const endpoint = classify(req.method ?? 'GET', (req.url ?? '/').split('?')[0] as string);
      if (endpoint.kind !== 'llm') {
        res.writeHead(404).end();
        return;
      }
      const mode = state.mode;
      if (mode.kind === 'record') await record(req, res, endpoint, body, mode.injectUsage === true);
      else await replay(res, endpoint, body, mode.entry);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
