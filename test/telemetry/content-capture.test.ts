// Content for evaluation: only sampled calls carry prompt and answer, in the semconv message
// schema, after redaction; sampling is a pure function of the trace id.
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../shared/telemetry/redact.ts';
import * as A from '../../shared/telemetry/semconv.ts';
import { sampledByTraceId } from '../../proxy/telemetry/content.ts';
import { startStack, type Stack } from '../stack.ts';

let sampled: Stack;
let unsampled: Stack;

const providers = (url: string) => ({ openai: { type: 'openai', baseUrl: `${url}/v1` }, anthropic: { type: 'anthropic', baseUrl: url } });

beforeAll(async () => {
  sampled = await startStack((url) => ({ providers: providers(url), evaluation: { sampleRate: 1, redaction: { patterns: ['ACME-\\d{6}'] } } }));
  unsampled = await startStack((url) => ({ providers: providers(url), evaluation: { sampleRate: 0 } }));
});

afterAll(async () => {
  await sampled?.close();
  await unsampled?.close();
});

async function opSpan(stack: Stack, requestId: string): Promise<ReadableSpan> {
  await stack.recorder.byRequestId(requestId);
  let op: ReadableSpan | undefined;
  await expect.poll(() => (op = stack.spans.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT && s.attributes[A.ATTR_LLM_SIDECAR_REQUEST_ID] === requestId && s.attributes[A.ATTR_GEN_AI_OPERATION_NAME] !== undefined))).toBeDefined();
  return op!;
}

const SECRET_PROMPT = 'My key is sk-proj-abcdefghijklmnopqrstuvwx and my mail is jane.doe@example.com, card 4111 1111 1111 1111, ticket ACME-123456';

describe('content capture for evaluation', () => {
  it('a sampled JSON call carries redacted input, system instructions and output in the semconv schema', async () => {
    const client = new OpenAI({ baseURL: `${sampled.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: SECRET_PROMPT }] })
      .withResponse();
    const op = await opSpan(sampled, response.headers.get('x-llm-sidecar-request-id')!);
    expect(op.attributes[A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]).toBe(true);
    const input = JSON.parse(op.attributes[A.ATTR_GEN_AI_INPUT_MESSAGES] as string) as { role: string; parts: { type: string; content: string }[] }[];
    expect(input).toEqual([{ role: 'user', parts: [{ type: 'text', content: expect.stringContaining('[REDACTED:api_key]') }] }]);
    const all = JSON.stringify(op.attributes);
    for (const leaked of ['sk-proj-abcdefghijklmnopqrstuvwx', 'jane.doe@example.com', '4111 1111 1111 1111', 'ACME-123456']) expect(all).not.toContain(leaked);
    expect(all).toContain('[REDACTED:email]');
    expect(all).toContain('[REDACTED:card_number]');
    expect(all).toContain('[REDACTED:custom_1]');
    expect(JSON.parse(op.attributes[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] as string)).toEqual([{ type: 'text', content: 'Be brief.' }]);
    const output = JSON.parse(op.attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES] as string) as { role: string; parts: { content: string }[]; finish_reason: string }[];
    expect(output[0]).toMatchObject({ role: 'assistant', finish_reason: 'stop' });
    expect(output[0]!.parts[0]!.content).toBe(new Redactor(['ACME-\\d{6}']).redact(data.choices[0]!.message.content!));
  });

  it('a sampled stream is assembled into the output message (Anthropic and OpenAI)', async () => {
    const anthropic = new Anthropic({ baseURL: sampled.sidecar.url, apiKey: 'sk-ant-test', maxRetries: 0 });
    const { data: stream, response } = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, stream: true, system: 'You are terse.', messages: [{ role: 'user', content: 'tell me about tides' }] }).withResponse();
    let text = '';
    for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    const op = await opSpan(sampled, response.headers.get('x-llm-sidecar-request-id')!);
    expect(JSON.parse(op.attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES] as string)).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: 'end_turn' }]);
    expect(JSON.parse(op.attributes[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] as string)).toEqual([{ type: 'text', content: 'You are terse.' }]);

    const openai = new OpenAI({ baseURL: `${sampled.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const final = await openai.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }] }).finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    const rec = await sampled.recorder.waitFor((r) => r.stream && r.dialect === 'openai' && r.finishReasons?.[0] === 'tool_calls');
    const op2 = await opSpan(sampled, rec.requestId);
    const out = JSON.parse(op2.attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES] as string) as { parts: { type: string; name: string; arguments: string }[] }[];
    expect(out[0]!.parts).toEqual([{ type: 'tool_call', id: call.id, name: 'get_weather', arguments: call.type === 'function' ? call.function.arguments : '' }]);
  });

  it('an unsampled call carries no content at all', async () => {
    const client = new OpenAI({ baseURL: `${unsampled.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: SECRET_PROMPT }] }).withResponse();
    const op = await opSpan(unsampled, response.headers.get('x-llm-sidecar-request-id')!);
    expect(op.attributes[A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]).toBe(false);
    expect(op.attributes[A.ATTR_GEN_AI_INPUT_MESSAGES]).toBeUndefined();
    expect(op.attributes[A.ATTR_GEN_AI_OUTPUT_MESSAGES]).toBeUndefined();
    expect(JSON.stringify(op.attributes)).not.toContain('jane.doe');
  });

  it('judge traffic is never sampled, and the trace id decides sampling deterministically', async () => {
    const client = new OpenAI({ baseURL: `${sampled.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'judge this' }] }, { headers: { 'x-llm-sidecar-feature': 'judge' } }).withResponse();
    const op = await opSpan(sampled, response.headers.get('x-llm-sidecar-request-id')!);
    expect(op.attributes[A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]).toBe(false);
    expect(sampledByTraceId('4bf92f3577b34da6a3ce929d00000000', 0.01)).toBe(true);
    expect(sampledByTraceId('4bf92f3577b34da6a3ce929dffffffff', 0.99)).toBe(false);
    const ids = Array.from({ length: 4000 }, (_, i) => (i * 2654435761 % 2 ** 32).toString(16).padStart(32, '0'));
    const share = ids.filter((id) => sampledByTraceId(id, 0.25)).length / ids.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
  });
});

describe('redaction rules', () => {
  const r = new Redactor();
  it('masks credentials, e-mails, phone numbers and Luhn-valid card numbers, and leaves ordinary numbers', () => {
    expect(r.redact('Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345')).toBe('Authorization: [REDACTED:bearer_token]');
    expect(r.redact('key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA and AKIAABCDEFGHIJKLMNOP')).toBe('key [REDACTED:api_key] and [REDACTED:api_key]');
    expect(r.redact('call +44 20 7946 0958 now')).toBe('call [REDACTED:phone] now');
    expect(r.redact('card 4242424242424242')).toBe('card [REDACTED:card_number]');
    expect(r.redact('order 1234567890123 of 2026')).toBe('order 1234567890123 of 2026');
    expect(r.redact('a@b.co')).toBe('[REDACTED:email]');
    expect(r.redact('US (415) 555-2671')).toBe('US [REDACTED:phone]');
  });
});
