// Token estimation for context-length routing (and later budgets). OpenAI models: the o200k_base
// BPE of `gpt-tokenizer` (maintained, pure JS) on the text of the request. Anthropic publishes no
// tokenizer: ~3.5 characters per token is the documented approximation (it errs towards more
// tokens than o200k on English, which is the safe side for a limit). Only computed when a route
// needs it (match rules on tokens, the cost strategy).
import type { ApiDialect } from '../shared/errors.ts';

type CountTokens = (text: string, options: { disallowedSpecial: Set<string> }) => number;
/** The BPE ranks take tens of MB: loaded only when a route needs token counts (loadTokenizer). */
let countTokens: CountTokens | undefined;

export async function loadTokenizer(): Promise<void> {
  countTokens ??= (await import('gpt-tokenizer/encoding/o200k_base')).countTokens as CountTokens;
}

export interface RequestFeatures {
  inputTokens: number;
  /** The answer's cap as requested (max_tokens…), or a default when absent. */
  maxOutputTokens: number;
  hasTools: boolean;
  hasImages: boolean;
}

type Json = Record<string, unknown>;

/**
 * Above this many characters, exact BPE costs more than it is worth on the hot path (~25 ns per
 * character measured here): longer requests use ~4 characters per token.
 */
const EXACT_LIMIT_CHARS = 16_000;
/** Special-token syntax in user text is plain text to the provider: skip that (costly) check. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };
const DEFAULT_MAX_OUTPUT = 4_096;
/** Per-message framing tokens in chat formats. */
const PER_MESSAGE = 4;

/** The request's text in document order. Iterative (a work stack), so nesting depth cannot overflow the call stack. */
function collectText(root: unknown, out: string[], flags: { images: boolean }): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      out.push(value);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
    } else if (value !== null && typeof value === 'object') {
      const o = value as Json;
      const type = o.type;
      if (type === 'image' || type === 'image_url' || type === 'input_image') {
        flags.images = true;
        continue; // image tokens depend on size; not counted here
      }
      const keys = Object.keys(o).filter((k) => k !== 'cache_control' && k !== 'type' && k !== 'role');
      for (let i = keys.length - 1; i >= 0; i--) stack.push(o[keys[i] as string]);
    }
  }
}

export function estimateTokens(text: string, dialect: ApiDialect): number {
  if (dialect === 'anthropic') return Math.ceil(text.length / 3.5);
  if (text.length > EXACT_LIMIT_CHARS || !countTokens) return Math.ceil(text.length / 4);
  return countTokens(text, PLAIN_TEXT);
}

export function requestFeatures(dialect: ApiDialect, body: Json): RequestFeatures {
  const parts: string[] = [];
  const flags = { images: false };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  collectText(body.system, parts, flags);
  collectText(body.instructions, parts, flags);
  collectText(messages, parts, flags);
  collectText(body.input, parts, flags);
  collectText(body.tools, parts, flags);
  const text = parts.join('\n');
  const max = body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens;
  return {
    inputTokens: estimateTokens(text, dialect) + PER_MESSAGE * messages.length,
    maxOutputTokens: typeof max === 'number' && max > 0 ? max : DEFAULT_MAX_OUTPUT,
    hasTools: Array.isArray(body.tools) && body.tools.length > 0,
    hasImages: flags.images,
  };
}
