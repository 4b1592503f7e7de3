// Deterministic answers and usage, so a direct call and a proxied call can be compared exactly.
type Json = Record<string, unknown>;

export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => {
        const part = p as Json;
        return typeof part.text === 'string' ? part.text : typeof part.content === 'string' ? part.content : '';
      })
      .join(' ');
  }
  return '';
}

/** The last user turn's text, from chat messages, Anthropic messages or a Responses `input`. */
export function lastUserText(messages: unknown): string {
  if (typeof messages === 'string') return messages;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Json;
    if (m.role === 'user') return textOf(m.content);
  }
  return '';
}

export function answerText(userText: string, words?: number): string {
  if (words !== undefined && words > 0) return Array.from({ length: words }, (_, i) => `word${i}`).join(' ');
  return `Echo: ${userText.slice(0, 200)}`;
}

/** Roughly 4 characters per token over the whole request, like a real tokenizer on English. */
export function promptTokens(body: Json): number {
  return Math.max(1, Math.ceil(JSON.stringify(body.messages ?? body.input ?? '').length / 4) + Math.ceil(JSON.stringify(body.system ?? '').length / 4) + Math.ceil(JSON.stringify(body.tools ?? '').length / 4));
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export function isReasoningModel(model: string): boolean {
  return /^o\d/.test(model) || model.includes('reasoning');
}

/** An object that satisfies the required properties of a JSON schema (strings 'x', numbers 1…). */
export function sampleFor(schema: unknown): unknown {
  const s = (schema ?? {}) as Json;
  switch (s.type) {
    case 'string': return 'x';
    case 'number': case 'integer': return 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': default: {
      const props = (s.properties ?? {}) as Json;
      const required = Array.isArray(s.required) ? (s.required as string[]) : Object.keys(props);
      const out: Json = {};
      for (const k of required) out[k] = sampleFor(props[k]);
      return out;
    }
  }
}

/** Arguments for a tool call, built from the tool's parameter schema. */
export function toolArguments(parameters: unknown): Json {
  const s = (parameters ?? {}) as Json;
  const props = (s.properties ?? {}) as Json;
  const required = Array.isArray(s.required) ? (s.required as string[]) : Object.keys(props);
  const out: Json = {};
  for (const k of required) {
    const t = (props[k] as Json | undefined)?.type;
    out[k] = t === 'number' || t === 'integer' ? 1 : t === 'boolean' ? true : k === 'city' ? 'Paris' : 'x';
  }
  return out;
}

/** Deterministic unit vector from a text (FNV-1a seeded). */
export function embed(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const v: number[] = [];
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) ^ i;
    v.push(((h >>> 0) % 2000) / 1000 - 1);
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => Math.fround(x / norm));
}
