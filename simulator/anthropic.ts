// Anthropic messages: JSON and the full SSE event sequence, extended thinking, tool use, and prompt
// caching (prompt-cache.ts). Usage follows Anthropic's semantics: input_tokens EXCLUDES cache reads
// and writes, so input + cache_read + cache_creation = what count_tokens reports for the request.
import { answerText, sampleFor, thoughtFor } from './answer.ts';
import type { Faults } from './faults.ts';
import { anthropicHeaders } from './headers.ts';
import { asArray, asObject, jsonPlan, ssePlan, type Call, type Json, type Plan } from './plan.ts';
import type { CacheUsage, PromptBlock } from './prompt-cache.ts';
import { blockChars, lastUserText, tokensFor, wordCount } from './prompt.ts';
import { fragments, sseEvent, wordDeltas } from './sse.ts';

/** Tokens every prompt pays for its framing, whatever it contains. */
const BASE_TOKENS = 7;
/** Tokens of framing per message (role markers). */
const MESSAGE_TOKENS = 3;

function promptBlock(value: unknown, tokens: number): PromptBlock {
  const cc = asObject(asObject(value)?.cache_control);
  return cc ? { tokens, value, ttl: cc.ttl === '1h' ? '1h' : '5m' } : { tokens, value };
}

/** The prompt as blocks in cache order: tools, system, then each message's content blocks. */
function promptBlocks(body: Json): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  for (const tool of asArray(body.tools)) blocks.push(promptBlock(tool, tokensFor(JSON.stringify(tool).length)));
  if (typeof body.system === 'string') blocks.push(promptBlock(body.system, tokensFor(body.system.length)));
  for (const b of asArray(body.system)) blocks.push(promptBlock(b, tokensFor(blockChars(b))));
  for (const m of asArray(body.messages)) {
    const content = asObject(m)?.content;
    const parts = Array.isArray(content) ? content : [content ?? ''];
    parts.forEach((part, i) => blocks.push(promptBlock(part, tokensFor(blockChars(part)) + (i === 0 ? MESSAGE_TOKENS : 0))));
  }
  return blocks;
}

function promptTokens(blocks: readonly PromptBlock[]): number {
  let n = BASE_TOKENS;
  for (const b of blocks) n += b.tokens;
  return n;
}

interface ToolSpec {
  name: string;
  input_schema: unknown;
}

const DEFAULT_TOOL: ToolSpec = { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

/** The custom tool the model "decides" to use: the one tool_choice names, else the first. */
function chosenTool(body: Json, faults: Faults): ToolSpec | undefined {
  const tools = asArray(body.tools)
    .map(asObject)
    .filter((t): t is Json => typeof t?.name === 'string' && t.input_schema !== undefined);
  const choice = asObject(body.tool_choice);
  if (faults.toolCall !== true && (tools.length === 0 || choice?.type === 'none')) return undefined;
  const tool = tools.find((t) => t.name === choice?.name) ?? tools[0];
  return tool ? { name: tool.name as string, input_schema: tool.input_schema } : DEFAULT_TOOL;
}

interface Usage extends CacheUsage {
  input: number;
  output: number;
}

function usageJson(u: Usage, outputTokens = u.output): Json {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.write5m + u.write1h,
    cache_read_input_tokens: u.read,
    cache_creation: { ephemeral_5m_input_tokens: u.write5m, ephemeral_1h_input_tokens: u.write1h },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function usageFor(call: Call, output: number): Usage {
  const forced = call.faults.usage;
  if (forced) return { input: forced.input, output: forced.output, read: forced.cached, write5m: forced.cacheWrite, write1h: 0 };
  const blocks = promptBlocks(call.body);
  const cache = call.cache.use(call.body.model as string, blocks);
  return { ...cache, input: promptTokens(blocks) - cache.read - cache.write5m - cache.write1h, output };
}

export function messages(call: Call): Plan {
  const { body, faults, ids } = call;
  const model = body.model as string;
  const userText = lastUserText(body.messages);
  const tool = chosenTool(body, faults);
  const thinkingType = asObject(body.thinking)?.type;
  const thought = thinkingType === 'enabled' || thinkingType === 'adaptive' ? thoughtFor(userText) : undefined;
  const content: Json[] = [];
  // Real signatures are opaque base64 blobs the client must send back unchanged.
  if (thought !== undefined) content.push({ type: 'thinking', thinking: thought, signature: Buffer.from(`fake-signature:${thought}`).toString('base64') });
  let outputText: string;
  if (tool) {
    const input = sampleFor(tool.input_schema);
    content.push({ type: 'tool_use', id: ids.next('toolu_01'), name: tool.name, input });
    outputText = JSON.stringify(input);
  } else {
    outputText = answerText(userText, faults.words);
    content.push({ type: 'text', text: outputText });
  }
  const usage = usageFor(call, wordCount(outputText) + (thought === undefined ? 0 : wordCount(thought)));
  const stopReason = tool ? 'tool_use' : 'end_turn';
  const message = { id: ids.next('msg_01'), type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: usageJson(usage) };
  const headers = anthropicHeaders(ids);
  if (body.stream !== true) return jsonPlan(message, headers);

  const events = [sseEvent('message_start', JSON.stringify({ type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: usageJson(usage, 1) } }))];
  content.forEach((block, index) => blockEvents(events, block, index));
  events.push(sseEvent('message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } })));
  events.push(sseEvent('message_stop', '{"type":"message_stop"}'));
  return ssePlan(events, headers);
}

const PING = sseEvent('ping', '{"type": "ping"}');

/** content_block_start, the block's deltas, content_block_stop. */
function blockEvents(events: string[], block: Json, index: number): void {
  const delta = (d: string): string => sseEvent('content_block_delta', `{"type":"content_block_delta","index":${index},"delta":${d}}`);
  const opening = block.type === 'thinking' ? { type: 'thinking', thinking: '', signature: '' } : block.type === 'tool_use' ? { ...block, input: {} } : { type: 'text', text: '' };
  events.push(sseEvent('content_block_start', JSON.stringify({ type: 'content_block_start', index, content_block: opening })));
  // Anthropic pings right after the first block opens; clients must skip it.
  if (index === 0) events.push(PING);
  switch (block.type) {
    case 'thinking':
      for (const d of wordDeltas(block.thinking as string)) events.push(delta(`{"type":"thinking_delta","thinking":${JSON.stringify(d)}}`));
      events.push(delta(`{"type":"signature_delta","signature":${JSON.stringify(block.signature)}}`));
      break;
    case 'tool_use':
      // Like the real API, the first input_json_delta is empty.
      for (const piece of ['', ...fragments(JSON.stringify(block.input), 5)]) events.push(delta(`{"type":"input_json_delta","partial_json":${JSON.stringify(piece)}}`));
      break;
    default:
      for (const d of wordDeltas(block.text as string)) events.push(delta(`{"type":"text_delta","text":${JSON.stringify(d)}}`));
  }
  events.push(sseEvent('content_block_stop', `{"type":"content_block_stop","index":${index}}`));
}

export function countTokens(call: Call): Plan {
  return jsonPlan({ input_tokens: promptTokens(promptBlocks(call.body)) }, anthropicHeaders(call.ids));
}
