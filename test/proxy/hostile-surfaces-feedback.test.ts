// Attacks on POST /llm-sidecar/v1/feedback (proxy/feedback-endpoint.ts): hostile strings in the
// stored fields, invalid UTF-8, deep nesting, forged ids and floods. A real sidecar with the
// embedded ClickHouse, the official OpenAI SDK making the call the feedback is about.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';

const hasChdb = await chdbAvailable();

describe.skipIf(!hasChdb)('hostile feedback', () => {
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
      telemetry: { clickhouse: { dataDir: mkdtempSync(join(tmpdir(), 'hfeedback-')) }, spool: { dir: mkdtempSync(join(tmpdir(), 'hfeedback-spool-')) } },
    });
    sidecar = await startSidecar(config);
    await sidecar.telemetry.migrated;
    store = sidecar.telemetry.store as ClickHouseStore;
    openai = new OpenAI({ baseURL: `${sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  }, 120_000);

  afterAll(async () => {
    await sidecar?.close(1_000);
    await fake?.close();
  });

  async function call(): Promise<string> {
    const { response } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Where is my order?' }] }).withResponse();
    return response.headers.get('x-llm-sidecar-request-id') as string;
  }

  const postRaw = (body: string | Buffer) =>
    fetch(`${sidecar.url}/llm-sidecar/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const post = (body: unknown) => postRaw(JSON.stringify(body));

  const code = async (r: Response) => ((await r.json()) as { error?: { code?: string; message?: string } }).error;
  const stored = (user: string) => store.query<{ User: string; Comment: string }>('SELECT User, Comment FROM otel.llm_feedback FINAL WHERE User = {u:String}', { u: user });

  // Before: a lone surrogate in the comment was accepted by the schema and refused by ClickHouse, so
  // the app got 503 LLM_SIDECAR_FEEDBACK_UNAVAILABLE ("retry") for a body that can never be stored;
  // invalid UTF-8 bytes were stored as U+FFFD.
  it('refuses text that is not text (lone surrogates, invalid UTF-8) with a 400 naming the field', async () => {
    const requestId = await call();
    const loneComment = await postRaw(`{"requestId":"${requestId}","name":"thumbs","value":1,"user":"u-lone","comment":"a\\ud800b"}`);
    expect(loneComment.status).toBe(400);
    expect(await code(loneComment)).toMatchObject({ code: 'LLM_SIDECAR_INVALID_FEEDBACK', message: expect.stringMatching(/comment: a lone UTF-16 surrogate/) });
    const loneUser = await postRaw(`{"requestId":"${requestId}","name":"thumbs","value":1,"user":"x\\udfff"}`);
    expect(loneUser.status).toBe(400);
    expect(await code(loneUser)).toMatchObject({ code: 'LLM_SIDECAR_INVALID_FEEDBACK', message: expect.stringMatching(/user: a lone UTF-16 surrogate/) });
    const badBytes = Buffer.concat([Buffer.from(`{"requestId":"${requestId}","name":"thumbs","value":1,"user":"u-bytes","comment":"`), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]);
    const bytes = await postRaw(badBytes);
    expect(bytes.status).toBe(400);
    expect(await code(bytes)).toMatchObject({ code: 'LLM_SIDECAR_INVALID_FEEDBACK', message: expect.stringMatching(/not valid JSON \(or not UTF-8\)/) });
    expect(await stored('u-lone')).toEqual([]);
    expect(await stored('u-bytes')).toEqual([]);

    // Real text outside the BMP (a surrogate pair) is stored as sent.
    const ok = await post({ requestId, name: 'thumbs', value: 1, user: 'u-emoji', comment: 'bad answer \u{1F44E} 改善' });
    expect(ok.status).toBe(202);
    expect(await stored('u-emoji')).toEqual([{ User: 'u-emoji', Comment: 'bad answer \u{1F44E} 改善' }]);
  });

  it('held: deep nesting, __proto__, huge numbers and oversized bodies are 4xx of ours', async () => {
    const cases: [string, number, string][] = [
      ['['.repeat(8000) + ']'.repeat(8000), 400, 'LLM_SIDECAR_INVALID_FEEDBACK'],
      ['{"a":'.repeat(3000) + '1' + '}'.repeat(3000), 413, 'LLM_SIDECAR_BODY_TOO_LARGE'],
      ['{"traceId":"' + 'a'.repeat(32) + '","name":"thumbs","value":1,"__proto__":{"user":"x"}}', 400, 'LLM_SIDECAR_INVALID_FEEDBACK'],
      ['{"traceId":"' + 'a'.repeat(32) + '","name":"thumbs","value":1e400}', 400, 'LLM_SIDECAR_INVALID_FEEDBACK'],
    ];
    for (const [body, status, errorCode] of cases) {
      const r = await postRaw(body);
      expect(r.status, body.slice(0, 40)).toBe(status);
      expect((await code(r))?.code, body.slice(0, 40)).toBe(errorCode);
    }
  });

  it('held: a flood of forged trace ids is 404 for each, writes nothing, and real feedback still lands', async () => {
    const [before] = await store.query<{ n: string }>('SELECT count() AS n FROM otel.llm_feedback');
    const forged = await Promise.all(Array.from({ length: 200 }, (_, k) => post({ traceId: (k + 1).toString(16).padStart(32, 'a'), name: 'thumbs', value: 1, user: 'flood' })));
    expect(new Set(forged.map((r) => r.status))).toEqual(new Set([404]));
    expect((await code(forged[0] as Response))?.code).toBe('LLM_SIDECAR_UNKNOWN_CALL');
    const [after] = await store.query<{ n: string }>('SELECT count() AS n FROM otel.llm_feedback');
    expect(after?.n).toBe(before?.n);
    expect((await post({ requestId: await call(), name: 'thumbs', value: -1, user: 'after-flood' })).status).toBe(202);
  });
});
