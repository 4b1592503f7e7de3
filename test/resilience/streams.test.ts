// Streams that end without the provider's end marker, and answers larger than the sidecar holds:
// the app sees an error in its own API (never a clean end), the call is recorded as cut and never
// cached; a large JSON answer streams through whole, with cost and overhead as trailers.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

const LIMIT = 32 * 1024;
let stack: Stack;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  stack = await startStack((url) => ({
    listen: { host: '127.0.0.1', port: 0, maxBufferedResponseBytes: LIMIT },
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-conf' }, anthropic: { type: 'anthropic', baseUrl: url, apiKey: 'sk-ant-conf' } },
    cache: { mode: 'all', ttlSeconds: 60 },
    routes: {
      only: { retry: { maxRetries: 0 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      twice: { retry: { maxRetries: 0 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'openai', model: 'gpt-4o' }] },
      cross: { models: ['cross-*'], retry: { maxRetries: 0 }, targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] },
    },
  }));
  openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-app', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'sk-ant-app', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.close();
});

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2)}`;
const headers = (fault: string, route = 'only') => ({ headers: { 'x-fake-fault': fault, 'x-llm-sidecar-route': route } });

async function drain<T>(it: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const x of it) items.push(x);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

describe('truncated streams are errors', () => {
  // OpenAI chat (usage asked by the sidecar): role, content…, finish chunk, usage chunk, [DONE].
  it.each([
    ['no [DONE]', 'drop-last=1'],
    ['no finish chunk, no usage, no [DONE]', 'drop-last=3'],
  ])('OpenAI stream with %s ends with an error event, is recorded as cut and never cached', async (_name, fault) => {
    const body = { model: 'gpt-4o-mini', stream: true as const, messages: [{ role: 'user' as const, content: unique('one two three') }] };
    const { data: stream, response } = await openai.chat.completions.create(body, headers(`words=6,${fault}`)).withResponse();
    const { items, error } = await drain(stream);
    expect(items.map((c) => c.choices[0]?.delta.content ?? '').join('')).toMatch(/word0/); // content arrived…
    expect(error).toBeInstanceOf(OpenAI.APIError); // …and the SDK was told it is not the whole answer
    expect(String((error as Error).message)).toMatch(/cut before it completed: it ended without a finish chunk and \[DONE\]/);
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(rec).toMatchObject({ errorCode: 'LLM_SIDECAR_UPSTREAM_STREAM_CUT', errorType: 'upstream_stream_cut', completed: false, cacheStatus: 'miss' });
    // The same request again (no fault): a miss, so the cut answer was not cached.
    const again = await openai.chat.completions.create(body, { headers: { 'x-llm-sidecar-route': 'only' } }).withResponse();
    await drain(again.data);
    expect(again.response.headers.get('x-llm-sidecar-cache')).toBe('miss');
  });

  it('an Anthropic stream without message_stop ends with an error event; the SDK throws', async () => {
    const req = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: unique('one two three four') }] };
    const err = await anthropic.messages.stream(req, { headers: { 'x-fake-fault': 'drop-last=1' } }).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toMatch(/ended without message_stop/);
    const rec = await stack.recorder.waitFor((r) => r.dialect === 'anthropic' && r.errorCode === 'LLM_SIDECAR_UPSTREAM_STREAM_CUT' && r.requestParams !== undefined);
    expect(rec.completed).toBe(false);
    expect(rec.usage?.inputTokens).toBeGreaterThan(0); // what was read before the cut is kept
  });

  it('a Responses API stream without response.completed ends with an error event', async () => {
    const stream = await openai.responses.create({ model: 'gpt-4o-mini', input: unique('one two three'), stream: true }, { headers: { 'x-fake-fault': 'words=5,drop-last=1', 'x-llm-sidecar-route': 'only' } });
    const { items, error } = await drain(stream);
    expect(items.some((e) => e.type === 'response.output_text.delta')).toBe(true);
    expect(items.some((e) => e.type === 'response.completed')).toBe(false);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/ended without response.completed/);
  });

  it('a stream that ends cleanly before any content is a failed attempt: the next target is tried; on the last one the app gets the error event', async () => {
    // Every event dropped: a 200 with an empty body. The fault header reaches both targets, so both fail.
    // The last attempt commits at its headers (no retry could follow, and holding them would trip the
    // app's own headers timeout on a long-thinking model), so its failure is an error event.
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'x', stream: true, messages: [{ role: 'user', content: unique('fall back') }] }, headers('drop-last=100', 'twice'))
      .withResponse();
    const { items, error } = await drain(stream);
    expect(items).toHaveLength(0);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/ended without a finish chunk and \[DONE\]/);
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(rec.attemptDetails.map((a) => `${a.model}:${a.errorType}`)).toEqual(['gpt-4o-mini:upstream_stream_cut', 'gpt-4o:upstream_stream_cut']);
    expect(rec).toMatchObject({ errorCode: 'LLM_SIDECAR_UPSTREAM_STREAM_CUT', fallbackIndex: 1, completed: false });
  });
});

describe('answers larger than listen.maxBufferedResponseBytes', () => {
  it('a large chat answer streams through whole, with cost and overhead as trailers (never a 502)', async () => {
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app', 'x-fake-fault': 'words=20000', 'x-llm-sidecar-route': 'only' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: unique('big') }] }),
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text.length).toBeGreaterThan(4 * LIMIT);
    const json = JSON.parse(text) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(json.choices[0]?.message.content.split(' ')).toHaveLength(20000);
    expect(res.headers['x-llm-sidecar-cost-usd']).toBeUndefined(); // not known when the headers left…
    expect(res.trailers['x-llm-sidecar-cost-usd']).toMatch(/^\d+(\.\d+)?$/); // …but in the trailers
    expect(Number(res.trailers['x-llm-sidecar-overhead-ms'])).toBeGreaterThanOrEqual(0);
    const rec = await stack.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    expect(rec).toMatchObject({ httpStatus: 200, completed: true, responseModel: 'gpt-4o-mini' });
    expect(rec.errorCode).toBeUndefined();
    expect(rec.usage?.outputTokens).toBe(json.usage.completion_tokens);
    expect(rec.finishReasons).toEqual(['stop']);
  });

  it('a large embeddings batch through the SDK: every vector, usage read from the tail', async () => {
    const input = Array.from({ length: 400 }, (_, i) => `text number ${i}`);
    const { data, response } = await openai.embeddings.create({ model: 'text-embedding-3-small', input, dimensions: 32, encoding_format: 'float' }, { headers: { 'x-llm-sidecar-route': 'only' } }).withResponse();
    expect(data.data).toHaveLength(400);
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(rec.httpStatus).toBe(200);
    expect(rec.usage?.inputTokens).toBe(data.usage.prompt_tokens);
  });

  it('an Anthropic message larger than the limit: whole, usage and stop reason read', async () => {
    const { data, response } = await anthropic.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 4000, messages: [{ role: 'user', content: unique('big') }] }, { headers: { 'x-fake-fault': 'words=20000' } })
      .withResponse();
    expect(data.content[0]?.type === 'text' && data.content[0].text.split(' ')).toHaveLength(20000);
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(rec.usage?.outputTokens).toBe(data.usage.output_tokens);
    expect(rec.finishReasons).toEqual([data.stop_reason]);
  });

  it('a large answer cut mid-body: the app’s connection is cut too (half a JSON document is never a 200 body), recorded with the cause', async () => {
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fake-fault': 'words=20000,cut=1', 'x-llm-sidecar-route': 'only' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: unique('big cut') }] }),
    });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();
    const rec = await stack.recorder.byRequestId(res.headers['x-llm-sidecar-request-id'] as string);
    expect(rec).toMatchObject({ errorCode: 'LLM_SIDECAR_UPSTREAM_CONNECTION_RESET', completed: false });
  });

  it('a large answer that must be translated (another API) fails with its own code, not a reset', async () => {
    const err = await openai.chat.completions.create({ model: 'cross-model', messages: [{ role: 'user', content: unique('big') }] }, { headers: { 'x-fake-fault': 'words=20000' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('LLM_SIDECAR_UPSTREAM_RESPONSE_TOO_LARGE');
  });
});
