// What the semantic cache compares: the LAST USER TEXT, within a CONTEXT that must match exactly.
//
// contextDigest = sha256 of everything the exact key covers (cache-key.ts: scope, dialect,
// operation, provider, model, answer-changing headers, and the whole answer-relevant body: system
// prompt, tools, tool_choice, response_format, sampling parameters, every earlier turn…) with the
// last user turn removed. Two requests share a partition only if they differ in nothing but their
// last user question, so a semantic hit can never cross tenants, keys, models, system prompts,
// tools or conversation histories.
//
// Eligible requests: OpenAI chat and Anthropic messages whose last message is a user message made
// only of text (a string or text parts), and Responses API requests whose input is a string or ends
// with such a user message. Images, files, tool results, assistant prefills, embeddings: not
// eligible (a text embedding cannot tell two images apart). Texts longer than maxChars are not
// either (a pasted document blurs in a 512-d sentence embedding).
import { cacheKeyMaterial, type CacheKeyInput } from './cache-key.ts';
import { sha256Hex } from './canonical.ts';

export interface SemanticRequest {
  contextDigest: string;
  lastUserText: string;
}

export const DEFAULT_MAX_SEMANTIC_CHARS = 2_000;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Text of a content value made only of text parts, else undefined. */
function textOnly(content: unknown, partTypes: readonly string[]): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (!isObject(part) || !partTypes.includes(part.type as string) || typeof part.text !== 'string') return undefined;
    texts.push(part.text);
  }
  return texts.join('\n');
}

function lastUserTurn(messages: unknown, partTypes: readonly string[]): { text: string; rest: unknown[] } | undefined {
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const last = messages[messages.length - 1];
  if (!isObject(last) || last.role !== 'user') return undefined;
  const text = textOnly(last.content, partTypes);
  return text === undefined ? undefined : { text, rest: messages.slice(0, -1) };
}

/** The semantic view of a request, or undefined when the request is not eligible. */
export function semanticRequest(input: CacheKeyInput, maxChars = DEFAULT_MAX_SEMANTIC_CHARS): SemanticRequest | undefined {
  const body = input.body;
  let text: string | undefined;
  let context: Json | undefined;
  if (input.operation === 'chat') {
    const turn = lastUserTurn(body.messages, input.dialect === 'anthropic' ? ['text'] : ['text']);
    if (turn) {
      text = turn.text;
      context = { ...body, messages: turn.rest };
    }
  } else if (input.operation === 'responses' && input.dialect === 'openai') {
    if (typeof body.input === 'string') {
      text = body.input;
      context = { ...body, input: null };
    } else {
      const turn = lastUserTurn(body.input, ['input_text']);
      if (turn) {
        text = turn.text;
        context = { ...body, input: turn.rest };
      }
    }
  }
  if (text === undefined || context === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.length > maxChars) return undefined;
  return { contextDigest: sha256Hex(`semantic\u0000${cacheKeyMaterial({ ...input, body: context })}`), lastUserText: trimmed };
}
