// The span tree and its attributes, asserted with the SDK's in-memory exporter.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as A from '../../shared/telemetry/semconv.ts';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  stack = await startStack();
  openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: stack.sidecar.url, apiKey: 'sk-ant-test', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.close();
});

/** The three spans of one request, found by the sidecar's request id. */
async function treeFor(requestId: string): Promise<{ server: ReadableSpan; op: ReadableSpan; attempts: ReadableSpan[] }> {
  await stack.recorder.byRequestId(requestId);
  let server: ReadableSpan | undefined;
  await expect.poll(() => (server = stack.spans.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes[A.ATTR_LLM_SIDECAR_REQUEST_ID] === requestId))).toBeDefined();
  const all = stack.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === server!.spanContext().traceId);
  const op = all.find((s) => s.parentSpanContext?.spanId === server!.spanContext().spanId);
  expect(op).toBeDefined();
  const attempts = all.filter((s) => s.parentSpanContext?.spanId === op!.spanContext().spanId);
  return { server: server!, op: op!, attempts };
}

describe('span tree', () => {
  it('OpenAI JSON: SERVER ← gen_ai CLIENT ← attempt, inside the app’s trace, with usage and cost', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const appSpanId = '00f067aa0ba902b7';
    const { data, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', temperature: 0.2, max_tokens: 50, messages: [{ role: 'user', content: 'hello spans' }] }, { headers: { traceparent: `00-${traceId}-${appSpanId}-01`, 'x-llm-sidecar-tenant': 'acme' } })
      .withResponse();
    const { server, op, attempts } = await treeFor(response.headers.get('x-llm-sidecar-request-id')!);
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe(appSpanId);
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(op.name).toBe('chat gpt-4o-mini');
    expect(op.kind).toBe(SpanKind.CLIENT);
    expect(op.attributes).toMatchObject({
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'chat',
      [A.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
      [A.ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o-mini',
      [A.ATTR_GEN_AI_RESPONSE_MODEL]: data.model,
      [A.ATTR_GEN_AI_RESPONSE_ID]: data.id,
      [A.ATTR_GEN_AI_REQUEST_TEMPERATURE]: 0.2,
      [A.ATTR_GEN_AI_REQUEST_MAX_TOKENS]: 50,
      [A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: data.usage!.prompt_tokens,
      [A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: data.usage!.completion_tokens,
      [A.ATTR_LLM_SIDECAR_COST_USD]: response.headers.get('x-llm-sidecar-cost-usd'),
      [A.ATTR_LLM_SIDECAR_TENANT]: 'acme',
      [A.ATTR_LLM_SIDECAR_ROUTE]: 'default',
      [A.ATTR_LLM_SIDECAR_ATTEMPTS]: 1,
      [A.ATTR_SERVER_ADDRESS]: '127.0.0.1',
    });
    expect(op.attributes[A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS]).toEqual(['stop']);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(200);
    expect(attempts[0]!.attributes[A.ATTR_HTTP_REQUEST_RESEND_COUNT]).toBeUndefined();
    // Timing nests: server ⊇ operation ⊇ attempt.
    const t = (s: ReadableSpan, k: 'startTime' | 'endTime') => s[k][0] * 1e9 + s[k][1];
    expect(t(op, 'startTime')).toBeGreaterThanOrEqual(t(server, 'startTime'));
    expect(t(attempts[0]!, 'startTime')).toBeGreaterThanOrEqual(t(op, 'startTime'));
    expect(t(attempts[0]!, 'endTime')).toBeLessThanOrEqual(t(op, 'endTime'));
    expect(op.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('Anthropic stream: cache tokens added to input, time to first chunk recorded', async () => {
    const system = [{ type: 'text' as const, text: `${'Long cached context. '.repeat(200)}${Math.random()}`, cache_control: { type: 'ephemeral' as const } }];
    await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 50, system, messages: [{ role: 'user', content: 'warm the cache' }] });
    const { data: stream, response } = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 50, stream: true, system, messages: [{ role: 'user', content: 'read the cache' }] }).withResponse();
    let start: Anthropic.Messages.Message | undefined;
    for await (const ev of stream) if (ev.type === 'message_start') start = ev.message;
    const { op } = await treeFor(response.headers.get('x-llm-sidecar-request-id')!);
    const u = start!.usage;
    expect(u.cache_read_input_tokens).toBeGreaterThan(0);
    expect(op.attributes[A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]).toBe(u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0));
    expect(op.attributes[A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]).toBe(u.cache_read_input_tokens);
    expect(op.attributes[A.ATTR_GEN_AI_REQUEST_STREAM]).toBe(true);
    expect(op.attributes[A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]).toBeGreaterThan(0);
    expect(op.attributes[A.ATTR_LLM_SIDECAR_STREAM_COMPLETED]).toBe(true);
  });

  it('provider error: the operation fails with error.type = status, the server span stays unset for 4xx', async () => {
    const err = await openai.chat.completions.create({ model: 'gpt-4o-fake-error-429', messages: [{ role: 'user', content: 'x' }] }).then(
      () => {
        throw new Error('expected a provider error');
      },
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    const { server, op, attempts } = await treeFor(err.headers!.get('x-llm-sidecar-request-id')!);
    expect(op.status.code).toBe(SpanStatusCode.ERROR);
    expect(op.attributes[A.ATTR_ERROR_TYPE]).toBe('429');
    expect(attempts[0]!.attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(429);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(429);
  });

  it('client abort mid-stream: error.type client_aborted, stream not completed', async () => {
    const ac = new AbortController();
    const res = await request(`${stack.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { 'content-type': 'application/json', 'x-fake-fault': 'chunk-delay=50,words=100', 'x-request-id': 'abort-me-1' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'go' }] }),
    });
    for await (const _ of res.body) break;
    ac.abort();
    const { op } = await treeFor('abort-me-1');
    expect(op.attributes[A.ATTR_ERROR_TYPE]).toBe('client_aborted');
    expect(op.attributes[A.ATTR_LLM_SIDECAR_STREAM_COMPLETED]).toBe(false);
  });

  it('pass-through paths are traced too', async () => {
    const res = await request(`${stack.sidecar.url}/v1/models`, { headers: { 'x-request-id': 'models-1' } });
    await res.body.text();
    let server: ReadableSpan | undefined;
    await expect.poll(() => (server = stack.spans.getFinishedSpans().find((s) => s.attributes[A.ATTR_LLM_SIDECAR_REQUEST_ID] === 'models-1'))).toBeDefined();
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(server!.attributes[A.ATTR_URL_PATH]).toBe('/v1/models');
    const child = stack.spans.getFinishedSpans().find((s) => s.parentSpanContext?.spanId === server!.spanContext().spanId);
    expect(child?.attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(200);
  });
});
