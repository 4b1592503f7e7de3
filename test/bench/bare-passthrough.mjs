// The benchmark's reference forwarder: the leanest Node reverse proxy we could write, so that what
// the sidecar adds on top of "being a Node proxy at all" shows as a ratio against a floor, not
// against another program with its own overheads. It is a reference, not a product: no features,
// whatever is fastest.
//   node test/bench/bare-passthrough.mjs --upstream http://127.0.0.1:PORT [--port 0] [--client dispatch|request|http]
// prints `bare-passthrough listening on http://HOST:PORT` when ready.
//
// Why it looks like this (issue #18: the earlier forwarder ran through tsx and piped small request
// bodies up as streams; the telemetry-off sidecar reached 122 % of it, so it was not the floor):
// - plain JavaScript (.mjs), no loader: no tsx hooks, no source maps, nothing compiled at start;
// - node:http server, request body buffered (bench bodies are < 1 KB) and sent as one Buffer;
// - headers copied from the raw header list (no object built per request), hop-by-hop ones dropped;
// - upstream through undici's Pool with the low-level `dispatch` handler: no Readable, no promise
//   per request, each chunk written as it arrives (SSE reaches the client at once).
// The three clients and the earlier .ts forwarder were measured side by side (autocannon, 50
// connections, JSON answers, targets interleaved in 6 rounds of 4 s; Node 20.20, undici 7.30; 2
// cores shared with the load generator, the upstream and a busy neighbour, load average ~24, so
// read the ranking, not the absolute figures). This process's CPU per request, and req/s:
//   dispatch 208 µs (803 req/s) · http 295 µs (664) · earlier .ts 306 µs (616) · request 376 µs (506)
// (a second run ranked them the same: 143 · 209 · 309 µs). `dispatch` was the fastest and the
// cheapest, so it is the default; the others stay selectable with --client to re-check elsewhere.
/* global AbortController -- a Node global the lint config declares for TypeScript files only */
import { Buffer } from 'node:buffer';
import { createServer, request as httpRequest, Agent } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    client: { type: 'string', default: 'dispatch' },
  },
});
if (!values.upstream) throw new Error('usage: bare-passthrough.mjs --upstream <origin> [--port N] [--host H] [--client dispatch|request|http]');
const upstream = new URL(values.upstream);

// RFC 9110 §7.6.1 hop-by-hop headers, plus host (the client sets the upstream's own). Headers named
// in `Connection:` are hop-by-hop too, but no client of the bench sends any: not handled here.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/** The end-to-end part of a raw header list ([name, value, name, value, …]), as a flat list. */
function endToEnd(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = typeof raw[i] === 'string' ? raw[i] : raw[i].toString('latin1');
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, typeof raw[i + 1] === 'string' ? raw[i + 1] : raw[i + 1].toString('latin1'));
  }
  return out;
}

/** node:http.request (Node 20) takes an object, not a raw list. */
function pairs(flat) {
  const out = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

function badGateway(res, err) {
  if (res.destroyed) return;
  if (res.headersSent) res.destroy(err);
  else res.writeHead(502, { 'content-type': 'text/plain' }).end(`bare-passthrough: upstream error: ${err.message}\n`);
}

/** Calls `send(body)` with the whole request body: one Buffer, or null for an empty one. */
function readBody(req, send) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => send(chunks.length === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

// Same pool shape as the sidecar's (keep-alive, no pipelining), so the comparison is about the work
// done per request, not about connection handling.
const POOL_OPTIONS = { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 };

const clients = {
  /** undici Pool, low-level dispatch handler (legacy onHeaders/onData: raw header Buffers, no parsing). */
  dispatch() {
    const pool = new Pool(upstream.origin, POOL_OPTIONS);
    return {
      close: () => pool.close(),
      forward(req, res, body) {
        let abort;
        res.on('close', () => {
          if (!res.writableFinished) abort?.(new Error('client disconnected'));
        });
        pool.dispatch(
          { path: req.url, method: req.method, headers: endToEnd(req.rawHeaders), body },
          {
            onConnect: (a) => {
              abort = a;
            },
            onHeaders: (status, raw, resume) => {
              res.writeHead(status, endToEnd(raw));
              res.on('drain', resume);
              return true;
            },
            // Returning false pauses undici until 'drain' resumes it (backpressure).
            onData: (chunk) => res.write(chunk),
            onComplete: () => res.end(),
            onError: (err) => badGateway(res, err),
          },
        );
      },
    };
  },
  /** undici Pool.request: a promise and a Readable body per request. */
  request() {
    const pool = new Pool(upstream.origin, POOL_OPTIONS);
    return {
      close: () => pool.close(),
      forward(req, res, body) {
        const ac = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) ac.abort(new Error('client disconnected'));
        });
        pool.request({ path: req.url, method: req.method, headers: endToEnd(req.rawHeaders), body, signal: ac.signal }).then(
          (up) => {
            const raw = [];
            for (const [name, value] of Object.entries(up.headers)) {
              if (HOP_BY_HOP.has(name)) continue;
              if (Array.isArray(value)) for (const v of value) raw.push(name, v);
              else raw.push(name, value);
            }
            res.writeHead(up.statusCode, raw);
            up.body.on('error', (err) => badGateway(res, err));
            up.body.pipe(res);
          },
          (err) => badGateway(res, err),
        );
      },
    };
  },
  /** node:http.request with a keep-alive Agent. */
  http() {
    const agent = new Agent({ keepAlive: true, maxSockets: POOL_OPTIONS.connections, keepAliveMsecs: POOL_OPTIONS.keepAliveTimeout });
    return {
      close: () => agent.destroy(),
      forward(req, res, body) {
        const up = httpRequest(
          { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: pairs(endToEnd(req.rawHeaders)) },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, endToEnd(answer.rawHeaders));
            answer.on('error', (err) => badGateway(res, err));
            answer.pipe(res);
          },
        );
        up.on('error', (err) => badGateway(res, err));
        res.on('close', () => {
          if (!res.writableFinished) up.destroy();
        });
        up.end(body ?? undefined);
      },
    };
  },
};

const make = clients[values.client];
if (!make) throw new Error(`--client: unknown ${values.client} (known: ${Object.keys(clients).join(', ')})`);
const client = make();

const server = createServer((req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') client.forward(req, res, null);
  else readBody(req, (body) => client.forward(req, res, body));
});
// Longer than any client's idle keep-alive, so the load generators' connections are reused.
server.keepAliveTimeout = 65_000;

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  process.stdout.write(`bare-passthrough listening on http://${values.host}:${port}\n`);
  process.send?.({ type: 'ready', port });
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  Promise.resolve(client.close()).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Forked with IPC by the bench: if the bench dies, so does this (no orphans).
process.on('disconnect', stop);
