// Anthropic wire formats: messages (JSON and the full SSE event sequence, thinking, tool use),
// count_tokens, and prompt caching that behaves like the real thing: the prefix up to a block with
// `cache_control` is written on first sight and read afterwards; input_tokens exclude both.
import { createHash } from 'node:crypto';
import type { Faults } from './faults.ts';
import { answerText, lastUserText, promptTokens, toolArguments, wordCount } from './content.ts';
import { deltas, sseEvent, type Plan } from './plan.ts';

type Json = Record<string, unknown>;
let seq = 0;
const nextId = (prefix: string): string => `${prefix}_${(++seq).toString(36).padStart(12, '0')}`;
const seenPrefixes = new Set<string>();

interface CacheUsage {
  write5m: number;
  write1h: number;
  read: number;
}

/** Tokens of the longest prefix ending at a cache_control block (tools → system → messages order). */
function cacheUsage(body: Json): CacheUsage {
  const blocks: unknown[] = [];
  if (Array.isArray(body.tools)) blocks.push(...body.tools);
  if (Array.isArray(body.system)) blocks.push(...body.system);
  else if (typeof body.system === 'string') blocks.push({ type: 'text', text: body.system });
  for (const m of Array.isArray(body.messages) ? (body.messages as Json[]) : []) {
    if (Array.isArray(m.content)) blocks.push(...m.content);
    else blocks.push({ type: 'text', text: m.content });
  }
  let lastMarked = -1;
  let ttl = '5m';
  blocks.forEach((b, i) => {
    const cc = (b as Json).cache_control as Json | undefined;
    if (cc) {
      lastMarked = i;
      ttl = cc.ttl === '1h' ? '1h' : '5m';
    }
  });
  if (lastMarked < 0) return { write5m: 0, write1h: 0, read: 0 };
  const prefix = JSON.stringify(blocks.slice(0, lastMarked + 1));
  const tokens = Math.ceil(prefix.length / 4);
  const key = createHash('sha1').update(prefix).digest('hex');
  if (seenPrefixes.has(key)) return { write5m: 0, write1h: 0, read: tokens };
  seenPrefixes.add(key);
  return ttl === '1h' ? { write5m: 0, write1h: tokens, read: 0 } : { write5m: tokens, write1h: 0, read: 0 };
}

function usageBlock(input: number, c: CacheUsage, output: number): Json {
  return {
    input_tokens: input,
    cache_creation_input_tokens: c.write5m + c.write1h,
    cache_read_input_tokens: c.read,
    cache_creation: { ephemeral_5m_input_tokens: c.write5m, ephemeral_1h_input_tokens: c.write1h },
    output_tokens: output,
    service_tier: 'standard',
  };
}

const HEADERS = (): Record<string, string> => ({ 'request-id': nextId('req'), 'anthropic-ratelimit-requests-remaining': '9999' });

export function messages(body: Json, faults: Faults): Plan {
  const model = String(body.model);
  const id = nextId('msg');
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  const choice = body.tool_choice as Json | undefined;
  const tool = (tools.length > 0 && choice?.type !== 'none') || faults.toolCall ? (tools[0] ?? { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }) : undefined;
  const thinking = (body.thinking as Json | undefined)?.type === 'enabled';
  const text = answerText(lastUserText(body.messages), faults.words);
  const thought = thinking ? `Let me think about: ${lastUserText(body.messages).slice(0, 60)}` : '';
  const toolInput = tool ? toolArguments(tool.input_schema) : undefined;
  const toolId = tool ? nextId('toolu') : '';
  const cache = cacheUsage(body);
  const total = promptTokens(body);
  let input = Math.max(1, total - cache.read - cache.write5m - cache.write1h);
  let output = (tool ? wordCount(JSON.stringify(toolInput)) : wordCount(text)) + wordCount(thought);
  if (faults.usage) {
    const [i = 0, o = 0, read = 0, _r = 0, write = 0] = faults.usage;
    input = i;
    output = o;
    cache.read = read;
    cache.write5m = write;
    cache.write1h = 0;
  }
  const stopReason = tool ? 'tool_use' : 'end_turn';
  const content: Json[] = [];
  if (thinking) content.push({ type: 'thinking', thinking: thought, signature: 'sig_fake_0001' });
  if (tool) content.push({ type: 'tool_use', id: toolId, name: tool.name, input: toolInput });
  else content.push({ type: 'text', text });
  if (body.stream !== true) {
    return {
      kind: 'json',
      status: 200,
      headers: HEADERS(),
      body: { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: usageBlock(input, cache, output) },
    };
  }
  const events: string[] = [
    sseEvent('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usageBlock(input, cache, 1) } }),
  ];
  let index = 0;
  if (thinking) {
    events.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
    for (const d of deltas(thought)) events.push(sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: d } }));
    events.push(sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'sig_fake_0001' } }));
    events.push(sseEvent('content_block_stop', { type: 'content_block_stop', index }));
    index++;
  }
  if (tool) {
    const json = JSON.stringify(toolInput);
    events.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolId, name: tool.name, input: {} } }));
    for (let i = 0; i < json.length; i += 6) events.push(sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(i, i + 6) } }));
  } else {
    events.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
    events.push(sseEvent('ping', { type: 'ping' }));
    for (const d of deltas(text)) events.push(sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: d } }));
  }
  events.push(sseEvent('content_block_stop', { type: 'content_block_stop', index }));
  events.push(sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: output } }));
  events.push(sseEvent('message_stop', { type: 'message_stop' }));
  return { kind: 'sse', events, headers: HEADERS() };
}

export function countTokens(body: Json): Plan {
  return { kind: 'json', status: 200, body: { input_tokens: promptTokens(body) } };
}
