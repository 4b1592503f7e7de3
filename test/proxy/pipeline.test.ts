// The request pipeline as a list (proxy/pipeline/index.ts): the stages run in the documented order,
// identity is resolved for every request (budgets or not), and every request on an LLM path —
// refused, aborted or answered — yields exactly one call record built by the record stage.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLM_STAGES } from '../../proxy/pipeline/index.ts';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack((url) => ({
    listen: { host: '127.0.0.1', port: 0, bodyTimeoutMs: 500 },
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-test-pipeline' } },
    routes: { chat: { models: ['gpt-4o'], targets: [{ provider: 'openai' }] } },
  }));
});

afterAll(async () => {
  await stack?.close();
});

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await request(`${stack.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await res.body.text();
  return { status: res.statusCode, requestId: String(res.headers['x-llm-sidecar-request-id']), headers: res.headers };
}

const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('the stage list', () => {
  it('runs read body → identify → route → budget → cache read → call → cache write, then record', () => {
    expect(LLM_STAGES.map((s) => s.name)).toEqual(['read body', 'identify', 'route', 'budget', 'cache read', 'call', 'cache write']);
  });

  it('is drawn in docs/lifecycle.md in the same order, record last', () => {
    const doc = readFileSync(new URL('../../docs/lifecycle.md', import.meta.url), 'utf8');
    const names = [...LLM_STAGES.map((s) => s.name), 'record'];
    const at = names.map((n, i) => doc.search(new RegExp(`^\\s*${i + 1} ${n}\\b`, 'm')));
    expect(at.every((p) => p >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });
});

describe('every LLM request is recorded once', () => {
  it('a request refused for bad JSON: its 400 is a call record with the code, the stage and the identity', async () => {
    const r = await post('{"model": "gpt-4o", "messages": [', { 'x-llm-sidecar-tenant': ' acme ' });
    expect(r.status).toBe(400);
    const rec = await stack.recorder.byRequestId(r.requestId);
    expect(rec).toMatchObject({ httpStatus: 400, errorCode: 'LLM_SIDECAR_INVALID_JSON', errorType: 'invalid_request', decision: 'refused at read body', tenant: 'acme', attempts: 0, completed: false });
    expect(stack.fake.requests.some((q) => q.rawBody.toString().startsWith('{"model": "gpt-4o", "messages": ['))).toBe(false);
  });

  it('a request naming an unknown route is recorded with UNKNOWN_ROUTE and its model', async () => {
    const r = await post(chat(), { 'x-llm-sidecar-route': 'nope' });
    expect(r.status).toBe(400);
    const rec = await stack.recorder.byRequestId(r.requestId);
    expect(rec).toMatchObject({ httpStatus: 400, errorCode: 'LLM_SIDECAR_UNKNOWN_ROUTE', decision: 'refused at route', requestModel: 'gpt-4o', route: '' });
  });

  it('an answered request has exactly one record', async () => {
    const first = await post(chat());
    expect(first.status).toBe(200);
    await stack.recorder.byRequestId(first.requestId);
    // Records are emitted in the turn of each answer's last write: once the next request's record
    // is in, a second record of the first would be too.
    const second = await post(chat());
    await stack.recorder.byRequestId(second.requestId);
    expect(stack.recorder.calls.filter((c) => c.requestId === first.requestId)).toHaveLength(1);
  });

  it('a client leaving mid-upload is recorded as a client abort (499), not as an error of the sidecar', async () => {
    const id = 'leaves-mid-upload';
    const { port } = new URL(stack.sidecar.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nx-request-id: ${id}\r\n\r\n{"model":"gpt-4o",`);
    // The sidecar has the headers once it answers nothing but holds the socket; the abort is what we test.
    socket.destroy();
    const rec = await stack.recorder.byRequestId(id);
    expect(rec).toMatchObject({ httpStatus: 499, clientAborted: true, errorType: 'client_aborted', attempts: 0 });
    expect(rec.errorCode).toBeUndefined();
  });
  it('a body slower than listen.bodyTimeoutMs: the 408 the app got is the record, with its code', async () => {
    const id = 'trickles-its-body';
    const { port } = new URL(stack.sidecar.url);
    const socket = connect(Number(port), '127.0.0.1');
    let seen = '';
    socket.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nx-request-id: ${id}\r\n\r\n{"model":"gpt-4o",`);
    await closed;
    expect(seen).toMatch(/^HTTP\/1\.1 408 /);
    const rec = await stack.recorder.byRequestId(id);
    expect(rec).toMatchObject({ httpStatus: 408, errorCode: 'LLM_SIDECAR_REQUEST_TIMEOUT', clientAborted: false });
  });
});

describe('identity, always on', () => {
  it('without a budgets section: headers are normalised, the body user is read, defaults fill the rest', async () => {
    const a = await post(chat({ user: 'u-42' }), { 'x-llm-sidecar-tenant': 't'.repeat(300), 'x-llm-sidecar-feature': 'search' });
    const recA = await stack.recorder.byRequestId(a.requestId);
    // An identifier over 128 characters is replaced by a hash of itself (bounded label and key sizes).
    expect(recA).toMatchObject({ tenant: expect.stringMatching(/^sha256:[0-9a-f]{32}$/), user: 'u-42', feature: 'search' });
    const b = await post(chat());
    const recB = await stack.recorder.byRequestId(b.requestId);
    expect(recB).toMatchObject({ tenant: 'default', user: 'anonymous' });
    expect(recB.feature).toBeUndefined();
  });
});
