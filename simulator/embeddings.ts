// OpenAI embeddings: one deterministic unit vector per input (derived from a hash of its text), as
// float arrays or, when `encoding_format: 'base64'` (the openai SDK's default!), little-endian
// float32 bytes in base64.
import { openAiHeaders } from './headers.ts';
import { errorPlan } from './errors.ts';
import { jsonPlan, type Call, type Plan } from './plan.ts';
import { tokensFor } from './prompt.ts';

const DEFAULT_DIMENSIONS = 8;
const MAX_DIMENSIONS = 3072;

/** The inputs: a string, a token array, or an array of either. */
function inputsOf(input: unknown): (string | number[])[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'number')) return [input as number[]];
  if (input.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((t) => typeof t === 'number')))) return input as (string | number[])[];
  return undefined;
}

/** A deterministic unit vector for a text: FNV-1a seeds a xorshift generator. */
export function embed(text: string, dims: number): Float32Array {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    const x = ((h >>> 0) / 0xffffffff) * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i] = (v[i] as number) / norm;
  return v;
}

function base64Of(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i] as number, i * 4);
  return buf.toString('base64');
}

export function embeddings(call: Call): Plan {
  const { body, ids } = call;
  const inputs = inputsOf(body.input);
  if (!inputs) return errorPlan('openai', 400, "'input' must be a non-empty string, array of strings, or array of token arrays.");
  const dims = body.dimensions === undefined ? DEFAULT_DIMENSIONS : body.dimensions;
  if (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1 || dims > MAX_DIMENSIONS) return errorPlan('openai', 400, `'dimensions' must be an integer from 1 to ${MAX_DIMENSIONS}.`);
  const base64 = body.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((input, index) => {
    tokens += typeof input === 'string' ? Math.max(1, tokensFor(input.length)) : input.length;
    const v = embed(typeof input === 'string' ? input : input.join(','), dims);
    return { object: 'embedding', index, embedding: base64 ? base64Of(v) : Array.from(v) };
  });
  return jsonPlan({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, openAiHeaders(ids));
}
