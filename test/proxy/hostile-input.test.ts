// Hostile request bodies over raw HTTP/1.1: each shape gets a 4xx of the sidecar's own with a stable
// code, or is forwarded — never a 5xx of the sidecar, never a stack trace in the logs — and the
// sidecar keeps serving. The bodies go through every walker over request JSON: the cache key
// (cache on), budgets and per-request limits (budgets on), token estimates, content capture
// (evaluation sampling at 1.0) and translation (a route whose target speaks the other API).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_JSON_DEPTH } from '../../proxy/request-body.ts';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
// Error lines, whichever way they are written: console.error, or JSON log lines on stderr
// (`"level":"error"`, as pino writes them). An internal error with a stack is what must not appear.
const consoleError = vi.spyOn(console, 'error');
const stderrLines: string[] = [];
const stderrWrite = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
  stderrLines.push(String(chunk));
  return true;
});
const errorsLogged = (): string[] => [...consoleError.mock.calls.map((c) => c.map(String).join(' ')), ...stderrLines.filter((l) => /"level":"?(error|fatal|50|60)\b|internal error/.test(l))];

beforeAll(async () => {
  stack = await startStack((url) => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-test-openai' },
      anthropic: { type: 'anthropic', baseUrl: url, apiKey: 'sk-ant-test' },
    },
    cache: { mode: 'all', ttlSeconds: 60 },
    routes: { translated: { models: ['translated'], targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] } },
    evaluation: { sampleRate: 1, captureContent: true },
    budgets: { tiers: { t: { userDailyTokens: 50_000 } }, defaultTier: 't', perRequest: { default: { maxOutputTokens: 50 } } },
  }));
});

afterAll(async () => {
  await stack?.close();
  consoleError.mockRestore();
  stderrWrite.mockRestore();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request on its own connection, written byte for byte; resolves with the parsed answer. */
function rawRequest(head: string, body: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(new URL(stack.sidecar.url).port as unknown as number, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    // Not half-closed: `connection: close` makes the sidecar end the connection after its answer.
    socket.write(head);
    socket.write(body);
  });
}

function post(path: string, body: Buffer, user = 'u-default'): Promise<RawResponse> {
  const head = `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nanthropic-version: 2023-06-01\r\nx-llm-sidecar-user: ${user}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  return rawRequest(head, body);
}

const nest = (depth: number, leaf = '"x"'): string => '['.repeat(depth - 1) + leaf + ']'.repeat(depth - 1);
const nestObjects = (depth: number): string => '{"a":'.repeat(depth - 1) + '1' + '}'.repeat(depth - 1);

/** A chat body whose last message content is `content` (raw JSON text, nesting counted from the body's own brace). */
const chat = (content: string, model = 'gpt-4o-mini'): string => `{"model":"${model}","messages":[{"role":"user","content":${content}}]}`;
const messages = (content: string): string => `{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":${content}}]}`;

type Expect = { status: number; code: string } | 'served';

interface Row {
  name: string;
  path: string;
  body: Buffer;
  expect: Expect;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? utf8(p) : Buffer.from(p))));

// The body's own object is level 1, messages (or tools) 2, a message 3: nest(d) adds d - 1 levels.
const atLimit = MAX_JSON_DEPTH - 2;

const ROWS: Row[] = [
  { name: 'arrays nested 100,000 deep (chat)', path: '/v1/chat/completions', body: utf8(chat(nest(100_000))), expect: { status: 400, code: 'LLM_SIDECAR_JSON_TOO_DEEP' } },
  { name: 'objects nested 100,000 deep (messages)', path: '/v1/messages', body: utf8(messages(nestObjects(100_000))), expect: { status: 400, code: 'LLM_SIDECAR_JSON_TOO_DEEP' } },
  { name: 'nesting one level past the limit', path: '/v1/chat/completions', body: utf8(chat(nest(atLimit + 1))), expect: { status: 400, code: 'LLM_SIDECAR_JSON_TOO_DEEP' } },
  { name: 'nesting at the limit, through cache key, budgets, estimates, capture', path: '/v1/chat/completions', body: utf8(chat(nest(atLimit))), expect: 'served' },
  { name: 'nesting at the limit, translated to the other API', path: '/v1/chat/completions', body: utf8(chat(nest(atLimit), 'translated')), expect: 'served' },
  { name: 'nesting at the limit in tools (responses)', path: '/v1/responses', body: utf8(`{"model":"gpt-4o-mini","input":"hi","tools":[{"type":"function","name":"f","parameters":${nestObjects(atLimit)}}]}`), expect: 'served' },
  {
    name: 'tool-call arguments (a JSON string) nested past the limit, translated for the other API',
    path: '/v1/chat/completions',
    body: utf8(
      JSON.stringify({
        model: 'translated',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: `{"a":${nest(10_000)}}` } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      }),
    ),
    expect: { status: 400, code: 'LLM_SIDECAR_JSON_TOO_DEEP' },
  },
  { name: 'brackets and escaped quotes inside strings do not count', path: '/v1/chat/completions', body: utf8(chat(JSON.stringify(`\\"${'[{'.repeat(5_000)}`))), expect: 'served' },
  { name: 'invalid UTF-8 (a lone continuation byte)', path: '/v1/chat/completions', body: bytes('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a', [0x80], 'b"}]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_JSON' } },
  { name: 'invalid UTF-8 (an encoded surrogate)', path: '/v1/messages', body: bytes('{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"', [0xed, 0xa0, 0x80], '"}]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_JSON' } },
  { name: 'invalid UTF-8 (overlong encoding of "/")', path: '/v1/chat/completions', body: bytes('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"', [0xc0, 0xaf], '"}]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_JSON' } },
  { name: 'a byte-order mark before the JSON', path: '/v1/chat/completions', body: bytes([0xef, 0xbb, 0xbf], chat('"hi"')), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_JSON' } },
  { name: 'a lone surrogate escape is valid JSON text', path: '/v1/chat/completions', body: utf8(chat('"\\ud800"')), expect: 'served' },
  { name: 'a number overflowing a double (1e400)', path: '/v1/chat/completions', body: utf8('{"model":"gpt-4o-mini","temperature":1e400,"messages":[]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'a negative overflow deep inside a tool schema', path: '/v1/messages', body: utf8('{"model":"claude-haiku-4-5","max_tokens":5,"messages":[],"tools":[{"name":"t","input_schema":{"type":"object","minimum":-9E+999}}]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'an integer of 400 digits', path: '/v1/chat/completions', body: utf8(`{"model":"gpt-4o-mini","seed":${'9'.repeat(400)},"messages":[]}`), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'max_tokens beyond 2^53', path: '/v1/messages', body: utf8('{"model":"claude-haiku-4-5","max_tokens":90071992547409930,"messages":[]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'max_completion_tokens 1e300 (finite, absurd)', path: '/v1/chat/completions', body: utf8('{"model":"gpt-4o-mini","max_completion_tokens":1e300,"messages":[]}'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'an underflowing number (1e-400 reads as 0) is served', path: '/v1/chat/completions', body: utf8(`{"model":"gpt-4o-mini","temperature":1e-400,"messages":[{"role":"user","content":"hi"}]}`), expect: 'served' },
  { name: 'a body that is a JSON string', path: '/v1/chat/completions', body: utf8('"gpt-4o-mini"'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_REQUEST' } },
  { name: 'truncated JSON', path: '/v1/messages', body: utf8('{"model":"claude-haiku-4-5","messages":[{"role":'), expect: { status: 400, code: 'LLM_SIDECAR_INVALID_JSON' } },
];

describe('hostile request bodies over raw HTTP', () => {
  it.each(ROWS.map((row, i) => ({ ...row, user: `u-row-${i}` })))('$name', async (row) => {
    const r = await post(row.path, row.body, row.user);
    expect(r.status, r.body.slice(0, 300)).toBeLessThan(500);
    if (row.expect === 'served') {
      expect(r.headers['x-llm-sidecar-error'], r.body.slice(0, 300)).toBeUndefined();
    } else {
      expect(r.status).toBe(row.expect.status);
      expect(r.headers['x-llm-sidecar-error']).toBe(row.expect.code);
      expect(r.headers['retry-after']).toBeUndefined();
      // In the inbound API's own shape.
      const json = JSON.parse(r.body) as Record<string, unknown>;
      if (row.path === '/v1/messages') expect(json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      else expect(json).toMatchObject({ error: { code: row.expect.code, type: 'invalid_request_error' } });
    }
    expect(errorsLogged()).toEqual([]);
  });

  it('a client that leaves mid-upload is a client abort: no error logged, no answer, the sidecar keeps serving', async () => {
    const connections = (): Promise<number> => new Promise<number>((r) => stack.sidecar.proxy.server.getConnections((_e, n) => r(n)));
    const before = await connections();
    for (const path of ['/v1/chat/completions', '/v1/messages']) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(new URL(stack.sidecar.url).port as unknown as number, '127.0.0.1', () => {
          socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"model":"gpt-4o-mini","messages":[`);
          // Wait until the sidecar holds the connection, then reset it mid-body.
          void expect
            .poll(connections)
            .toBeGreaterThan(before)
            .then(() => {
              socket.resetAndDestroy();
              resolve();
            }, reject);
        });
        socket.on('error', () => undefined);
      });
    }
    await expect.poll(connections).toBe(before);
    // A full request after the aborts: served, and by then the aborted ones were handled.
    const ok = await post('/v1/chat/completions', utf8(chat('"still there?"')));
    expect(ok.status).toBe(200);
    expect(errorsLogged()).toEqual([]);
  });
});

describe('refusals keep their real HTTP status', () => {
  it('a request larger than a whole budget is a 400 without Retry-After, recorded and traced with 400', async () => {
    const big = utf8(chat(JSON.stringify('word '.repeat(60_000))));
    const r = await post('/v1/chat/completions', big, 'u-big');
    expect(r.status).toBe(400);
    expect(r.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_INPUT_TOO_LARGE');
    expect(r.headers['retry-after']).toBeUndefined();
    const record = await stack.recorder.waitFor((c) => c.user === 'u-big');
    expect(record.httpStatus).toBe(400);
    const span = () => stack.spans.getFinishedSpans().find((s) => s.attributes['llm_sidecar.user'] === 'u-big');
    await expect.poll(() => span()?.attributes['http.response.status_code']).toBe(400);
  });

  it('a spent budget is a 429 with a Retry-After, recorded and traced with 429', async () => {
    // Different bodies: the cache would answer a repeated one without touching the budget.
    const body = (i: number) => utf8(`{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":${JSON.stringify(`${i} ${'word '.repeat(8_000)}`)}}]}`);
    let last: RawResponse | undefined;
    for (let i = 0; i < 10 && last?.status !== 429; i++) last = await post('/v1/chat/completions', body(i), 'u-spent');
    expect(last?.status).toBe(429);
    expect(last?.headers['x-llm-sidecar-error']).toBe('LLM_SIDECAR_BUDGET_EXCEEDED');
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    const record = await stack.recorder.waitFor((c) => c.user === 'u-spent' && c.errorCode === 'LLM_SIDECAR_BUDGET_EXCEEDED');
    expect(record.httpStatus).toBe(429);
    const span = () => stack.spans.getFinishedSpans().find((s) => s.attributes['llm_sidecar.user'] === 'u-spent' && s.attributes['llm_sidecar.error.code'] === 'LLM_SIDECAR_BUDGET_EXCEEDED');
    await expect.poll(() => span()?.attributes['http.response.status_code']).toBe(429);
  });
});
