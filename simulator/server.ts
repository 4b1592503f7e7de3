// The fake LLM provider: one plain node:http server speaking the OpenAI and Anthropic wire formats,
// with faults chosen per request (faults.ts). Used by the tests, the benchmark (as the upstream at
// thousands of requests per second, so the fault-free path is synchronous and allocation-light)
// and the demo. See README.md in this folder for the endpoints and the fault syntax.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dialectOf, errorPlan } from './errors.ts';
import { FAULT_HEADER, NO_FAULTS, parseFaults } from './faults.ts';
import { Ids } from './ids.ts';
import { asObject, type Call, type Json, type Plan } from './plan.ts';
import { PromptCache } from './prompt-cache.ts';
import { ECHO_PREFIX, planFor } from './router.ts';
import { Pacer, sendNow, sendPaced } from './send.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** The parsed JSON object body, if there was one. */
  json?: unknown;
  receivedAt: number;
}

export interface FakeProviderStats {
  received: number;
  /** Responses the client walked away from before they ended (the fake's own cuts excluded). */
  aborted: number;
  /** Connections currently open. */
  open: number;
}

export interface FakeProvider {
  /** `http://127.0.0.1:PORT` — OpenAI clients add `/v1`, Anthropic clients use it as is. */
  url: string;
  port: number;
  /** The last 100 requests, oldest first. */
  requests: RecordedRequest[];
  stats: FakeProviderStats;
  /** Forgets recorded requests, counters (except `open`) and the prompt cache. */
  reset(): void;
  close(): Promise<void>;
}

const MAX_RECORDED = 100;

interface ParsedBody {
  json: Json | undefined;
  /** False when there is a body but it is not a JSON object. */
  ok: boolean;
}

function parseBody(rawBody: Buffer, path: string): ParsedBody {
  // Echo-path bodies are opaque bytes, maybe not even text.
  if (rawBody.length === 0 || path.startsWith(ECHO_PREFIX)) return { json: undefined, ok: true };
  try {
    const json = asObject(JSON.parse(rawBody.toString('utf8')));
    return { json, ok: json !== undefined };
  } catch {
    return { json: undefined, ok: false };
  }
}

/** A bug in the fake must show up as a readable 500, never as a crash or a hung request. */
function bugPlan(path: string, err: unknown): Plan {
  return errorPlan(dialectOf(path), 500, `fake provider bug: ${err instanceof Error ? err.message : String(err)}`);
}

function failResponse(res: ServerResponse, path: string, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendNow(res, bugPlan(path, err), NO_FAULTS);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startFakeProvider(opts: { port?: number; host?: string } = {}): Promise<FakeProvider> {
  const host = opts.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  /** Requests seen per `x-fake-fault` value carrying `times=` (counted faults). */
  const counted = new Map<string, number>();
  const stats: FakeProviderStats = { received: 0, aborted: 0, open: 0 };
  const ids = new Ids();
  const cache = new PromptCache();
  let closing = false;

  function record(req: IncomingMessage, path: string, rawBody: Buffer, json: Json | undefined): void {
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, rawBody, json, receivedAt: Date.now() });
    if (requests.length > MAX_RECORDED) requests.shift();
  }

  /** Answers a fully read request; returns the pacer of a faulty response so a client abort can stop it. */
  function respond(req: IncomingMessage, res: ServerResponse, rawBody: Buffer): Pacer | undefined {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const { json, ok } = parseBody(rawBody, path);
    record(req, path, rawBody, json);
    let faults = parseFaults(req.headers[FAULT_HEADER], json?.model);
    if (faults.times !== undefined) {
      const key = String(req.headers[FAULT_HEADER]);
      const seen = counted.get(key) ?? 0;
      counted.set(key, seen + 1);
      if (seen >= faults.times) faults = NO_FAULTS;
    }
    const call: Call = { method: req.method ?? 'GET', path, query: q < 0 ? '' : url.slice(q + 1), headers: req.headers, rawBody, body: json ?? {}, faults, ids, cache };
    let plan: Plan;
    try {
      plan = planFor(call, ok);
    } catch (err) {
      plan = bugPlan(path, err);
    }
    if (faults === NO_FAULTS) {
      sendNow(res, plan, faults);
      return undefined;
    }
    const pace = new Pacer();
    sendPaced(res, plan, faults, pace).catch((err: unknown) => failResponse(res, path, err));
    return pace;
  }

  const server = createServer((req, res) => {
    stats.received++;
    let pace: Pacer | undefined;
    // 'close' always comes; before 'finish' it means the client left (mid-body, or mid-response).
    res.once('close', () => {
      if (!res.writableFinished && !pace?.cut && !closing) stats.aborted++;
      pace?.stop();
    });
    // A client leaving mid-body destroys `req`; that is handled by 'close' above, not an error.
    req.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        pace = respond(req, res, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      } catch (err) {
        failResponse(res, req.url ?? '/', err);
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    stats.open++;
    socket.once('close', () => {
      sockets.delete(socket);
      stats.open--;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    requests,
    stats,
    reset() {
      requests.length = 0;
      counted.clear();
      stats.received = 0;
      stats.aborted = 0;
      cache.clear();
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const socketsClosed = [...sockets].map((s) => new Promise((resolve) => s.once('close', resolve)));
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        // In-flight responses (slow faults) and idle keep-alive sockets would hold close() open.
        server.closeAllConnections();
        await Promise.all([serverClosed, ...socketsClosed]);
      })();
      return closed;
    },
  };
}
