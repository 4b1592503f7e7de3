// A hostile upstream on a raw TCP socket: it reads one HTTP request, then plays the script named by
// the request's `model`, byte for byte — broken framing, resets at any phase, huge headers, wrong
// encodings — things a well-behaved `node:http` server (like the fake provider) cannot produce.
// One request per connection (every answer ends by closing it), so scripts never depend on each other.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export type Script = (s: Wire) => Promise<void> | void;

/** What a script can do to the connection. */
export class Wire {
  constructor(readonly socket: Socket) {}

  raw(text: string | Buffer): void {
    this.socket.write(text);
  }

  head(status: number, headers: Record<string, string>): void {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    this.raw(`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Status'}\r\n${lines.join('')}connection: close\r\n\r\n`);
  }

  /** One chunk of a chunked body. */
  chunk(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    this.raw(Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]));
  }

  /** The last chunk (with optional trailers), then close. */
  endChunked(trailers = ''): void {
    this.socket.end(`0\r\n${trailers}\r\n`);
  }

  json(status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    this.head(status, { 'content-type': 'application/json', 'content-length': String(b.length), ...headers });
    this.socket.end(b);
  }

  /** A complete chunked SSE answer from event texts. */
  sse(events: string[], headers: Record<string, string> = {}): void {
    this.head(200, { 'content-type': 'text/event-stream', 'transfer-encoding': 'chunked', ...headers });
    for (const e of events) this.chunk(e);
    this.endChunked();
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Waits until the sidecar gives up on us (it closes the connection) — a stall with no timer of our own. */
  stall(): Promise<void> {
    return new Promise((r) => {
      if (this.socket.destroyed) r();
      else this.socket.once('close', () => r());
    });
  }
}

export interface HostileUpstream {
  url: string;
  scripts: Map<string, Script>;
  close(): Promise<void>;
}

// ---- answers in each API's shape, to build scripts from -----------------------------------------

const oaChunk = (delta: object, finish: string | null) => JSON.stringify({ id: 'chatcmpl-h', object: 'chat.completion.chunk', created: 1, model: 'hostile-model', choices: [{ index: 0, delta, finish_reason: finish }] });
const usage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };

/** An OpenAI chat stream as event texts: role, content, finish, usage, [DONE] (LF line ends). */
export function openAiEvents(eol = '\n'): string[] {
  const ev = (d: string) => `data: ${d}${eol}${eol}`;
  return [
    ev(oaChunk({ role: 'assistant', content: '' }, null)),
    ev(oaChunk({ content: 'Hello' }, null)),
    ev(oaChunk({ content: ' there' }, null)),
    ev(oaChunk({}, 'stop')),
    ev(JSON.stringify({ id: 'chatcmpl-h', object: 'chat.completion.chunk', created: 1, model: 'hostile-model', choices: [], usage })),
    ev('[DONE]'),
  ];
}

export const openAiJson = JSON.stringify({
  id: 'chatcmpl-h',
  object: 'chat.completion',
  created: 1,
  model: 'hostile-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null }, finish_reason: 'stop', logprobs: null }],
  usage,
});

/** An Anthropic message stream as event texts. */
export function anthropicEvents(): string[] {
  const ev = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  return [
    ev('message_start', { message: { id: 'msg_h', type: 'message', role: 'assistant', model: 'hostile-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 7, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello there' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }),
    ev('message_stop', {}),
  ];
}

export const gzip = (text: string): Buffer => gzipSync(Buffer.from(text));

// ---- the server -----------------------------------------------------------------------------------

function readRequest(socket: Socket): Promise<{ model: string } | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      try {
        const body = JSON.parse(buf.subarray(end + 4, end + 4 + length).toString('utf8')) as { model?: unknown };
        resolve({ model: String(body.model) });
      } catch {
        resolve(undefined);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(undefined));
  });
}

export async function startHostileUpstream(): Promise<HostileUpstream> {
  const scripts = new Map<string, Script>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined); // resets are the point here
    socket.once('close', () => sockets.delete(socket));
    void readRequest(socket).then(async (req) => {
      const script = req ? scripts.get(req.model) : undefined;
      const wire = new Wire(socket);
      if (!script) return wire.json(404, JSON.stringify({ error: { message: `no script "${req?.model}"`, type: 'not_found', param: null, code: null } }));
      await script(wire);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    scripts,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
