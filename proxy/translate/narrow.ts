// Narrowing helpers for JSON of unknown shape. Request bodies come from apps and responses from
// providers; neither is validated before translation, so every field is read through these and a
// field of the wrong type reads as absent (the provider then reports what is missing, in its words).

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

/** Parses tool-call arguments; anything but a JSON object (including invalid JSON) reads as `undefined`. */
export function parseJsonObject(text: string): JsonObject | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Anthropic SSE framing: named events. */
export const sseEvent = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** OpenAI chat completions SSE framing: data-only events. */
export const sseData = (data: object): string => `data: ${JSON.stringify(data)}\n\n`;

export const SSE_DONE = 'data: [DONE]\n\n';

/** Unix seconds, as OpenAI's `created`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
