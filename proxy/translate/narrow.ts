// Narrowing helpers for JSON of unknown shape. Request bodies come from apps and responses from
// providers; neither is validated before translation, so every field is read through these and a
// field of the wrong type reads as absent (the provider then reports what is missing, in its words).
// JSON the translators parse or re-serialise themselves (tool-call arguments, tool inputs) is held
// to the request edge's nesting limit: deeper would overflow JSON.stringify's recursion later, so
// it is a 400 of ours when the app sent it and a 502 of ours when the provider did, never a 500.
import { SidecarError } from '../../shared/errors.ts';
import { MAX_JSON_DEPTH, scanJson } from '../request-body.ts';

export type JsonObject = Record<string, unknown>;

export function asObject(v: unknown): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function asNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Objects of an array, skipping anything else. */
export function objects(v: unknown): JsonObject[] {
  return asArray(v).map(asObject).filter((o): o is JsonObject => o !== undefined);
}

/** Who wrote a piece of JSON: the app (its request) or the provider (its answer). */
export type JsonSource = 'request' | 'response';

function tooDeep(source: JsonSource, what: string): SidecarError {
  return source === 'request'
    ? new SidecarError('LLM_SIDECAR_JSON_TOO_DEEP', `${what} in the request nests deeper than ${MAX_JSON_DEPTH} levels`)
    : new SidecarError('LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE', `${what} in the provider's answer nests deeper than ${MAX_JSON_DEPTH} levels`);
}

/**
 * Parses tool-call arguments; anything but a JSON object (including invalid JSON) reads as
 * `undefined`. Valid JSON nested deeper than MAX_JSON_DEPTH throws (see the top of this file).
 */
export function parseJsonObject(text: string, source: JsonSource): JsonObject | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const obj = asObject(parsed);
  if (obj && scanJson(Buffer.from(text)).depth > MAX_JSON_DEPTH) throw tooDeep(source, 'tool-call arguments');
  return obj;
}

/** JSON text of a value parsed from a provider's answer (a tool's input): too deep to re-serialise is an unreadable answer. */
export function providerJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep('response', 'a tool input');
    throw err;
  }
}

/** Anthropic SSE framing: named events. */
export const sseEvent = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** OpenAI chat completions SSE framing: data-only events. */
export const sseData = (data: object): string => `data: ${JSON.stringify(data)}\n\n`;

export const SSE_DONE = 'data: [DONE]\n\n';

/** Unix seconds, as OpenAI's `created`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
