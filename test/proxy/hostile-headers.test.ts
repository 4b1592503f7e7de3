// Request headers an app may legitimately send that the sidecar must not pass on as they came.
// `Expect: 100-continue` (curl sends it for large bodies; so do .NET and Java clients): Node answers
// the `100 Continue` itself, but the header went upstream too, where undici refuses it — every such
// request was a 502 UPSTREAM_CONNECTION_RESET of the sidecar's own, counted as a provider failure,
// so a few of them opened the route's circuit breaker for every app (503 CIRCUIT_OPEN for 30 s).
// `Content-Encoding` on an LLM body the sidecar read as plain JSON: the bytes forwarded are that
// JSON, so a `gzip` label upstream was a lie the provider would refuse.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack((url) => ({
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-test-hostile-headers' } },
    routes: { chat: { models: ['gpt-4o-mini'], targets: [{ provider: 'openai' }], retry: { maxRetries: 0 }, breaker: { minRequests: 5 } } },
  }));
});

afterAll(async () => {
  await stack?.close();
});

interface Raw {
  status: number;
  statuses: number[];
  headers: string;
  body: string;
}

/** One request on its own socket, the body sent after the headers; every status line read back (a 100 first). */
function raw(path: string, extraHeaders: string, body: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(stack.sidecar.url).port), '127.0.0.1');
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString('utf8')));
    socket.on('error', reject);
    socket.on('end', () => {
      const statuses = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      const last = out.lastIndexOf('HTTP/1.1 ');
      const head = out.slice(last, out.indexOf('\r\n\r\n', last));
      resolve({ status: statuses.at(-1) ?? 0, statuses, headers: head, body: out.slice(out.indexOf('\r\n\r\n', last) + 4) });
    });
    socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extraHeaders}\r\n`);
    socket.write(body);
  });
}

const chat = (content: string): string => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

describe('Expect: 100-continue', () => {
  it('an LLM request that expects 100-continue is answered (the expectation is met here, not sent upstream)', async () => {
    const r = await raw('/v1/chat/completions', 'expect: 100-continue\r\n', chat('x'.repeat(2_000)));
    expect(r.statuses).toEqual([100, 200]);
    expect(r.headers).not.toContain('x-llm-sidecar-error');
    const upstream = stack.fake.requests.at(-1);
    expect(upstream?.headers.expect).toBeUndefined();
  });

  it('so does a pass-through request', async () => {
    const r = await raw('/v1/files', 'expect: 100-continue\r\n', '{"purpose":"batch"}');
    expect(r.statuses[0]).toBe(100);
    expect(r.headers).not.toContain('x-llm-sidecar-error');
  });

  it('a burst of them does not open the circuit breaker for everyone else', async () => {
    const burst: number[] = [];
    for (let i = 0; i < 12; i++) burst.push((await raw('/v1/chat/completions', 'expect: 100-continue\r\n', chat(`burst ${i}`))).status);
    const plain = await raw('/v1/chat/completions', '', chat('after the burst'));
    expect({ plain: plain.status, code: /x-llm-sidecar-error: (\S+)/.exec(plain.headers)?.[1] }).toEqual({ plain: 200, code: undefined });
    expect(burst.every((s) => s === 200)).toBe(true);
  });
});

describe('Content-Encoding on an LLM body', () => {
  it('a body read as plain JSON is forwarded without a compression label it does not have', async () => {
    const r = await raw('/v1/chat/completions', 'content-encoding: gzip\r\n', chat('labelled gzip, sent plain'));
    expect(r.status).toBe(200);
    const upstream = stack.fake.requests.at(-1);
    expect(upstream?.rawBody.toString('utf8')).toContain('labelled gzip, sent plain');
    expect(upstream?.headers['content-encoding']).toBeUndefined();
  });
});
