// What the fake "model" says: an echo of the last user text (deterministic, so direct and proxied
// calls compare equal), a fixed number of words on request, and JSON built to satisfy a schema
// (for JSON modes and tool-call arguments).
import { asArray, asObject, type Json } from './plan.ts';

const MAX_ECHO = 200;

/** `Echo: <last user text>` (truncated), or exactly `words` words when the `words=<n>` fault asks. */
export function answerText(userText: string, words: number | undefined): string {
  if (words !== undefined) return wordsAnswer(words);
  return `Echo: ${userText.length > MAX_ECHO ? userText.slice(0, MAX_ECHO) : userText}`;
}

// The benchmark asks for the same long answers over and over: build each length once.
const wordsCache = new Map<number, string>();

function wordsAnswer(n: number): string {
  let text = wordsCache.get(n);
  if (text === undefined) {
    text = Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
    if (wordsCache.size < 64) wordsCache.set(n, text);
  }
  return text;
}

/** A short visible "thought" for extended thinking, also derived from the prompt. */
export function thoughtFor(userText: string): string {
  return `The user wrote: ${userText.slice(0, 60)}. I will echo it back.`;
}

/**
 * A value satisfying a JSON schema's required parts: strings 'x' (or 'Paris' for a city/location),
 * numbers 1, booleans true, arrays empty (or minItems long), objects recursively; enum/const/anyOf
 * take their first choice and local `$ref`s are followed.
 */
export function sampleFor(schema: unknown, root: unknown = schema, key = '', depth = 0): unknown {
  const s = asObject(schema) ?? {};
  if (depth > 12) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (typeof s.$ref === 'string') return sampleFor(resolveRef(root, s.$ref), root, key, depth + 1);
  const choice = asArray(s.anyOf ?? s.oneOf ?? s.allOf)[0];
  if (choice !== undefined) return sampleFor(choice, root, key, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      return /city|location|place/i.test(key) ? 'Paris' : 'x';
    case 'number':
    case 'integer':
      return typeof s.minimum === 'number' && s.minimum > 1 ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const n = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: n }, () => sampleFor(s.items, root, key, depth + 1));
    }
    default:
      return sampleObject(s, root, depth);
  }
}

function sampleObject(s: Json, root: unknown, depth: number): Json {
  const props = asObject(s.properties) ?? {};
  // No `required` list: fill every property, which is what a model usually does.
  const keys = Array.isArray(s.required) ? s.required.filter((k): k is string => typeof k === 'string') : Object.keys(props);
  const out: Json = {};
  for (const k of keys) out[k] = sampleFor(props[k], root, k, depth + 1);
  return out;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = asObject(node)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}
