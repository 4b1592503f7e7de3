// The app speaks OpenAI Chat Completions, the provider Anthropic Messages (a fallback from an OpenAI
// model to a Claude one). Requests go OpenAI → Anthropic, answers Anthropic → OpenAI; streams are
// translated event by event by AnthropicToOpenAIStream (openai-to-anthropic-stream.ts).
//
// Approximations (what Anthropic cannot express, or requires):
//  - `max_tokens` is required by Anthropic: max_completion_tokens, else max_tokens, else
//    DEFAULT_MAX_TOKENS (4096).
//  - `temperature` is clamped to Anthropic's 0–1 (OpenAI allows up to 2); it is not rescaled. When
//    both temperature and top_p are given, top_p is dropped: recent Claude models reject the pair
//    even at default values. Claude models from Opus 4.7 on reject any non-default sampling
//    parameter, and API version 2026-10-21 rejects them on every model: `sampling: 'omit'` sends none.
//  - `response_format` json_object / json_schema becomes an extra system instruction asking for
//    JSON (matching the schema); the output is not enforced or validated as OpenAI's strict mode would.
//  - system and developer messages, wherever they appear, are hoisted into `system` in order.
//  - Consecutive messages of the same role are merged (Anthropic requires alternation); `tool`
//    messages become tool_result blocks of a user turn, placed before that turn's other content.
//  - Empty and whitespace-only text is dropped (Anthropic rejects such blocks), and so are audio
//    parts, `name`, legacy `functions`/`function_call`, `n`, `seed`, `logprobs`, penalties,
//    `reasoning_effort`, custom (non-function) tools and `allowed_tools` choices (→ auto).
//  - Stop sequences that are empty or whitespace-only are dropped (Anthropic rejects them).
//  - Tool-call arguments that are not a JSON object become `input: {}`; characters Anthropic does
//    not allow in tool ids become `_` (in tool_use and tool_result alike).
import type {
  AnthropicContentBlockParam,
  AnthropicImageBlockParam,
  AnthropicMessageParam,
  AnthropicMessagesBody,
  AnthropicTextBlockParam,
  AnthropicTool,
  AnthropicToolChoice,
} from './anthropic-types.ts';
import { asArray, asNumber, asObject, asString, objects, parseJsonObject, type JsonObject } from './narrow.ts';

export { openAIUsage, translateError, translateResponse } from './openai-to-anthropic-response.ts';
export { AnthropicToOpenAIStream, type AnthropicToOpenAIStreamOptions } from './openai-to-anthropic-stream.ts';

/** Anthropic requires max_tokens; OpenAI apps often leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

export interface RequestOptions {
  /** `forward` (default): temperature (clamped) or else top_p. `omit`: neither, for models that reject them. */
  sampling?: 'forward' | 'omit';
}

/** An OpenAI Chat Completions request body → the Anthropic Messages body for `targetModel`. */
export function translateRequest(body: JsonObject, targetModel: string, options: RequestOptions = {}): AnthropicMessagesBody {
  const system: AnthropicTextBlockParam[] = [];
  const messages: AnthropicMessageParam[] = [];
  for (const m of objects(body.messages)) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(...textBlocks(m.content));
      continue;
    }
    const turn = translateMessage(m);
    if (!turn || turn.content.length === 0) continue;
    const last = messages.at(-1);
    if (last?.role === turn.role) last.content.push(...turn.content);
    else messages.push(turn);
  }
  for (const m of messages) if (m.role === 'user') m.content = toolResultsFirst(m.content);
  const formatInstruction = responseFormatInstruction(asObject(body.response_format));
  if (formatInstruction) system.push({ type: 'text', text: formatInstruction });

  const out: AnthropicMessagesBody = {
    model: targetModel,
    messages,
    max_tokens: asNumber(body.max_completion_tokens) ?? asNumber(body.max_tokens) ?? DEFAULT_MAX_TOKENS,
  };
  if (system.length > 0) out.system = system;
  if (options.sampling !== 'omit') {
    const temperature = asNumber(body.temperature);
    if (temperature !== undefined) out.temperature = Math.min(1, Math.max(0, temperature));
    const topP = asNumber(body.top_p);
    if (topP !== undefined && temperature === undefined) out.top_p = topP;
  }
  const stop = (typeof body.stop === 'string' ? [body.stop] : asArray(body.stop)).filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  if (stop.length > 0) out.stop_sequences = stop;

  const tools = objects(body.tools).flatMap(anthropicTool);
  if (tools.length > 0) {
    out.tools = tools;
    const choice = toolChoice(body.tool_choice, body.parallel_tool_calls === false);
    if (choice) out.tool_choice = choice;
  }
  const user = asString(body.user);
  if (user !== undefined && user !== '') out.metadata = { user_id: user };
  if (body.stream === true) out.stream = true;
  return out;
}

function translateMessage(m: JsonObject): AnthropicMessageParam | undefined {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: userBlocks(m.content) };
    case 'assistant':
      return { role: 'assistant', content: assistantBlocks(m) };
    case 'tool': {
      const content = textBlocks(m.content)
        .map((b) => b.text)
        .join('\n');
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolId(m.tool_call_id), content }] };
    }
    default:
      return undefined; // legacy `function` messages
  }
}

/** Text of a string or of text/refusal parts, as non-blank text blocks. */
function textBlocks(content: unknown): AnthropicTextBlockParam[] {
  const texts = typeof content === 'string' ? [content] : objects(content).map((p) => asString(p.text) ?? asString(p.refusal) ?? '');
  return texts.filter((t) => t.trim() !== '').map((text) => ({ type: 'text', text }));
}

function userBlocks(content: unknown): AnthropicContentBlockParam[] {
  if (typeof content === 'string') return textBlocks(content);
  const blocks: AnthropicContentBlockParam[] = [];
  for (const part of objects(content)) {
    if (part.type === 'text') blocks.push(...textBlocks(part.text));
    else if (part.type === 'image_url') {
      const url = asString(asObject(part.image_url)?.url);
      if (url) blocks.push(imageBlock(url));
    } else if (part.type === 'file') {
      const data = dataUrl(asString(asObject(part.file)?.file_data) ?? '');
      const title = asString(asObject(part.file)?.filename);
      if (data?.mediaType === 'application/pdf') blocks.push({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: data.data }, ...(title ? { title } : {}) });
    }
  }
  return blocks;
}

function dataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]+);base64,/.exec(url);
  return m?.[1] ? { mediaType: m[1], data: url.slice(m[0].length) } : undefined;
}

/** A data URL becomes a base64 source, anything else a URL source (Anthropic fetches http(s) URLs). */
function imageBlock(url: string): AnthropicImageBlockParam {
  const data = dataUrl(url);
  return data ? { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.data } } : { type: 'image', source: { type: 'url', url } };
}

function assistantBlocks(m: JsonObject): AnthropicContentBlockParam[] {
  const blocks: AnthropicContentBlockParam[] = textBlocks(m.content);
  for (const call of objects(m.tool_calls)) {
    const fn = asObject(call.function);
    const input = parseJsonObject(asString(fn?.arguments) ?? '', 'request') ?? {};
    blocks.push({ type: 'tool_use', id: toolId(call.id), name: asString(fn?.name) ?? '', input });
  }
  return blocks;
}

/**
 * Anthropic requires tool ids to match ^[a-zA-Z0-9_-]+$; OpenAI-compatible providers are looser.
 * The same mapping applies to tool_use ids and tool_result references, so pairs still match.
 */
function toolId(id: unknown): string {
  return (asString(id) ?? '').replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** Anthropic wants a user turn's tool_result blocks before its other content. */
function toolResultsFirst(blocks: AnthropicContentBlockParam[]): AnthropicContentBlockParam[] {
  return [...blocks.filter((b) => b.type === 'tool_result'), ...blocks.filter((b) => b.type !== 'tool_result')];
}

function anthropicTool(tool: JsonObject): AnthropicTool[] {
  const fn = asObject(tool.function);
  const name = asString(fn?.name);
  if (tool.type !== 'function' || name === undefined) return [];
  const description = asString(fn?.description);
  // Anthropic requires an object schema; OpenAI allows leaving parameters out for no arguments.
  const out: AnthropicTool = { name, input_schema: asObject(fn?.parameters) ?? { type: 'object', properties: {} } };
  if (description !== undefined) out.description = description;
  return [out];
}

function toolChoice(choice: unknown, noParallel: boolean): AnthropicToolChoice | undefined {
  const parallel = noParallel ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...parallel };
  const name = asString(asObject(asObject(choice)?.function)?.name);
  if (name !== undefined) return { type: 'tool', name, ...parallel };
  if (choice === 'auto' || noParallel) return { type: 'auto', ...parallel };
  return undefined;
}

/** Anthropic has no JSON mode here: ask for it in the system prompt (approximation, not enforced). */
function responseFormatInstruction(format: JsonObject | undefined): string | undefined {
  if (format?.type === 'json_object') return 'Respond with a single valid JSON object and nothing else: no prose, no Markdown code fences.';
  if (format?.type === 'json_schema') {
    const spec = asObject(format.json_schema);
    const schema = spec?.schema ?? {};
    return `Respond with a single valid JSON value that conforms to the following JSON schema, and nothing else: no prose, no Markdown code fences.\n${JSON.stringify(schema)}`;
  }
  return undefined;
}
