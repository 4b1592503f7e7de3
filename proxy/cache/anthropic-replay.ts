// Anthropic Messages: a stored event stream ⇄ a `message`.
//   assembleMessage: message_start … message_stop → the message the API would have returned as
//     JSON: text (with citations), thinking (with its signature), redacted_thinking, tool_use and
//     server tool blocks, stop_reason/stop_sequence, usage (message_start's, overwritten by every
//     field message_delta reports — its counters are cumulative, never added).
//   messageEvents: a message → the event sequence Anthropic streams: message_start, per block
//     content_block_start / deltas (text_delta, citations_delta, thinking_delta + signature_delta,
//     input_json_delta) / content_block_stop, message_delta with the full usage, message_stop.
import type { NormalizedUsage } from '../../shared/usage.ts';
import type { CachedSseEvent } from './entry.ts';
import { asObject, fragments, parseObject, textPieces, type Json } from './sse-text.ts';

/** Anthropic's usage object from normalised usage (its input_tokens exclude cache reads and writes). */
export function anthropicUsage(u: NormalizedUsage): Json {
  return {
    input_tokens: Math.max(0, u.inputTokens - u.cacheReadTokens - u.cacheWrite5mTokens - u.cacheWrite1hTokens),
    cache_creation_input_tokens: u.cacheWrite5mTokens + u.cacheWrite1hTokens,
    cache_read_input_tokens: u.cacheReadTokens,
    output_tokens: u.outputTokens,
  };
}

interface BlockAcc {
  block: Json;
  /** input_json_delta fragments of tool_use / server_tool_use blocks. */
  json: string;
  sawJson: boolean;
}

/** The `message` an event stream adds up to. `usage` fills in when the stream carried none. */
export function assembleMessage(events: readonly CachedSseEvent[], usage: NormalizedUsage): Json {
  let message: Json = {};
  const blocks: BlockAcc[] = [];
  for (const e of events) {
    const ev = parseObject(e.data);
    if (!ev) continue;
    switch (ev.type) {
      case 'message_start':
        message = { ...(asObject(ev.message) ?? {}) };
        message.usage = { ...(asObject(message.usage) ?? {}) };
        break;
      case 'content_block_start': {
        const index = typeof ev.index === 'number' ? ev.index : blocks.length;
        blocks[index] = { block: { ...(asObject(ev.content_block) ?? {}) }, json: '', sawJson: false };
        break;
      }
      case 'content_block_delta': {
        const acc = blocks[typeof ev.index === 'number' ? ev.index : -1];
        const d = asObject(ev.delta);
        if (acc && d) applyBlockDelta(acc, d);
        break;
      }
      case 'content_block_stop': {
        const acc = blocks[typeof ev.index === 'number' ? ev.index : -1];
        if (acc?.sawJson) {
          const parsed = acc.json === '' ? {} : parseObject(acc.json);
          acc.block.input = parsed ?? {};
        }
        break;
      }
      case 'message_delta': {
        const d = asObject(ev.delta) ?? {};
        for (const [k, v] of Object.entries(d)) if (v !== undefined) message[k] = v;
        const u = asObject(ev.usage);
        if (u) {
          const merged = (message.usage = { ...(asObject(message.usage) ?? {}) });
          for (const [k, v] of Object.entries(u)) if (v !== null && v !== undefined) merged[k] = v;
        }
        break;
      }
    }
  }
  message.content = blocks.filter(Boolean).map((b) => b.block);
  if (!asObject(message.usage) || Object.keys(message.usage as Json).length === 0) message.usage = anthropicUsage(usage);
  return message;
}

function applyBlockDelta(acc: BlockAcc, d: Json): void {
  const b = acc.block;
  switch (d.type) {
    case 'text_delta':
      b.text = `${typeof b.text === 'string' ? b.text : ''}${typeof d.text === 'string' ? d.text : ''}`;
      break;
    case 'thinking_delta':
      b.thinking = `${typeof b.thinking === 'string' ? b.thinking : ''}${typeof d.thinking === 'string' ? d.thinking : ''}`;
      break;
    case 'signature_delta':
      b.signature = d.signature;
      break;
    case 'input_json_delta':
      acc.sawJson = true;
      acc.json += typeof d.partial_json === 'string' ? d.partial_json : '';
      break;
    case 'citations_delta':
      b.citations = [...(Array.isArray(b.citations) ? b.citations : []), d.citation];
      break;
  }
}

const ev = (name: string, data: Json): CachedSseEvent => ({ event: name, data: JSON.stringify(data) });

/** The event stream Anthropic would have sent for `message`. */
export function messageEvents(message: Json, usage: NormalizedUsage): CachedSseEvent[] {
  const fullUsage = asObject(message.usage) ?? anthropicUsage(usage);
  const content = Array.isArray(message.content) ? message.content.map(asObject).filter((b): b is Json => b !== undefined) : [];
  // message_start carries the input side and a provisional output count, as Anthropic's does.
  const startUsage = { ...fullUsage, output_tokens: Math.min(1, typeof fullUsage.output_tokens === 'number' ? fullUsage.output_tokens : 0) };
  const out: CachedSseEvent[] = [ev('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: startUsage } })];
  content.forEach((block, index) => {
    const delta = (d: Json): void => void out.push(ev('content_block_delta', { type: 'content_block_delta', index, delta: d }));
    switch (block.type) {
      case 'text': {
        const { citations, text, ...rest } = block;
        out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { ...rest, ...(Array.isArray(citations) ? { citations: [] } : citations === null ? { citations: null } : {}), text: '' } }));
        for (const p of textPieces(typeof text === 'string' ? text : '')) delta({ type: 'text_delta', text: p });
        if (Array.isArray(citations)) for (const c of citations) delta({ type: 'citations_delta', citation: c });
        break;
      }
      case 'thinking': {
        out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
        for (const p of textPieces(typeof block.thinking === 'string' ? block.thinking : '')) delta({ type: 'thinking_delta', thinking: p });
        if (typeof block.signature === 'string') delta({ type: 'signature_delta', signature: block.signature });
        break;
      }
      case 'tool_use':
      case 'server_tool_use':
      case 'mcp_tool_use': {
        out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } }));
        // Like the API, the first input_json_delta is empty.
        for (const p of ['', ...fragments(JSON.stringify(block.input ?? {}))]) delta({ type: 'input_json_delta', partial_json: p });
        break;
      }
      default:
        // redacted_thinking, web_search_tool_result, … arrive whole in content_block_start.
        out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: block }));
    }
    out.push(ev('content_block_stop', { type: 'content_block_stop', index }));
  });
  const d: Json = { stop_reason: message.stop_reason ?? 'end_turn', stop_sequence: message.stop_sequence ?? null };
  if (message.stop_details !== undefined) d.stop_details = message.stop_details;
  if (message.container !== undefined && message.container !== null) d.container = message.container;
  // message_delta repeats the cumulative input/cache counters (newer API versions do), so a client
  // that reads only the delta still gets the whole usage.
  const { service_tier: _t, cache_creation: _c, ...deltaUsage } = fullUsage;
  out.push(ev('message_delta', { type: 'message_delta', delta: d, usage: deltaUsage }));
  out.push(ev('message_stop', { type: 'message_stop' }));
  return out;
}
