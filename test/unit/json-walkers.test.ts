// The walkers over request JSON are iterative: any nesting depth is walked without overflowing the
// call stack (the proxy refuses bodies deeper than MAX_JSON_DEPTH at the edge; these hold even past
// it), and they produce what their recursive versions did.
import { describe, expect, it } from 'vitest';
import { applyRequestLimits, estimateInputTokens } from '../../proxy/budget/limits.ts';
import { canonicalJson } from '../../proxy/cache/canonical.ts';
import { parseJsonObject, scanJson } from '../../proxy/request-body.ts';
import { captureJsonOutput, NOT_CAPTURED } from '../../proxy/telemetry/content.ts';
import { requestFeatures } from '../../proxy/token-estimate.ts';
import { anthropicToOpenAI, openAIToAnthropic } from '../../proxy/translate/index.ts';

/** A value nested `depth` levels, alternating arrays and objects, with text at the bottom. */
function deep(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v, 'x'] : { b: v, a: 'y' };
  return v;
}

/** The sorted-keys serialisation canonicalJson must equal (recursive: fine at small depths). */
function reference(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
    .join(',')}}`;
}

describe('canonicalJson', () => {
  it.each([
    ['scalars', [null, true, 1.5, 'a"b', 0, -0, 1e21]],
    ['key order and nesting', { z: 1, a: { d: [1, { c: 2, b: [] }], c: {} }, m: 'é\u2028' }],
    ['undefined members and holes', { a: undefined, b: [undefined, 1] }],
    ['empty containers', [{}, [], [[]], { a: {} }]],
    ['50 levels', deep(50)],
  ])('%s: equals the recursive serialisation', (_name, value) => {
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it('walks 200,000 levels', () => {
    const s = canonicalJson(deep(200_000));
    expect(s.length).toBeGreaterThan(1_000_000);
    expect(s.startsWith('[{"a":"y","b":[')).toBe(true);
    expect(s.endsWith('},"x"]')).toBe(true);
  });
});

describe('token estimates and per-request limits', () => {
  const body = { model: 'm', messages: [{ role: 'user', content: deep(200_000) }] };

  it('requestFeatures counts the text of a 200,000-level body in document order', () => {
    const f = requestFeatures('anthropic', body);
    expect(f.inputTokens).toBeGreaterThan(100_000);
    const flat = requestFeatures('anthropic', { messages: [{ role: 'user', content: [{ text: 'one' }, ['two', { t: 'three' }]] }] });
    expect(flat.inputTokens).toBe(Math.ceil('one\ntwo\nthree'.length / 3.5) + 4);
  });

  it('limits estimate a 200,000-level body and reject it against a small limit', () => {
    expect(estimateInputTokens('openai-chat', body)).toBeGreaterThan(100_000);
    const out = applyRequestLimits('openai-chat', body, { maxInputTokens: 1_000, maxOutputTokens: undefined, onInputOverLimit: 'reject' });
    expect(out.ok).toBe(false);
  });
});

describe('scanJson / parseJsonObject', () => {
  it.each([
    ['{}', 1],
    ['{"a":[1,{"b":[]}]}', 4],
    ['{"s":"[[[[{{{{"}', 1],
    ['{"s":"\\\\"}', 1],
    ['{"s":"\\"[[["}', 1],
    ['{"s":"\\\\\\"[[["}', 1],
  ])('%s is %i deep', (text, depth) => {
    expect(scanJson(Buffer.from(text)).depth).toBe(depth);
  });

  it.each(['1e400', '-1E+309', '1' + '0'.repeat(400)])('%s overflows a double', (n) => {
    expect(scanJson(Buffer.from(`{"a":[${n}]}`)).badNumber).toBe(n);
    expect(() => parseJsonObject(Buffer.from(`{"a":${n}}`))).toThrow(expect.objectContaining({ code: 'LLM_SIDECAR_INVALID_REQUEST' }));
  });

  it.each(['1e308', '-2.5e-400', '12345678901234567890', '0.1', 'true'])('%s is accepted', (n) => {
    expect(scanJson(Buffer.from(`{"a":${n}}`)).badNumber).toBeUndefined();
  });
});

describe('translators: JSON they parse or re-serialise themselves', () => {
  const deepArgs = `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;

  it('tool-call arguments from the app nested past the limit: a 400 of ours (LLM_SIDECAR_JSON_TOO_DEEP)', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: deepArgs } }] }] };
    expect(() => openAIToAnthropic.translateRequest(body, 'claude-haiku-4-5')).toThrow(expect.objectContaining({ code: 'LLM_SIDECAR_JSON_TOO_DEEP', status: 400 }));
  });

  it('tool-call arguments from the provider nested past the limit: a 502 of ours (LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE)', () => {
    const answer = { id: 'x', choices: [{ finish_reason: 'tool_calls', message: { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: deepArgs } }] } }] };
    expect(() => anthropicToOpenAI.translateResponse(answer, 'm')).toThrow(expect.objectContaining({ code: 'LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', status: 502 }));
  });

  // Whether 200,000 levels can be re-serialised depends on the runtime (V8 in Node 20 throws a
  // RangeError; Node 26's JSON.stringify does not): either way, never a RangeError out of the translator.
  it('a tool input object from the provider too deep to re-serialise: a 502 of ours, not a RangeError', () => {
    const answer = { id: 'x', content: [{ type: 'tool_use', id: 't', name: 'f', input: deep(200_000) }], stop_reason: 'tool_use', usage: {} };
    let translated: unknown;
    let error: unknown;
    try {
      translated = openAIToAnthropic.translateResponse(answer as never, 'm');
    } catch (err) {
      error = err;
    }
    if (error !== undefined) expect(error).toMatchObject({ code: 'LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE' });
    else expect(typeof JSON.stringify(translated)).toBe('string');
  });

  it('arguments within the limit still translate', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":[[1]]}' } }] }] };
    expect(JSON.stringify(openAIToAnthropic.translateRequest(body, 'claude-haiku-4-5'))).toContain('"input":{"a":[[1]]}');
  });
});

describe('content capture (sampled calls): what JSON cannot carry never costs the call its spans', () => {
  it('a provider tool input too deep to serialise is replaced by a marker; the rest is kept', () => {
    const endpoint = { dialect: 'anthropic', operation: 'messages' } as never;
    const answer = { content: [{ type: 'text', text: 'calling' }, { type: 'tool_use', id: 't', name: 'f', input: deep(200_000) }, { type: 'tool_use', id: 'u', name: 'g', input: { a: 1 } }], stop_reason: 'tool_use' };
    const out = captureJsonOutput(endpoint, answer);
    expect(() => JSON.stringify(out)).not.toThrow();
    const parts = out[0]?.parts ?? [];
    expect(parts).toHaveLength(3);
    expect(parts[0]).toEqual({ type: 'text', content: 'calling' });
    // The marker where the runtime cannot serialise it (Node 20); kept as is where it can (Node 26).
    const deepPart = parts[1] as { type: string; id: string; name: string; arguments: unknown };
    expect([deepPart.type, deepPart.id, deepPart.name]).toEqual(['tool_call', 't', 'f']);
    let serialisable = true;
    try {
      JSON.stringify(answer.content[1]);
    } catch {
      serialisable = false;
    }
    if (!serialisable) expect(deepPart.arguments).toBe(NOT_CAPTURED);
    expect(parts[2]).toEqual({ type: 'tool_call', id: 'u', name: 'g', arguments: { a: 1 } });
  });
});
