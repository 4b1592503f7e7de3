// The walkers over request JSON are iterative: any nesting depth is walked without overflowing the
// call stack (the proxy refuses bodies deeper than MAX_JSON_DEPTH at the edge; these hold even past
// it), and they produce what their recursive versions did.
import { describe, expect, it } from 'vitest';
import { applyRequestLimits, estimateInputTokens } from '../../proxy/budget/limits.ts';
import { canonicalJson } from '../../proxy/cache/canonical.ts';
import { parseJsonObject, scanJson } from '../../proxy/request-body.ts';
import { requestFeatures } from '../../proxy/token-estimate.ts';

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
