import { describe, expect, it } from 'vitest';
import { BudgetsSchema } from '../../shared/config/budgets.ts';
import { applyRequestLimits, estimateInputTokens, requestLimitsFor, requestShapeOf, type JsonObject, type LimitsApplied, type RequestShape, type RouteRequestLimits } from '../../proxy/budget/limits.ts';

const perChar = (t: string): number => t.length;
const trim = (maxInputTokens: number, maxOutputTokens?: number): RouteRequestLimits => ({ maxInputTokens, maxOutputTokens, onInputOverLimit: 'trim' });

function ok(r: ReturnType<typeof applyRequestLimits>): LimitsApplied {
  if (!r.ok) throw new Error(`rejected: ${r.message}`);
  return r;
}

const SYSTEM = 'You are a careful assistant. '.repeat(4);

const chat = (): JsonObject => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: 'first question '.repeat(10) },
    { role: 'assistant', content: 'first answer '.repeat(10) },
    { role: 'user', content: 'what is the weather in Paris and Rome?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }, { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 21C' },
    { role: 'tool', tool_call_id: 'call_2', content: 'cloudy, 17C' },
    { role: 'assistant', content: 'Paris is sunny, Rome is cloudy.' },
    { role: 'developer', content: 'Answer briefly.' },
    { role: 'user', content: 'and tomorrow?' },
  ],
});

const anthropic = (): JsonObject => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: 'look up order 42 please '.repeat(5) },
    { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'orders', input: { id: 42 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'shipped yesterday' }] },
    { role: 'assistant', content: 'It shipped yesterday.' },
    { role: 'user', content: [{ type: 'text', text: 'thanks, and order 43?' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_2', name: 'orders', input: { id: 43 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: 'processing' }, { type: 'text', text: 'hurry' }] },
  ],
});

const responses = (): JsonObject => ({
  model: 'o4-mini',
  instructions: SYSTEM,
  input: [
    { role: 'developer', content: 'Use metric units.' },
    { role: 'user', content: 'weather in Oslo? '.repeat(6) },
    { type: 'reasoning', id: 'rs_1', summary: [] },
    { type: 'function_call', call_id: 'fc_1', name: 'weather', arguments: '{"city":"Oslo"}' },
    { type: 'function_call_output', call_id: 'fc_1', output: '-3C' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is -3C in Oslo.' }] },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'and Bergen?' }] },
  ],
});

const LIST: Record<Exclude<RequestShape, 'openai-embeddings'>, string> = { 'openai-chat': 'messages', 'anthropic-messages': 'messages', 'openai-responses': 'input' };

/** Invariants of any trimmed conversation. */
function checkInvariants(shape: Exclude<RequestShape, 'openai-embeddings'>, original: JsonObject, result: LimitsApplied, max: number): void {
  const before = original[LIST[shape]] as JsonObject[];
  const after = result.body[LIST[shape]] as JsonObject[];
  const isPinned = (m: JsonObject): boolean => shape !== 'anthropic-messages' && (m.type === undefined || m.type === 'message') && (m.role === 'system' || m.role === 'developer');
  // System prompts all kept, in order, plus a suffix of the conversation.
  expect(after.filter(isPinned)).toEqual(before.filter(isPinned));
  const convBefore = before.filter((m) => !isPinned(m));
  const convAfter = after.filter((m) => !isPinned(m));
  expect(convAfter).toEqual(convBefore.slice(convBefore.length - convAfter.length));
  expect(convAfter.length).toBeGreaterThan(0);
  expect(convAfter.at(-1)).toBe(convBefore.at(-1));
  if (convAfter.length < convBefore.length) expect(convAfter[0]?.role).toBe('user');
  if (shape === 'anthropic-messages') expect(result.body.system).toBe(original.system);
  if (shape === 'openai-responses') expect(result.body.instructions).toBe(original.instructions);
  // No orphans: every call has its result and every result its call.
  const calls = new Set<string>();
  const results = new Set<string>();
  for (const m of after) {
    if (Array.isArray(m.tool_calls)) for (const c of m.tool_calls as JsonObject[]) calls.add(c.id as string);
    if (typeof m.tool_call_id === 'string') results.add(m.tool_call_id);
    if (m.type === 'function_call') calls.add(m.call_id as string);
    if (m.type === 'function_call_output') results.add(m.call_id as string);
    if (Array.isArray(m.content)) {
      for (const b of m.content as JsonObject[]) {
        if (b.type === 'tool_use') calls.add(b.id as string);
        if (b.type === 'tool_result') results.add(b.tool_use_id as string);
      }
    }
  }
  expect([...results].sort()).toEqual([...calls].sort());
  // A reasoning item is followed by the item it belongs to.
  after.forEach((m, i) => {
    if (m.type === 'reasoning') expect(after[i + 1]?.type).toBe('function_call');
  });
  expect(result.inputTokens).toBeLessThanOrEqual(max);
  expect(result.inputTokens).toBe(estimateInputTokens(shape, result.body, perChar));
}

describe('per-request limits: trimming', () => {
  for (const [shape, make] of [
    ['openai-chat', chat],
    ['anthropic-messages', anthropic],
    ['openai-responses', responses],
  ] as const) {
    it(`${shape}: every maxInputTokens either keeps the system prompt, the newest turns and whole tool pairs, or rejects`, () => {
      const body = make();
      const snapshot = JSON.stringify(body);
      const full = estimateInputTokens(shape, body, perChar);
      let trimmedSome = 0;
      let rejected = 0;
      for (let max = 1; max <= full + 5; max++) {
        const r = applyRequestLimits(shape, body, trim(max), { estimate: perChar });
        if (!r.ok) {
          rejected++;
          expect(r).toMatchObject({ code: 'input_too_large', inputTokens: full, limit: max });
          continue;
        }
        checkInvariants(shape, body, r, max);
        if (r.trimmed) {
          trimmedSome++;
          expect(r.trimmed.inputTokensBefore).toBe(full);
          expect(r.changed).toBe(true);
        }
      }
      expect(trimmedSome).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
      expect(JSON.stringify(body)).toBe(snapshot); // input never mutated
    });
  }

  it('anthropic: a tool_result in a user message is never the first kept message', () => {
    const body = anthropic();
    const msgs = body.messages as JsonObject[];
    // Budget that would fit messages[2..] but not [1..]: the cut must move to the next real turn.
    const from = (i: number): number => estimateInputTokens('anthropic-messages', { ...body, messages: msgs.slice(i) }, perChar);
    const r = ok(applyRequestLimits('anthropic-messages', body, trim(from(2)), { estimate: perChar }));
    expect(r.body.messages).toEqual(msgs.slice(4));
    expect(r.trimmed).toEqual({ droppedItems: 4, inputTokensBefore: from(0) });
  });

  it('openai-chat: keeps system and developer messages wherever they are and drops the oldest turns first', () => {
    const body = chat();
    const msgs = body.messages as JsonObject[];
    const keepFrom3 = estimateInputTokens('openai-chat', { ...body, messages: [msgs[0], ...msgs.slice(3)] }, perChar);
    const r = ok(applyRequestLimits('openai-chat', body, trim(keepFrom3), { estimate: perChar }));
    expect(r.body.messages).toEqual([msgs[0], ...msgs.slice(3)]);
    const r2 = ok(applyRequestLimits('openai-chat', body, trim(keepFrom3 - 1), { estimate: perChar }));
    expect(r2.body.messages).toEqual([msgs[0], msgs[8], msgs[9]]);
  });

  it('rejects instead of trimming when the route says reject, or when even the newest turn does not fit', () => {
    const body = chat();
    const full = estimateInputTokens('openai-chat', body);
    const r = applyRequestLimits('openai-chat', body, { maxInputTokens: full - 1, maxOutputTokens: undefined, onInputOverLimit: 'reject' });
    expect(r).toEqual({ ok: false, code: 'input_too_large', inputTokens: full, limit: full - 1, message: `estimated input of ${full} tokens exceeds this route's maxInputTokens of ${full - 1} and the route rejects oversized input (onInputOverLimit: reject)` });
    const tiny = applyRequestLimits('openai-chat', body, trim(10));
    expect(tiny.ok).toBe(false);
    expect(!tiny.ok && tiny.message).toContain('even with only the system prompt and the newest turn');
    const emb = applyRequestLimits('openai-embeddings', { model: 'e', input: ['a'.repeat(400)] }, trim(10));
    expect(emb).toMatchObject({ ok: false, inputTokens: 100 });
  });

  it('leaves a request under the limit untouched (same object: keep the raw bytes)', () => {
    const body = chat();
    const r = ok(applyRequestLimits('openai-chat', { ...body, max_completion_tokens: 100 }, trim(1_000_000, 200)));
    expect(r.changed).toBe(false);
    expect(r.trimmed).toBeUndefined();
    expect(r.maxTokens).toBe('unchanged');
    expect(r.maxOutputTokens).toBe(100);
    expect(r.reserveTokens).toBe(r.inputTokens + 100);
  });

  it('uses the caller estimator (default chars/4) and counts images as flat attachments', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(400) }, { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] }] };
    expect(estimateInputTokens('openai-chat', body)).toBe(100 + 1_000 + 4);
    expect(estimateInputTokens('openai-chat', body, (t) => Math.ceil(t.length / 3.5))).toBe(115 + 1_000 + 4);
  });
});

describe('per-request limits: max output tokens', () => {
  const limits = (maxOutputTokens: number | undefined): RouteRequestLimits => ({ maxInputTokens: undefined, maxOutputTokens, onInputOverLimit: 'reject' });

  it('sets the cap when absent, in the field each API uses', () => {
    const c = ok(applyRequestLimits('openai-chat', { model: 'm', messages: [] }, limits(512)));
    expect(c.body).toEqual({ model: 'm', messages: [], max_completion_tokens: 512 });
    expect(c).toMatchObject({ changed: true, maxTokens: 'set', maxOutputTokens: 512 });
    expect(ok(applyRequestLimits('openai-responses', { model: 'm', input: 'hi' }, limits(512))).body.max_output_tokens).toBe(512);
    expect(ok(applyRequestLimits('openai-embeddings', { model: 'm', input: 'hi' }, limits(512)))).toMatchObject({ changed: false, maxTokens: 'not-applicable', maxOutputTokens: 0 });
  });

  it('caps a larger request and keeps a smaller one', () => {
    const a = ok(applyRequestLimits('anthropic-messages', { model: 'm', max_tokens: 8_000, messages: [] }, limits(1_000)));
    expect(a).toMatchObject({ maxTokens: 'capped', maxOutputTokens: 1_000, body: { max_tokens: 1_000 } });
    const both = ok(applyRequestLimits('openai-chat', { model: 'm', messages: [], max_tokens: 5_000, max_completion_tokens: 300 }, limits(1_000)));
    expect(both.body).toMatchObject({ max_tokens: 1_000, max_completion_tokens: 300 });
    expect(both.maxOutputTokens).toBe(300);
    const small = ok(applyRequestLimits('anthropic-messages', { model: 'm', max_tokens: 10, messages: [] }, limits(1_000)));
    expect(small).toMatchObject({ changed: false, maxOutputTokens: 10 });
  });

  it('keeps an Anthropic thinking budget below the capped max_tokens', () => {
    const r = ok(applyRequestLimits('anthropic-messages', { model: 'm', max_tokens: 16_000, thinking: { type: 'enabled', budget_tokens: 10_000 }, messages: [] }, limits(4_000)));
    expect(r.body).toMatchObject({ max_tokens: 4_000, thinking: { type: 'enabled', budget_tokens: 3_999 } });
  });

  it('without a cap, reserves the requested max or the default', () => {
    expect(ok(applyRequestLimits('openai-chat', { model: 'm', messages: [] }, limits(undefined))).maxOutputTokens).toBe(4_096);
    expect(ok(applyRequestLimits('openai-chat', { model: 'm', messages: [] }, limits(undefined), { defaultMaxOutputTokens: 100 })).maxOutputTokens).toBe(100);
    expect(ok(applyRequestLimits('openai-chat', { model: 'm', messages: [], max_tokens: 77 }, limits(undefined))).maxOutputTokens).toBe(77);
  });
});

describe('per-request limits: config', () => {
  it('route fields override the default field by field', () => {
    const c = BudgetsSchema.parse({ perRequest: { default: { maxInputTokens: 1_000, maxOutputTokens: 100 }, routes: { chat: { maxInputTokens: 50, onInputOverLimit: 'trim' } } } });
    expect(requestLimitsFor(c.perRequest, 'chat')).toEqual({ maxInputTokens: 50, maxOutputTokens: 100, onInputOverLimit: 'trim' });
    expect(requestLimitsFor(c.perRequest, 'other')).toEqual({ maxInputTokens: 1_000, maxOutputTokens: 100, onInputOverLimit: 'reject' });
    expect(requestLimitsFor(c.perRequest, '__proto__')).toEqual({ maxInputTokens: 1_000, maxOutputTokens: 100, onInputOverLimit: 'reject' });
  });

  it('maps paths to request shapes', () => {
    expect(requestShapeOf('/v1/chat/completions')).toBe('openai-chat');
    expect(requestShapeOf('/v1/responses?x=1')).toBe('openai-responses');
    expect(requestShapeOf('/v1/messages')).toBe('anthropic-messages');
    expect(requestShapeOf('/v1/embeddings')).toBe('openai-embeddings');
    expect(requestShapeOf('/v1/messages/count_tokens')).toBeUndefined();
    expect(requestShapeOf('/v1/models')).toBeUndefined();
  });
});
