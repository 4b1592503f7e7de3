// Feedback over HTTP (POST /llm-sidecar/v1/feedback) and `llm-sidecar feedback`, end to end: a real
// sidecar with the embedded ClickHouse in front of the fake provider, the official OpenAI SDK
// making the call, the feedback sent right after the answer (its spans not stored yet), rows read
// back from llm_feedback. Every bad input is a 400/404/405/413 of ours with a stable code.
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFeedbackCommand } from '../../cli/feedback-command.ts';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { startStack, type Stack } from '../stack.ts';

const hasChdb = await chdbAvailable();

interface Row {
  TraceId: string;
  SpanId: string;
  User: string;
  Name: string;
  Score: number;
  Label: string;
  Comment: string;
  Source: string;
}

describe.skipIf(!hasChdb)('POST /llm-sidecar/v1/feedback (embedded store)', () => {
  let fake: FakeProvider;
  let sidecar: RunningSidecar;
  let store: ClickHouseStore;
  let openai: OpenAI;

  beforeAll(async () => {
    fake = await startFakeProvider();
    const config = parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      providers: { openai: { type: 'openai', baseUrl: `${fake.url}/v1` } },
      telemetry: { clickhouse: { dataDir: mkdtempSync(join(tmpdir(), 'feedback-')) }, spool: { dir: mkdtempSync(join(tmpdir(), 'feedback-spool-')) } },
    });
    sidecar = await startSidecar(config);
    await sidecar.telemetry.migrated;
    store = sidecar.telemetry.store as ClickHouseStore;
    openai = new OpenAI({ baseURL: `${sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  });

  afterAll(async () => {
    await sidecar?.close(1_000);
    await fake?.close();
  });

  async function call(): Promise<string> {
    const { response } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Where is my order?' }] }).withResponse();
    return response.headers.get('x-llm-sidecar-request-id') as string;
  }

  const post = (body: unknown, init: RequestInit = {}) =>
    fetch(`${sidecar.url}/llm-sidecar/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });

  const rows = (traceId: string) =>
    store.query<Row>(`SELECT TraceId, SpanId, User, Name, Score, Label, Comment, Source FROM otel.llm_feedback FINAL WHERE TraceId = {t:String} ORDER BY Name, User`, { t: traceId });

  it('stores feedback sent right after the answer against the call, idempotent per call, name and user', async () => {
    const requestId = await call();
    // Sent before the spans were exported: the endpoint pushes them out, then finds the call.
    const res = await post({ requestId, name: 'thumbs', value: -1, user: 'ana', comment: 'wrong order number' });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-llm-sidecar-request-id')).toBeTruthy();
    const accepted = (await res.json()) as { traceId: string; spanId: string; name: string; user: string };
    const [llmCall] = await store.query<{ TraceId: string; SpanId: string }>(`SELECT TraceId, SpanId FROM otel.llm_calls WHERE TraceId = {t:String}`, { t: accepted.traceId });
    expect(accepted).toMatchObject({ status: 'accepted', traceId: llmCall?.TraceId, spanId: llmCall?.SpanId, name: 'thumbs', user: 'ana' });

    // The same feedback again, then a change of mind: still one row, the latest value.
    expect((await post({ requestId, name: 'thumbs', value: -1, user: 'ana' })).status).toBe(202);
    expect((await post({ requestId, name: 'thumbs', value: 1, user: 'ana' })).status).toBe(202);
    // Another name, another user, a label: rows of their own; by trace id works as well.
    expect((await post({ traceId: accepted.traceId, name: 'stars', value: 4, user: 'ana' })).status).toBe(202);
    expect((await post({ requestId, name: 'thumbs', value: -1, user: 'bo' })).status).toBe(202);
    expect((await post({ requestId, name: 'issue', value: 'wrong-order' })).status).toBe(202);

    const stored = await rows(accepted.traceId);
    expect(stored.map((r) => [r.Name, r.User, r.Score, r.Label, r.SpanId, r.Source])).toEqual([
      ['issue', '', 0, 'wrong-order', llmCall?.SpanId, 'http'],
      ['stars', 'ana', 4, '', llmCall?.SpanId, 'http'],
      ['thumbs', 'ana', 1, '', llmCall?.SpanId, 'http'],
      ['thumbs', 'bo', -1, '', llmCall?.SpanId, 'http'],
    ]);
  });

  it('answers bad input with a 400 naming every bad field, never a 5xx', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"name": "thumbs",', /not valid JSON/],
      [[1, 2], /expected object/i],
      [{ name: 'thumbs', value: 1 }, /exactly one of requestId or traceId/],
      [{ requestId: 'r1', traceId: 'a'.repeat(32), name: 'thumbs', value: 1 }, /exactly one of requestId or traceId/],
      [{ traceId: 'XYZ', name: 'thumbs', value: 1 }, /traceId: a trace id is 32 lowercase hex digits/],
      [{ requestId: 'r1', name: 'has spaces', value: 0.5 }, /name: .*value/s],
      [{ requestId: 'r1', name: 'thumbs', value: 1000 }, /value/],
      [{ requestId: 'r1', name: 'thumbs', value: 1, apiKey: 'sk-x' }, /Unrecognized key/i],
      [{ requestId: 'r1', name: 'thumbs', value: 1, user: ' ' }, /user/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      const json = (await res.json()) as { error: { message: string; code: string } };
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_INVALID_FEEDBACK');
      expect(json.error.code).toBe('LLM_SIDECAR_INVALID_FEEDBACK');
      expect(json.error.message, JSON.stringify(body)).toMatch(message);
    }
  });

  it('refuses other methods (405 with Allow), oversized bodies (413) and unknown calls (404)', async () => {
    const get = await fetch(`${sidecar.url}/llm-sidecar/v1/feedback`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(get.headers.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_METHOD_NOT_ALLOWED');

    const big = await post({ requestId: 'r1', name: 'thumbs', value: 1, comment: 'x'.repeat(20_000) });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_BODY_TOO_LARGE');

    const unknownRequest = await post({ requestId: 'no-such-request', name: 'thumbs', value: 1 });
    expect(unknownRequest.status).toBe(404);
    expect(unknownRequest.headers.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_UNKNOWN_CALL');
    const unknownTrace = await post({ traceId: 'f'.repeat(32), name: 'thumbs', value: 1 });
    expect(unknownTrace.status).toBe(404);
    expect(((await unknownTrace.json()) as { error: { message: string } }).error.message).toMatch(/trace id f{32}/);
  });

  it('llm-sidecar feedback posts through the sidecar: 0 stored, 1 refused, 2 bad arguments', async () => {
    const requestId = await call();
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await runFeedbackCommand({ url: sidecar.url, requestId, name: 'thumbs', value: '-1', user: 'cy', comment: 'from a script' }, io)).toBe(0);
    const accepted = JSON.parse(out.join('')) as { traceId: string };
    expect((await rows(accepted.traceId)).map((r) => [r.User, r.Score, r.Comment])).toEqual([['cy', -1, 'from a script']]);

    expect(await runFeedbackCommand({ url: sidecar.url, requestId, name: 'verdict', value: 'hallucination' }, io)).toBe(0);
    expect((await rows(accepted.traceId)).find((r) => r.Name === 'verdict')?.Label).toBe('hallucination');

    expect(await runFeedbackCommand({ url: sidecar.url, name: 'thumbs', value: '1' }, io)).toBe(2);
    expect(err.pop()).toMatch(/exactly one of requestId or traceId/);
    expect(await runFeedbackCommand({ url: sidecar.url, requestId: 'no-such-request', name: 'thumbs', value: '1' }, io)).toBe(1);
    expect(err.pop()).toMatch(/HTTP 404 LLM_SIDECAR_UNKNOWN_CALL/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await runFeedbackCommand({ url: `http://127.0.0.1:${port}`, requestId, name: 'thumbs', value: '1' }, io)).toBe(1);
    expect(err.pop()).toMatch(/cannot reach the sidecar at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});

describe('feedback without a store', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 503 LLM_SIDECAR_FEEDBACK_UNAVAILABLE naming the setting', async () => {
    const res = await fetch(`${stack.sidecar.url}/llm-sidecar/v1/feedback`, { method: 'POST', body: JSON.stringify({ traceId: 'a'.repeat(32), name: 'thumbs', value: 1 }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-llm-sidecar-error')).toBe('LLM_SIDECAR_FEEDBACK_UNAVAILABLE');
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/telemetry\.clickhouse\.mode is off/);
  });
});
