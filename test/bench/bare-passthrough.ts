// The benchmark's reference forwarder: about the least a Node reverse proxy can do with undici —
// forward method, path, headers (minus hop-by-hop and host) and body, and stream the answer back
// chunk by chunk (SSE included). The sidecar is measured against this, so what the sidecar adds
// on top of "being a Node proxy at all" shows as a ratio. It runs as its own child process:
//   node --import tsx test/bench/bare-passthrough.ts --upstream http://127.0.0.1:PORT [--port 0]
// and prints `bare-passthrough listening on http://HOST:PORT` when ready.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
if (!values.upstream) throw new Error('usage: bare-passthrough.ts --upstream <origin> [--port N] [--host H]');

// Same pool shape as the sidecar's (keep-alive, no pipelining), so the comparison is about the
// work done per request, not about connection handling.
const pool = new Pool(new URL(values.upstream).origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });

// RFC 9110 §7.6.1 hop-by-hop headers, plus host (undici sets the upstream's own).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  // Headers named in `Connection:` are hop-by-hop too.
  const named = String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value;
  }
  return out;
}

const server = createServer((req, res) => {
  const method = req.method ?? 'GET';
  let controller: Dispatcher.DispatchController | undefined;
  // The client left before the answer was complete: stop the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) controller?.abort(new Error('client disconnected'));
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: (c) => {
      controller = c;
    },
    onResponseStart: (_c, status, headers) => {
      res.writeHead(status, endToEnd(headers));
    },
    onResponseData: (c, chunk) => {
      // One write per upstream chunk: SSE events reach the client as soon as they arrive.
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd: () => {
      res.end();
    },
    onResponseError: (_c, err) => {
      if (res.destroyed) return;
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`bare-passthrough: upstream error: ${err.message}\n`);
    },
  };
  pool.dispatch(
    {
      path: req.url ?? '/',
      method,
      headers: endToEnd(req.headers),
      // The request body is piped up as it arrives, never buffered.
      body: method === 'GET' || method === 'HEAD' ? null : req,
    },
    handler,
  );
});
// Longer than any client's idle keep-alive, so the load generators' connections are reused.
server.keepAliveTimeout = 65_000;

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`bare-passthrough listening on http://${values.host}:${port}\n`);
  process.send?.({ type: 'ready', port });
});

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  pool.destroy().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Forked with IPC by the bench: if the bench dies, so does this (no orphans).
process.on('disconnect', stop);
