// The app speaks Anthropic Messages, the provider OpenAI Chat Completions (a fallback from a Claude
// model to an OpenAI one). Requests go Anthropic → OpenAI, answers OpenAI → Anthropic; streams are
// translated event by event by OpenAIToAnthropicStream (anthropic-to-openai-stream.ts).
//
// Approximations (what OpenAI cannot express):
//  - `thinking` and `output_config.effort` are dropped (OpenAI's reasoning_effort is rejected by
//    non-reasoning models), and so are thinking blocks in the history; `top_k`, `service_tier`,
//    `container`, `inference_geo`, `speed` and server tools (web search…) are dropped too.
//  - `output_config.format` (structured outputs) becomes response_format json_schema named
//    "response", not `strict` (OpenAI's strict mode rejects schemas Anthropic accepts).
//  - `cache_control` is dropped: OpenAI caches long prompt prefixes automatically.
//  - `stop_sequences` keeps the first 4 (OpenAI's limit); an answer that hit one reports `end_turn`
//    with `stop_sequence: null`, since OpenAI does not say which sequence matched.
//  - A `tool_result` with `is_error` becomes a tool message prefixed "Error: "; images inside tool
//    results move to a user message right after the tool messages (tool messages are text-only).
//  - Documents: plain-text sources become text, base64 PDFs a `file` part; URL/file sources are dropped.
//  - An OpenAI `refusal` becomes a text block with stop_reason `refusal`.
//  - Tool-call arguments that are not a JSON object become `input: {}` (Anthropic requires an object).
import { asArray, asNumber, asObject, asString, objects, type JsonObject } from './narrow.ts';
import type { OpenAIChatBody, OpenAIChatMessage, OpenAIFunctionTool, OpenAIToolCall, OpenAIToolChoice, OpenAIUserPart } from './openai-types.ts';

export { anthropicUsage, translateError, translateResponse } from './anthropic-to-openai-response.ts';
export { OpenAIToAnthropicStream, type OpenAIToAnthropicStreamOptions } from './anthropic-to-openai-stream.ts';

/** OpenAI rejects more stop sequences than this. */
const OPENAI_MAX_STOP = 4;

/** An Anthropic Messages request body → the OpenAI Chat Completions body for `targetModel`. */
export function translateRequest(body: JsonObject, targetModel: string): OpenAIChatBody {
  const messages: OpenAIChatMessage[] = [];
  const system = systemText(body.system);
  if (system !== '') messages.push({ role: 'system', content: system });
  for (const m of objects(body.messages)) messages.push(...(m.role === 'assistant' ? assistantMessage(m.content) : userMessages(m.content)));

  const out: OpenAIChatBody = { model: targetModel, messages };
  const maxTokens = asNumber(body.max_tokens);
  if (maxTokens !== undefined) out.max_completion_tokens = maxTokens;
  // Anthropic's temperature range (0–1) lies inside OpenAI's (0–2): it passes through unchanged.
  const temperature = asNumber(body.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = asNumber(body.top_p);
  if (topP !== undefined) out.top_p = topP;
  const stop = asArray(body.stop_sequences).filter((s): s is string => typeof s === 'string' && s !== '');
  if (stop.length > 0) out.stop = stop.slice(0, OPENAI_MAX_STOP);

  const tools = objects(body.tools).flatMap(functionTool);
  if (tools.length > 0) {
    out.tools = tools;
    const choice = asObject(body.tool_choice);
    const mapped = toolChoice(choice);
    if (mapped !== undefined) out.tool_choice = mapped;
    if (choice?.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  }
  const user = asString(asObject(body.metadata)?.user_id);
  if (user !== undefined && user !== '') out.user = user;
  // Structured outputs: Anthropic's output_config.format is OpenAI's json_schema response format.
  const format = asObject(asObject(body.output_config)?.format);
  const schema = asObject(format?.schema);
  if (format?.type === 'json_schema' && schema) out.response_format = { type: 'json_schema', json_schema: { name: 'response', schema } };
  if (body.stream === true) {
    out.stream = true;
    // Without it OpenAI streams no usage at all; Anthropic clients always get usage.
    out.stream_options = { include_usage: true };
  }
  return out;
}

/** `system` as a string or text blocks (cache_control ignored) → one system message text. */
function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  return objects(system)
    .map((b) => asString(b.text) ?? '')
    .filter((t) => t !== '')
    .join('\n\n');
}

function assistantMessage(content: unknown): OpenAIChatMessage[] {
  if (typeof content === 'string') return [{ role: 'assistant', content }];
  let text = '';
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of objects(content)) {
    if (block.type === 'text') text += asString(block.text) ?? '';
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: asString(block.id) ?? '', type: 'function', function: { name: asString(block.name) ?? '', arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking / redacted_thinking: OpenAI cannot take them back; dropped.
  }
  if (toolCalls.length === 0) return [{ role: 'assistant', content: text }];
  return [{ role: 'assistant', content: text === '' ? null : text, tool_calls: toolCalls }];
}

/**
 * A user turn → its tool results as `tool` messages (which must directly follow the assistant's
 * tool calls), then the rest of the turn as one user message.
 */
function userMessages(content: unknown): OpenAIChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const out: OpenAIChatMessage[] = [];
  const parts: OpenAIUserPart[] = [];
  for (const block of objects(content)) {
    if (block.type === 'tool_result') {
      const result = toolResult(block);
      out.push(result.message);
      parts.push(...result.images);
    } else {
      const part = userPart(block);
      if (part) parts.push(part);
    }
  }
  if (parts.length === 1 && parts[0]?.type === 'text') out.push({ role: 'user', content: parts[0].text });
  else if (parts.length > 0) out.push({ role: 'user', content: parts });
  return out;
}

function toolResult(block: JsonObject): { message: OpenAIChatMessage; images: OpenAIUserPart[] } {
  const texts: string[] = [];
  const images: OpenAIUserPart[] = [];
  if (typeof block.content === 'string') texts.push(block.content);
  for (const inner of objects(block.content)) {
    const part = userPart(inner);
    if (part?.type === 'text') texts.push(part.text);
    else if (part) images.push(part);
  }
  const text = texts.join('\n');
  return {
    message: { role: 'tool', tool_call_id: asString(block.tool_use_id) ?? '', content: block.is_error === true ? `Error: ${text}` : text },
    images,
  };
}

function userPart(block: JsonObject): OpenAIUserPart | undefined {
  const source = asObject(block.source);
  if (block.type === 'text') return { type: 'text', text: asString(block.text) ?? '' };
  if (block.type === 'image' && source) {
    if (source.type === 'base64') return { type: 'image_url', image_url: { url: `data:${asString(source.media_type) ?? 'image/png'};base64,${asString(source.data) ?? ''}` } };
    if (source.type === 'url') return { type: 'image_url', image_url: { url: asString(source.url) ?? '' } };
  }
  if (block.type === 'document' && source) {
    if (source.type === 'text') return { type: 'text', text: asString(source.data) ?? '' };
    if (source.type === 'base64') {
      const title = asString(block.title);
      return { type: 'file', file: { file_data: `data:${asString(source.media_type) ?? 'application/pdf'};base64,${asString(source.data) ?? ''}`, ...(title ? { filename: title } : {}) } };
    }
  }
  return undefined;
}

/** Client tools only (no `type`, or `custom`); server tools like web_search have no OpenAI counterpart. */
function functionTool(tool: JsonObject): OpenAIFunctionTool[] {
  const name = asString(tool.name);
  if (name === undefined || (tool.type !== undefined && tool.type !== 'custom')) return [];
  const description = asString(tool.description);
  const fn: OpenAIFunctionTool['function'] = { name, parameters: asObject(tool.input_schema) ?? { type: 'object', properties: {} } };
  if (description !== undefined) fn.description = description;
  if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
  return [{ type: 'function', function: fn }];
}

function toolChoice(choice: JsonObject | undefined): OpenAIToolChoice | undefined {
  switch (choice?.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool': {
      const name = asString(choice.name);
      return name === undefined ? 'required' : { type: 'function', function: { name } };
    }
    default:
      return undefined;
  }
}
