// Answers for an Anthropic app from an OpenAI provider: the chat completion (JSON), its usage, stop
// reason and errors in Anthropic's shape. Shared with the stream translator.
import type { AnthropicContentBlock, AnthropicErrorBody, AnthropicMessage, AnthropicStopReason, AnthropicUsage } from './anthropic-types.ts';
import { asNumber, asObject, asString, objects, parseJsonObject, type JsonObject } from './narrow.ts';

// A Map, not an object literal: a provider's "constructor" must not read Object.prototype.
const STOP_REASONS = new Map<unknown, AnthropicStopReason>([
  ['stop', 'end_turn'],
  ['length', 'max_tokens'],
  ['tool_calls', 'tool_use'],
  ['function_call', 'tool_use'],
  ['content_filter', 'refusal'],
]);

/** OpenAI finish_reason → Anthropic stop_reason (unknown values read as end_turn). */
export function stopReason(finishReason: unknown): AnthropicStopReason {
  return STOP_REASONS.get(finishReason) ?? 'end_turn';
}

/**
 * OpenAI counts cached tokens INSIDE prompt_tokens; Anthropic counts cache reads OUTSIDE
 * input_tokens. So input = prompt − cached, cache_read = cached. OpenAI reports no separate cache
 * writes for automatic caching: cache_creation is 0.
 */
export function anthropicUsage(usage: unknown): AnthropicUsage {
  const u = asObject(usage);
  const prompt = asNumber(u?.prompt_tokens) ?? 0;
  const cached = asNumber(asObject(u?.prompt_tokens_details)?.cached_tokens) ?? 0;
  return {
    input_tokens: Math.max(0, prompt - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: asNumber(u?.completion_tokens) ?? 0,
  };
}

/** `chatcmpl-abc` → `msg_abc`: stable, so the same answer gets the same id in logs on both sides. */
export function messageId(completionId: unknown): string {
  const id = asString(completionId);
  return id ? `msg_${id.replace(/^chatcmpl-/, '')}` : `msg_${Date.now().toString(36)}`;
}

/** Tool ids round-trip verbatim (the app sends them back in tool_result); `toolu_` only when missing. */
export function toolUse(id: string | undefined, name: string, input: Record<string, unknown>): AnthropicContentBlock {
  return { type: 'tool_use', id: id || `toolu_${Math.random().toString(36).slice(2, 14)}`, name, input };
}

/** An OpenAI chat completion → the Anthropic message the app asked for. */
export function translateResponse(json: JsonObject, requestedModel: string): AnthropicMessage {
  const choice = objects(json.choices)[0];
  const message = asObject(choice?.message);
  const content: AnthropicContentBlock[] = [];
  const text = asString(message?.content) ?? '';
  const refusal = asString(message?.refusal) ?? '';
  if (text !== '') content.push({ type: 'text', text, citations: null });
  if (refusal !== '') content.push({ type: 'text', text: refusal, citations: null });
  for (const call of objects(message?.tool_calls)) {
    const fn = asObject(call.function);
    // Invalid JSON arguments: keep the call (the app still learns which tool was chosen) with `{}`.
    content.push(toolUse(asString(call.id), asString(fn?.name) ?? '', parseJsonObject(asString(fn?.arguments) ?? '', 'response') ?? {}));
  }
  return {
    id: messageId(json.id),
    type: 'message',
    role: 'assistant',
    model: asString(json.model) ?? requestedModel,
    content,
    stop_reason: refusal !== '' ? 'refusal' : stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(json.usage),
  };
}

/** Anthropic's error type for an HTTP status (the SDK maps status to its error classes; the type is for humans). */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** An OpenAI error body (`{error:{message,type,code}}`) → Anthropic's error shape, keeping the message. */
export function translateError(status: number, json: unknown): AnthropicErrorBody {
  const message = asString(asObject(asObject(json)?.error)?.message) ?? `provider answered with status ${status}`;
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}
