// The fake LLM provider: one HTTP server speaking the OpenAI and Anthropic wire formats, with
// faults chosen per request (see faults.ts). Used by the tests, the benchmark and the demo.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { countTokens, messages } from './anthropic.ts';
import { parseFaults, type Faults } from './faults.ts';
import { chatCompletions, embeddings, modelsList, responses } from './openai.ts';
import type { Plan } from './plan.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  json?: unknown;
  receivedAt: number;
}

export interface FakeProvider {
  url: string;
  port: number;
  requests: RecordedRequest[];
  stats: { received: number; aborted: number; open: number };
  reset(): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
type Dialect = 'openai' | 'anthropic';

const MAX_RECORDED = 100;

const ERROR_TYPES: Record<number, [openai: string, anthropic: string]> = {
  400: ['invalid_request_error', 'invalid_request_error'],
  401: ['authentication_error', 'authentication_error'],
  403: ['permission_error', 'permission_error'],
  404: ['not_found_error', 'not_found_error'],
  429: ['rate_limit_exceeded', 'rate_limit_error'],
  500: ['server_error', 'api_error'],
  503: ['server_error', 'overloaded_error'],
  529: ['server_error', 'overloaded_error'],
};

function errorPlan(dialect: Dialect, status: number, message: string): Plan {
  const [oType, aType] = ERROR_TYPES[status] ?? (status >= 500 ? ['server_error', 'api_error'] : ['invalid_request_error', 'invalid_request_error']);
  const body = dialect === 'anthropic' ? { type: 'error', error: { type: aType, message } } : { error: { message, type: oType, param: null, code: oType } };
  return { kind: 'json', status, body };
}

function route(method: string, path: string, req: IncomingMessage, body: Json | undefined, faults: Faults): Plan {
  const dialect: Dialect = path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
  if (path.startsWith('/v1/echo-path')) {
    return { kind: 'json', status: 200, body: { method, path, query: req.url?.split('?')[1] ?? '', headers: req.headers, bodyLength: Number(req.headers['content-length'] ?? 0) } };
  }
  if (method === 'GET' && path === '/v1/models') return modelsList(req.headers['anthropic-version'] !== undefined);
  if (method !== 'POST') return errorPlan(dialect, 404, `unknown route ${method} ${path}`);
  if (body === undefined) return errorPlan(dialect, 400, 'could not parse the JSON body of your request');
  if (typeof body.model !== 'string' || body.model === '') return errorPlan(dialect, 400, 'you must provide a model parameter');
  if (faults.status !== undefined && faults.status >= 400) {
    const plan = errorPlan(dialect, faults.status, `fake provider error ${faults.status}`);
    if (faults.body !== undefined && plan.kind === 'json') plan.body = faults.body;
    return plan;
  }
  switch (path) {
    case '/v1/chat/completions': return chatCompletions(body, faults);
    case '/v1/responses': return responses(body, faults);
    case '/v1/embeddings': return embeddings(body);
    case '/v1/messages': return messages(body, faults);
    case '/v1/messages/count_tokens': return countTokens(body);
    default: return errorPlan(dialect, 404, `unknown route ${method} ${path}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes a plan, honouring delay, chunk delay, cut, malformed and drip faults; stops if the client left. */
async function execute(res: ServerResponse, plan: Plan, faults: Faults, gone: () => boolean): Promise<void> {
  const headers: Record<string, string> = { ...plan.headers };
  if (faults.retryAfter !== undefined) headers['retry-after'] = faults.retryAfter;
  if (faults.retryAfterMs !== undefined) headers['retry-after-ms'] = faults.retryAfterMs;
  if (faults.delayMs) await sleep(faults.delayMs);
  if (gone()) return;
  const write = async (data: string): Promise<void> => {
    if (!faults.drip) {
      if (!res.write(data)) await new Promise((r) => res.once('drain', r));
      return;
    }
    for (let i = 0; i < data.length && !gone(); i += 5) {
      res.write(data.slice(i, i + 5));
      await sleep(5);
    }
  };
  if (plan.kind === 'json') {
    let text = typeof plan.body === 'string' ? plan.body : JSON.stringify(plan.body);
    if (faults.malformed) text = text.slice(0, Math.floor(text.length / 2)) + '<<not json';
    const status = plan.status;
    if (faults.cutAfter !== undefined) {
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      res.socket?.destroy();
      return;
    }
    if (!faults.drip) {
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    res.writeHead(status, { ...headers, 'content-type': 'application/json' });
    await write(text);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const events = plan.events;
  for (let i = 0; i < events.length; i++) {
    if (gone()) return;
    if (faults.cutAfter !== undefined && i >= faults.cutAfter) {
      res.socket?.destroy();
      return;
    }
    let ev = events[i] as string;
    if (faults.malformed && i === 1) ev = ev.replace(/data: .*/, 'data: {"broken": ');
    await write(ev);
    if (faults.chunkDelayMs && i < events.length - 1) await sleep(faults.chunkDelayMs);
  }
  res.end();
}

export async function startFakeProvider(opts: { port?: number; host?: string } = {}): Promise<FakeProvider> {
  const requests: RecordedRequest[] = [];
  const stats = { received: 0, aborted: 0, open: 0 };
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    stats.received++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const url = req.url ?? '/';
      const path = url.split('?')[0] ?? '/';
      const method = req.method ?? 'GET';
      let json: Json | undefined;
      if (rawBody.length > 0 && !path.startsWith('/v1/echo-path')) {
        try {
          const parsed: unknown = JSON.parse(rawBody.toString('utf8'));
          if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Json;
        } catch {
          json = undefined;
        }
      }
      requests.push({ method, path, headers: req.headers, rawBody, json, receivedAt: Date.now() });
      if (requests.length > MAX_RECORDED) requests.shift();
      let finished = false;
      let left = false;
      res.on('finish', () => (finished = true));
      res.on('close', () => {
        if (!finished) {
          left = true;
          stats.aborted++;
        }
      });
      const faults = parseFaults(req.headers['x-fake-fault'], typeof json?.model === 'string' ? json.model : undefined);
      let plan: Plan;
      try {
        plan = route(method, path, req, json, faults);
      } catch (err) {
        plan = { kind: 'json', status: 500, body: { error: { message: `fake provider bug: ${(err as Error).message}`, type: 'server_error', param: null, code: null } } };
      }
      execute(res, plan, faults, () => left).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    stats.open++;
    s.on('close', () => {
      sockets.delete(s);
      stats.open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    stats,
    reset() {
      requests.length = 0;
      stats.received = 0;
      stats.aborted = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
