// Answers for an OpenAI app from an Anthropic provider: the message (JSON), its usage, finish reason
// and errors in OpenAI's shape. Shared with the stream translator.
import { asNumber, asObject, asString, nowSeconds, objects, providerJson, type JsonObject } from './narrow.ts';
import type { OpenAIChatCompletion, OpenAIErrorBody, OpenAIFinishReason, OpenAIToolCall, OpenAIUsage } from './openai-types.ts';

// A Map, not an object literal: a provider's "constructor" must not read Object.prototype.
const FINISH_REASONS = new Map<unknown, OpenAIFinishReason>([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  ['pause_turn', 'stop'],
  ['max_tokens', 'length'],
  ['model_context_window_exceeded', 'length'],
  ['tool_use', 'tool_calls'],
  ['refusal', 'content_filter'],
]);

/** Anthropic stop_reason → OpenAI finish_reason (unknown values read as stop). */
export function finishReason(stopReason: unknown): OpenAIFinishReason {
  return FINISH_REASONS.get(stopReason) ?? 'stop';
}

export interface AnthropicTokenCounts {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

/** Reads an Anthropic usage object (message, message_start or message_delta); absent fields stay as they were. */
export function readAnthropicUsage(usage: unknown, into: AnthropicTokenCounts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 }): AnthropicTokenCounts {
  const u = asObject(usage);
  return {
    input: asNumber(u?.input_tokens) ?? into.input,
    cacheRead: asNumber(u?.cache_read_input_tokens) ?? into.cacheRead,
    cacheWrite: asNumber(u?.cache_creation_input_tokens) ?? into.cacheWrite,
    output: asNumber(u?.output_tokens) ?? into.output,
  };
}

/**
 * Anthropic counts cache reads and writes OUTSIDE input_tokens; OpenAI counts cached tokens INSIDE
 * prompt_tokens. So prompt = input + cache_read + cache_write, cached = cache_read (and
 * cache_write_tokens = cache_write, the field OpenAI uses for prompt tokens written to cache).
 */
export function openAIUsage(usage: unknown): OpenAIUsage {
  return usageFromCounts(readAnthropicUsage(usage));
}

export function usageFromCounts(c: AnthropicTokenCounts): OpenAIUsage {
  const prompt = c.input + c.cacheRead + c.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: c.output,
    total_tokens: prompt + c.output,
    prompt_tokens_details: { cached_tokens: c.cacheRead, cache_write_tokens: c.cacheWrite },
  };
}

/** `msg_abc` → `chatcmpl-abc`: stable, so the same answer gets the same id in logs on both sides. */
export function completionId(messageId: unknown): string {
  const id = asString(messageId);
  return id ? `chatcmpl-${id.replace(/^msg_/, '')}` : `chatcmpl-${Date.now().toString(36)}`;
}

/** An Anthropic message → the OpenAI chat completion the app asked for. Thinking blocks are dropped. */
export function translateResponse(json: JsonObject, requestedModel: string): OpenAIChatCompletion {
  let text = '';
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of objects(json.content)) {
    if (block.type === 'text') text += asString(block.text) ?? '';
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: asString(block.id) ?? '', type: 'function', function: { name: asString(block.name) ?? '', arguments: providerJson(block.input ?? {}) } });
    }
  }
  // OpenAI sends content null (not '') on a tool-call-only answer.
  const message: OpenAIChatCompletion['choices'][number]['message'] = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: completionId(json.id),
    object: 'chat.completion',
    created: nowSeconds(),
    model: asString(json.model) ?? requestedModel,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(json.stop_reason) }],
    usage: openAIUsage(json.usage),
  };
}

/** OpenAI's error type for an HTTP status (the SDK maps status to its error classes; the type is for humans). */
export function openAIErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** An Anthropic error body (`{type:'error',error:{type,message}}`) → OpenAI's shape; Anthropic's type goes to `code`. */
export function translateError(status: number, json: unknown): OpenAIErrorBody {
  const error = asObject(asObject(json)?.error);
  const message = asString(error?.message) ?? `provider answered with status ${status}`;
  return { error: { message, type: openAIErrorType(status), param: null, code: asString(error?.type) ?? null } };
}
