// `node --import tsx test/bench/otlp-receiver.ts --port N`: the bench's local OTLP/HTTP receiver, in
// its own process so its CPU is not the load generator's. Accepts POST /v1/traces (JSON or protobuf),
// reads the whole body, counts spans cheaply and answers 200 `{}` as a collector would; GET /stats
// says how many requests, bytes and spans arrived (JSON bodies only are counted as spans). Prints
// `otlp-receiver listening on http://127.0.0.1:PORT` when ready.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const stats = { requests: 0, bytes: 0, spans: 0 };
const SPAN_ID = Buffer.from('"spanId"');

function countSpans(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(SPAN_ID); i !== -1; i = body.indexOf(SPAN_ID, i + SPAN_ID.length)) n++;
  return n;
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/traces') {
    // A sidecar exporting somewhere else would show as export errors and 0 spans, not as success.
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: POST /v1/traces or GET /stats\n');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    stats.requests += 1;
    stats.bytes += body.length;
    // Links carry a spanId too, but the sidecar's spans have none: one per span.
    stats.spans += countSpans(body);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`otlp-receiver listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)));
