// Hostile upstreams as data: one row per fault shape (framing, line ends, content types, encodings,
// resets and stalls at every phase of a response, huge headers), one loop asserting each row's
// documented outcome (docs/lifecycle.md, "Hostile upstreams") and the invariants every row shares:
// never a 500 of the sidecar's own, never a clean answer that is not one, the call recorded with
// the same code the app saw, and the sidecar still serving afterwards.
import { createParser } from 'eventsource-parser';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';
import { anthropicEvents, gzip, openAiEvents, openAiJson, startHostileUpstream, type HostileUpstream, type Script } from '../resilience/hostile-upstream.ts';

type Outcome =
  /** A complete answer: JSON that parses, or a stream ending with the provider's end marker and no error. */
  | { kind: 'ok' }
  /** Nothing was sent before the failure: the sidecar's own error, status and code. */
  | { kind: 'error'; status: number; code: string }
  /** The stream's 200 went out: it ends with an error event, recorded under this code. */
  | { kind: 'stream-error'; code: string }
  /** A provider error status, passed through as it came (no sidecar error header). */
  | { kind: 'provider-error'; status: number };

interface Row {
  name: string;
  api: 'openai' | 'anthropic';
  stream: boolean;
  script: Script;
  outcome: Outcome;
  /** Default: `h` (OpenAI) or `ha` (Anthropic); `hf` is a provider configured with `streamEnd: finish`. */
  route?: string;
}

const OK: Outcome = { kind: 'ok' };
const err = (status: number, code: string): Outcome => ({ kind: 'error', status, code: `LLM_SIDECAR_${code}` });
const cut = (code = 'UPSTREAM_STREAM_CUT'): Outcome => ({ kind: 'stream-error', code: `LLM_SIDECAR_${code}` });

const SSE = { 'content-type': 'text/event-stream', 'transfer-encoding': 'chunked' };
const oa = openAiEvents();
const an = anthropicEvents();

const rows: Row[] = [
  // ---- SSE framing and content ------------------------------------------------------------------
  { name: 'LF SSE (baseline)', api: 'openai', stream: true, script: (w) => w.sse(oa), outcome: OK },
  { name: 'CRLF SSE', api: 'openai', stream: true, script: (w) => w.sse(openAiEvents('\r\n')), outcome: OK },
  { name: 'CR-only SSE', api: 'openai', stream: true, script: (w) => w.sse(openAiEvents('\r')), outcome: OK },
  { name: 'BOM, comments and keep-alives', api: 'openai', stream: true, script: (w) => w.sse(['\uFEFF: hi\n\n', oa[0] as string, ': keep-alive\n\n', ...oa.slice(1)]), outcome: OK },
  { name: 'spaced JSON (an OpenAI-compatible server)', api: 'openai', stream: true, script: (w) => w.sse(oa.map((e) => e.replace(/":/g, '": ').replace(/,"/g, ', "'))), outcome: OK },
  { name: 'events split at every 7 bytes', api: 'openai', stream: true, script: (w) => w.sse(oa.join('').match(/[\s\S]{1,7}/g) as string[]), outcome: OK },
  { name: 'garbage event before content', api: 'openai', stream: true, script: (w) => w.sse(['data: <html>502 Bad Gateway</html>\n\n', ...oa]), outcome: cut('UPSTREAM_INVALID_RESPONSE') },
  { name: 'garbage event mid-stream', api: 'openai', stream: true, script: (w) => w.sse([...oa.slice(0, 2), 'data: {"id":"chatcmpl-h","obj\n\n', ...oa.slice(2)]), outcome: cut('UPSTREAM_INVALID_RESPONSE') },
  { name: 'labelled SSE, no events at all', api: 'openai', stream: true, script: (w) => w.sse(['hello, this is not an event stream\n']), outcome: cut() },
  { name: '[DONE] without a finish chunk', api: 'openai', stream: true, script: (w) => w.sse([...oa.slice(0, 3), oa[5] as string]), outcome: cut() },
  { name: 'finish chunk, no [DONE], clean end', api: 'openai', stream: true, script: (w) => w.sse(oa.slice(0, 5)), outcome: cut() },
  { name: 'no [DONE] from a server configured with streamEnd: finish', route: 'hf', api: 'openai', stream: true, script: (w) => w.sse(oa.slice(0, 5)), outcome: OK },
  { name: 'no finish chunk from a server configured with streamEnd: finish', route: 'hf', api: 'openai', stream: true, script: (w) => w.sse(oa.slice(0, 3)), outcome: cut() },
  { name: 'provider error event mid-stream', api: 'openai', stream: true, script: (w) => w.sse([...oa.slice(0, 2), 'data: {"error":{"message":"overloaded","type":"server_error","code":null}}\n\n']), outcome: cut('UPSTREAM_STREAM_ERROR') },
  // ---- content types and encodings --------------------------------------------------------------
  { name: 'content type in capitals with parameters', api: 'openai', stream: true, script: (w) => w.sse(oa, { 'content-type': 'Text/Event-Stream; charset=UTF-8' }), outcome: OK },
  { name: 'stream answered with an HTML page', api: 'openai', stream: true, script: (w) => w.json(200, '<html><body>Gateway</body></html>', { 'content-type': 'text/html' }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'JSON answered with an HTML page', api: 'openai', stream: false, script: (w) => w.json(200, '<html><body>Login</body></html>', { 'content-type': 'text/html' }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'HTML labelled application/json', api: 'openai', stream: false, script: (w) => w.json(200, '<html>oops</html>'), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'JSON labelled text/plain', api: 'openai', stream: false, script: (w) => w.json(200, openAiJson, { 'content-type': 'text/plain' }), outcome: OK },
  { name: 'gzip JSON although identity was asked', api: 'openai', stream: false, script: (w) => w.json(200, gzip(openAiJson), { 'content-encoding': 'gzip' }), outcome: OK },
  { name: 'gzip label on a plain body', api: 'openai', stream: false, script: (w) => w.json(200, openAiJson, { 'content-encoding': 'gzip' }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'an unknown content encoding', api: 'openai', stream: false, script: (w) => w.json(200, openAiJson, { 'content-encoding': 'x-custom' }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'gzip SSE although identity was asked', api: 'openai', stream: true, script: (w) => w.json(200, gzip(oa.join('')), { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'provider 500 with an HTML body', api: 'openai', stream: false, script: (w) => w.json(500, '<html>Internal Server Error</html>', { 'content-type': 'text/html' }), outcome: { kind: 'provider-error', status: 500 } },
  // ---- headers ----------------------------------------------------------------------------------
  { name: 'huge response headers (100 KB)', api: 'openai', stream: false, script: (w) => w.json(200, openAiJson, { 'x-huge': 'a'.repeat(100_000) }), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  { name: 'large but allowed headers (8 KB)', api: 'openai', stream: false, script: (w) => w.json(200, openAiJson, { 'x-large': 'a'.repeat(8_000) }), outcome: OK },
  { name: 'not HTTP at all', api: 'openai', stream: false, script: (w) => w.socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'), outcome: err(502, 'UPSTREAM_INVALID_RESPONSE') },
  {
    name: '103 Early Hints before the answer',
    api: 'openai',
    stream: true,
    script: (w) => {
      w.raw('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
      w.sse(oa);
    },
    outcome: OK,
  },
  // ---- resets and stalls at every phase ---------------------------------------------------------
  { name: 'reset before the headers', api: 'openai', stream: false, script: (w) => w.reset(), outcome: err(502, 'UPSTREAM_CONNECTION_RESET') },
  { name: 'reset before the headers (stream)', api: 'openai', stream: true, script: (w) => w.reset(), outcome: err(502, 'UPSTREAM_CONNECTION_RESET') },
  {
    name: 'reset inside the headers',
    api: 'openai',
    stream: true,
    script: (w) => {
      w.raw('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-enc');
      setImmediate(() => w.reset());
    },
    outcome: err(502, 'UPSTREAM_CONNECTION_RESET'),
  },
  { name: 'stall before the headers', api: 'openai', stream: true, script: (w) => w.stall(), outcome: err(504, 'UPSTREAM_TIMEOUT') },
  ...phases(),
  {
    name: 'reset at the trailers (end marker already in)',
    api: 'openai',
    stream: true,
    script: (w) => {
      w.head(200, SSE);
      for (const e of oa) w.chunk(e);
      setImmediate(() => w.reset());
    },
    outcome: OK,
  },
  {
    name: 'HTTP trailers after the stream',
    api: 'openai',
    stream: true,
    script: (w) => {
      w.head(200, { ...SSE, trailer: 'x-upstream-usage' });
      for (const e of oa) w.chunk(e);
      w.endChunked('x-upstream-usage: 10\r\n');
    },
    outcome: OK,
  },
  {
    name: 'JSON shorter than its content-length, then close',
    api: 'openai',
    stream: false,
    script: (w) => {
      w.head(200, { 'content-type': 'application/json', 'content-length': String(openAiJson.length + 100) });
      w.socket.end(openAiJson);
    },
    outcome: err(502, 'UPSTREAM_CONNECTION_RESET'),
  },
  {
    name: 'JSON reset mid-body',
    api: 'openai',
    stream: false,
    script: (w) => {
      w.head(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      w.chunk(openAiJson.slice(0, 40));
      setImmediate(() => w.reset());
    },
    outcome: err(502, 'UPSTREAM_CONNECTION_RESET'),
  },
  {
    name: 'JSON stalled mid-body',
    api: 'openai',
    stream: false,
    script: (w) => {
      w.head(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      w.chunk(openAiJson.slice(0, 40));
      return w.stall();
    },
    outcome: err(504, 'UPSTREAM_TIMEOUT'),
  },
  // ---- Anthropic ----------------------------------------------------------------------------------
  { name: 'Anthropic stream (baseline)', api: 'anthropic', stream: true, script: (w) => w.sse(an), outcome: OK },
  { name: 'Anthropic CRLF stream', api: 'anthropic', stream: true, script: (w) => w.sse(an.map((e) => e.replace(/\n/g, '\r\n'))), outcome: OK },
  { name: 'Anthropic stream without message_stop', api: 'anthropic', stream: true, script: (w) => w.sse(an.slice(0, -1)), outcome: cut() },
  {
    name: 'Anthropic error event mid-stream',
    api: 'anthropic',
    stream: true,
    script: (w) => w.sse([...an.slice(0, 4), 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n']),
    outcome: cut('UPSTREAM_STREAM_ERROR'),
  },
  {
    name: 'Anthropic reset mid-stream',
    api: 'anthropic',
    stream: true,
    script: (w) => {
      w.head(200, SSE);
      for (const e of an.slice(0, 4)) w.chunk(e);
      setImmediate(() => w.reset());
    },
    outcome: cut(),
  },
];

/** A stream reset or stalled after each phase: headers, preamble (role chunk), first content, mid-stream. */
function phases(): Row[] {
  const after: [string, number][] = [
    ['the headers', 0],
    ['the preamble', 1],
    ['the first content', 2],
    ['mid-stream', 4],
  ];
  return after.flatMap(([phase, n]): Row[] => [
    {
      name: `reset after ${phase}`,
      api: 'openai',
      stream: true,
      script: (w) => {
        w.head(200, SSE);
        for (const e of oa.slice(0, n)) w.chunk(e);
        setImmediate(() => w.reset());
      },
      outcome: cut(),
    },
    {
      name: `stall after ${phase}`,
      api: 'openai',
      stream: true,
      script: (w) => {
        w.head(200, SSE);
        for (const e of oa.slice(0, n)) w.chunk(e);
        return w.stall();
      },
      outcome: cut('UPSTREAM_TIMEOUT'),
    },
  ]);
}

// Every row fails on purpose: the breaker must not turn later rows into 503s.
const NO_BREAKER = { minRequests: 1_000_000 };

/** Faults before any content on a first target: the next target must answer, invisibly. */
const FIRST_TARGET: Record<string, Script> = {
  'error-event-before-content': (w) => w.sse([oa[0] as string, 'data: {"error":{"message":"overloaded","type":"server_error","code":null}}\n\n']),
  'garbage-before-content': (w) => w.sse([oa[0] as string, 'data: <html>502</html>\n\n', ...oa.slice(1)]),
  'no-end-marker-before-content': (w) => w.sse([oa[0] as string]),
  'reset-after-preamble': (w) => {
    w.head(200, SSE);
    w.chunk(oa[0] as string);
    setImmediate(() => w.reset());
  },
};
const FIRST_TARGET_ERROR: Record<string, string> = {
  'error-event-before-content': 'upstream_stream_error',
  'garbage-before-content': 'upstream_invalid_response',
  'no-end-marker-before-content': 'upstream_stream_cut',
  'reset-after-preamble': 'upstream_connection_reset',
};

let hostile: HostileUpstream;
let stack: Stack;

beforeAll(async () => {
  hostile = await startHostileUpstream();
  rows.forEach((r, i) => hostile.scripts.set(`hostile-${i}`, r.script));
  for (const [name, script] of Object.entries(FIRST_TARGET)) hostile.scripts.set(name, script);
  stack = await startStack(() => ({
    providers: {
      h: { type: 'openai', baseUrl: `${hostile.url}/v1`, apiKey: 'sk-h', timeouts: { idleMs: 400 } },
      ha: { type: 'anthropic', baseUrl: hostile.url, apiKey: 'sk-ant-h', timeouts: { idleMs: 400 } },
      hf: { type: 'openai', baseUrl: `${hostile.url}/v1`, apiKey: 'sk-h', timeouts: { idleMs: 400 }, streamEnd: 'finish' },
    },
    routes: {
      h: { retry: { maxRetries: 0 }, breaker: NO_BREAKER, timeouts: { firstTokenMs: 600 }, targets: [{ provider: 'h' }] },
      ha: { retry: { maxRetries: 0 }, breaker: NO_BREAKER, timeouts: { firstTokenMs: 600 }, targets: [{ provider: 'ha' }] },
      hf: { retry: { maxRetries: 0 }, breaker: NO_BREAKER, timeouts: { firstTokenMs: 600 }, targets: [{ provider: 'hf' }] },
      ...Object.fromEntries(Object.keys(FIRST_TARGET).map((name) => [name, { retry: { maxRetries: 0 }, breaker: NO_BREAKER, targets: [{ provider: 'h', model: name }, { provider: 'h', model: 'hostile-0' }] }])),
    },
  }));
});

afterAll(async () => {
  await stack?.close();
  await hostile?.close();
});

function sseEvents(text: string): { event: string | undefined; data: string }[] {
  const out: { event: string | undefined; data: string }[] = [];
  const p = createParser({ onEvent: (e) => out.push({ event: e.event, data: e.data }) });
  p.feed(text);
  return out;
}

describe('hostile upstreams: each fault shape has its documented outcome', () => {
  it.each(rows.map((r, i) => [r.name, r, i] as const))('%s', async (_name, row, i) => {
    const model = `hostile-${i}`;
    const openai = row.api === 'openai';
    const res = await request(`${stack.sidecar.url}${openai ? '/v1/chat/completions' : '/v1/messages'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llm-sidecar-route': row.route ?? (openai ? 'h' : 'ha'), ...(openai ? {} : { 'anthropic-version': '2023-06-01' }) },
      body: JSON.stringify({ model, max_tokens: 20, stream: row.stream, messages: [{ role: 'user', content: 'hostile' }] }),
    });
    const text = await res.body.text();
    // Invariants of every row: no 500 of the sidecar's own, and the call is recorded with what the app saw.
    if (res.headers['x-llm-sidecar-error'] !== undefined) expect(res.statusCode).not.toBe(500);
    expect(res.headers['x-llm-sidecar-error']).not.toBe('LLM_SIDECAR_INTERNAL');
    const rec = await stack.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    const o = row.outcome;
    switch (o.kind) {
      case 'ok': {
        expect(res.statusCode).toBe(200);
        if (row.stream) {
          const events = sseEvents(text);
          expect(events.some((e) => e.event === 'error' || e.data.startsWith('{"error"'))).toBe(false);
          // Passed through as the provider ended it: no [DONE] is made up for a `streamEnd: finish` server.
          if (row.route !== 'hf') expect(openai ? events.at(-1)?.data : events.at(-1)?.event).toBe(openai ? '[DONE]' : 'message_stop');
        } else {
          expect(JSON.parse(text)).toMatchObject({ choices: [{ message: { content: 'Hello there' } }] });
          expect(res.headers['content-encoding']).toBeUndefined();
        }
        expect(rec).toMatchObject({ httpStatus: 200, completed: true });
        expect(rec.errorCode).toBeUndefined();
        expect(rec.usage?.inputTokens).toBe(7); // usage was read, whatever the framing
        break;
      }
      case 'error': {
        expect(res.statusCode).toBe(o.status);
        expect(res.headers['x-llm-sidecar-error'], text).toBe(o.code);
        expect(JSON.parse(text)).toMatchObject({ error: { code: o.code } });
        expect(rec).toMatchObject({ httpStatus: o.status, errorCode: o.code, completed: false });
        break;
      }
      case 'stream-error': {
        expect(res.statusCode).toBe(200);
        const last = sseEvents(text).at(-1);
        if (openai) expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ error: expect.objectContaining(o.code === 'LLM_SIDECAR_UPSTREAM_STREAM_ERROR' ? {} : { code: o.code }) });
        else expect(last?.event).toBe('error');
        expect(rec).toMatchObject({ errorCode: o.code, completed: false });
        break;
      }
      case 'provider-error': {
        expect(res.statusCode).toBe(o.status);
        expect(res.headers['x-llm-sidecar-error']).toBeUndefined();
        expect(rec.upstreamStatus).toBe(o.status);
        break;
      }
    }
  });

  it.each(Object.keys(FIRST_TARGET))('before any content, %s on the first target falls back invisibly', async (route) => {
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llm-sidecar-route': route },
      body: JSON.stringify({ model: 'any', stream: true, messages: [{ role: 'user', content: 'fall back' }] }),
    });
    const events = sseEvents(await res.body.text());
    expect(res.statusCode).toBe(200);
    expect(events.filter((e) => e.data.includes('"role":"assistant"'))).toHaveLength(1); // one preamble, not two
    expect(events.some((e) => e.data.startsWith('{"error"') || e.data.startsWith('<'))).toBe(false);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const rec = await stack.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    expect(rec).toMatchObject({ fallbackIndex: 1, completed: true, httpStatus: 200 });
    expect(rec.attemptDetails.map((a) => a.errorType)).toEqual([FIRST_TARGET_ERROR[route], undefined]);
  });

  it('the sidecar still serves a plain request after all of them', async () => {
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llm-sidecar-route': 'h' },
      body: JSON.stringify({ model: 'hostile-0', stream: true, messages: [{ role: 'user', content: 'still there?' }] }),
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('[DONE]');
  });
});
