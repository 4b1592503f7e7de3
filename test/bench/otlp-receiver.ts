// `node --import tsx test/bench/otlp-receiver.ts --port N`: the bench's local OTLP/HTTP receiver, in
// its own process so its CPU is not the load generator's. Accepts POST /v1/traces (JSON or protobuf),
// reads the whole body, counts spans cheaply and answers 200 as a collector would (`{}` to JSON, an
// empty ExportTraceServiceResponse to protobuf, the sidecar's default); GET /stats says how many
// requests, bytes and spans arrived. Prints
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

/** Reads a protobuf varint at `pos`; returns the value and the next position. */
function varint(b: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 1;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * shift;
    if (byte < 0x80) return [value, pos];
    shift *= 128;
  }
}

/** The length-delimited fields numbered `field` between start and end, as [start, end) ranges. */
function messages(b: Buffer, start: number, end: number, field: number): [number, number][] {
  const out: [number, number][] = [];
  let pos = start;
  while (pos < end) {
    const [key, afterKey] = varint(b, pos);
    const wire = key % 8;
    pos = afterKey;
    if (wire === 0) pos = varint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, afterLen] = varint(b, pos);
      if (Math.floor(key / 8) === field) out.push([afterLen, afterLen + len]);
      pos = afterLen + len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2). */
function countProtobufSpans(body: Buffer): number {
  let n = 0;
  for (const [rs, rsEnd] of messages(body, 0, body.length, 1)) for (const [ss, ssEnd] of messages(body, rs, rsEnd, 2)) n += messages(body, ss, ssEnd, 2).length;
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
    if (String(req.headers['content-type']).startsWith('application/x-protobuf')) {
      stats.spans += countProtobufSpans(body);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      return;
    }
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
