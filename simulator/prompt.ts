// Reading a request's prompt: the last user text (to echo) and a deterministic token estimate. The
// estimate only looks at the request's meaning, never its bytes, so a proxy that re-serialises the
// body (or adds `stream_options`) gets exactly the same usage as a direct call.
import { asArray, asObject, type Json } from './plan.ts';

/** ~4 characters per token, like a real tokenizer on English. */
export const tokensFor = (chars: number): number => Math.ceil(chars / 4);

/** Images, documents, audio: a flat cost (OpenAI bills a low-detail image at 85 tokens). */
const MEDIA_CHARS = 85 * 4;

/** Text of a message content: a string, or an array of parts/blocks (text, input_text, tool_result…). */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  let out = '';
  for (const p of asArray(content)) {
    const part = asObject(p);
    if (!part) continue;
    const text = typeof part.text === 'string' ? part.text : typeof part.content === 'string' || Array.isArray(part.content) ? textOf(part.content) : '';
    if (text !== '') out = out === '' ? text : `${out} ${text}`;
  }
  return out;
}

/** The last user turn's text, from chat or Anthropic `messages` or a Responses `input` (string or items). */
export function lastUserText(messages: unknown): string {
  if (typeof messages === 'string') return messages;
  const list = asArray(messages);
  for (let i = list.length - 1; i >= 0; i--) {
    const m = asObject(list[i]);
    if (m?.role === 'user') return textOf(m.content);
  }
  return '';
}

/** Characters one content block (or part) stands for in the token estimate. */
export function blockChars(block: unknown): number {
  if (typeof block === 'string') return block.length;
  const b = asObject(block);
  if (!b) return 0;
  if (typeof b.text === 'string') return b.text.length;
  if (typeof b.thinking === 'string') return b.thinking.length;
  switch (b.type) {
    case 'image':
    case 'image_url':
    case 'input_image':
    case 'document':
    case 'input_file':
    case 'input_audio':
      return MEDIA_CHARS;
    case 'tool_result':
    case 'function_call_output':
      return contentChars(b.content ?? b.output);
    case 'tool_use':
      return JSON.stringify(b.input ?? {}).length;
    default:
      return JSON.stringify(b).length;
  }
}

export function contentChars(content: unknown): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return blockChars(content);
  let n = 0;
  for (const part of content) n += blockChars(part);
  return n;
}

const jsonChars = (v: unknown): number => (v === undefined ? 0 : JSON.stringify(v).length);

/**
 * Chat completions, counted the way OpenAI documents it: 3 tokens of framing per message, the
 * content, 3 to prime the reply, plus the tool definitions.
 */
export function chatPromptTokens(body: Json): number {
  let tokens = 3;
  for (const m of asArray(body.messages)) {
    const msg = asObject(m);
    tokens += 3 + tokensFor(contentChars(msg?.content) + jsonChars(msg?.tool_calls));
  }
  return tokens + tokensFor(jsonChars(body.tools));
}

/** Responses API: `instructions` + `input` (a string or items) + tools, with the same framing. */
export function responsesPromptTokens(body: Json): number {
  let tokens = 3 + (typeof body.instructions === 'string' ? 3 + tokensFor(body.instructions.length) : 0);
  if (typeof body.input === 'string') tokens += 3 + tokensFor(body.input.length);
  for (const item of asArray(body.input)) {
    const it = asObject(item);
    tokens += 3 + tokensFor(it && 'role' in it ? contentChars(it.content) : blockChars(it));
  }
  return tokens + tokensFor(jsonChars(body.tools));
}

export function wordCount(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = text.charCodeAt(i) <= 32;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/** o1, o3, o4-mini… or anything named *reasoning*: these spend hidden reasoning tokens. */
export function isReasoningModel(model: string): boolean {
  return /^o\d/.test(model) || model.includes('reasoning');
}

/** Reasoning tokens a reasoning model reports (and bills inside completion/output tokens). */
export const REASONING_TOKENS = 32;

/**
 * OpenAI caches prompts of 1024+ tokens in 128-token steps, and never the whole prompt. Kept
 * stateless (unlike the Anthropic cache) so a direct and a proxied call report the same usage.
 */
export function openAiCachedTokens(promptTokens: number): number {
  const cached = Math.floor((promptTokens - 1) / 128) * 128;
  return cached >= 1024 ? cached : 0;
}
