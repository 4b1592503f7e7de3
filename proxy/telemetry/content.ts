// Message content in the GenAI semantic conventions' JSON message schema, for the calls sampled for
// evaluation: `gen_ai.input.messages`, `gen_ai.system_instructions`, `gen_ai.output.messages`.
// Sampling is decided from the trace id (like OpenTelemetry's TraceIdRatioBased sampler), so the
// same trace is sampled or not wherever it is looked at. Nothing here recurses; tool inputs and
// results are kept only when they can be serialised (a provider's answer is not depth-checked, and
// a value JSON.stringify cannot write would cost the call its spans), else a marker stands in.
import type { LlmEndpoint } from '../endpoints.ts';

type Json = Record<string, unknown>;

export interface MessagePart {
  type: string;
  content?: string;
  id?: string;
  name?: string;
  arguments?: unknown;
  response?: unknown;
}

export interface ChatMessage {
  role: string;
  parts: MessagePart[];
  finish_reason?: string;
}

export interface CapturedContent {
  system?: MessagePart[];
  input: ChatMessage[];
  output: ChatMessage[];
}

/** The last 8 hex digits of a W3C trace id are random: a uniform number in [0, 1). */
export function sampledByTraceId(traceId: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return parseInt(traceId.slice(-8), 16) / 0x1_0000_0000 < rate;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Written into the span instead of a tool input or result too deeply nested to serialise. */
export const NOT_CAPTURED = '[not captured: nested too deeply to serialise]';

/** The value itself when JSON can carry it; the marker when JSON.stringify would throw (nesting). */
function capturable(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  try {
    JSON.stringify(v);
    return v;
  } catch {
    return NOT_CAPTURED;
  }
}

/** Content parts of one message, as text, tool calls and tool results. */
function partsOf(content: unknown): MessagePart[] {
  if (typeof content === 'string') return [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  const parts: MessagePart[] = [];
  for (const raw of content) {
    const p = obj(raw);
    if (!p) continue;
    if (typeof p.text === 'string') parts.push({ type: 'text', content: p.text });
    else if (p.type === 'tool_use') parts.push({ type: 'tool_call', id: String(p.id), name: String(p.name), arguments: capturable(p.input) });
    else if (p.type === 'tool_result') parts.push({ type: 'tool_call_response', id: String(p.tool_use_id), response: capturable(p.content) });
    else if (p.type === 'image' || p.type === 'image_url' || p.type === 'input_image') parts.push({ type: 'image' });
  }
  return parts;
}

export function captureInput(endpoint: LlmEndpoint, body: Json): Pick<CapturedContent, 'system' | 'input'> {
  if (endpoint.dialect === 'anthropic') {
    const system = typeof body.system === 'string' ? [{ type: 'text', content: body.system }] : partsOf(body.system);
    const input = (Array.isArray(body.messages) ? body.messages : []).map((m) => ({ role: String(obj(m)?.role), parts: partsOf(obj(m)?.content) }));
    return { system: system.length > 0 ? system : undefined, input };
  }
  if (endpoint.operation === 'responses') {
    const input = typeof body.input === 'string' ? [{ role: 'user', parts: [{ type: 'text', content: body.input }] }] : (Array.isArray(body.input) ? body.input : []).map((m) => ({ role: String(obj(m)?.role ?? 'user'), parts: partsOf(obj(m)?.content) }));
    return { system: typeof body.instructions === 'string' ? [{ type: 'text', content: body.instructions }] : undefined, input };
  }
  const system: MessagePart[] = [];
  const input: ChatMessage[] = [];
  for (const raw of Array.isArray(body.messages) ? body.messages : []) {
    const m = obj(raw);
    if (!m) continue;
    const role = String(m.role);
    if (role === 'system' || role === 'developer') {
      system.push(...partsOf(m.content));
      continue;
    }
    const parts = partsOf(m.content);
    if (Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) {
        const fn = obj(obj(tc)?.function);
        parts.push({ type: 'tool_call', id: String(obj(tc)?.id), name: String(fn?.name), arguments: capturable(fn?.arguments) });
      }
    }
    if (role === 'tool') input.push({ role, parts: [{ type: 'tool_call_response', id: String(m.tool_call_id), response: capturable(m.content) }] });
    else input.push({ role, parts });
  }
  return { system: system.length > 0 ? system : undefined, input };
}

/** Output messages from a complete JSON answer. */
export function captureJsonOutput(endpoint: LlmEndpoint, json: Json): ChatMessage[] {
  if (endpoint.dialect === 'anthropic') {
    return [{ role: 'assistant', parts: partsOf(json.content), finish_reason: typeof json.stop_reason === 'string' ? json.stop_reason : undefined }];
  }
  if (endpoint.operation === 'responses') {
    const parts: MessagePart[] = [];
    for (const item of Array.isArray(json.output) ? json.output : []) {
      const o = obj(item);
      if (o?.type === 'message') parts.push(...partsOf(o.content));
      else if (o?.type === 'function_call') parts.push({ type: 'tool_call', id: String(o.call_id), name: String(o.name), arguments: capturable(o.arguments) });
    }
    return [{ role: 'assistant', parts, finish_reason: typeof json.status === 'string' ? json.status : undefined }];
  }
  return (Array.isArray(json.choices) ? json.choices : []).map((c) => {
    const choice = obj(c);
    const message = obj(choice?.message);
    const parts = partsOf(message?.content);
    for (const tc of Array.isArray(message?.tool_calls) ? message.tool_calls : []) {
      const fn = obj(obj(tc)?.function);
      parts.push({ type: 'tool_call', id: String(obj(tc)?.id), name: String(fn?.name), arguments: capturable(fn?.arguments) });
    }
    return { role: 'assistant', parts, finish_reason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : undefined };
  });
}

/** Assembles a streamed answer's text (and tool calls) from its events, for sampled calls only. */
/** The answer a cache entry holds, as captured messages (what a judge of a cache hit reads). */
export function captureCachedOutput(endpoint: LlmEndpoint, entry: { kind: 'json' | 'stream'; body?: string; events?: { event?: string; data: string }[] }): ChatMessage[] | undefined {
  try {
    if (entry.kind === 'json') return entry.body === undefined ? undefined : captureJsonOutput(endpoint, JSON.parse(entry.body) as Json);
    const assembler = new StreamAssembler();
    let finish: string | undefined;
    for (const ev of entry.events ?? []) {
      if (ev.data === '[DONE]') continue;
      const json = JSON.parse(ev.data) as Json;
      if (endpoint.dialect === 'anthropic') {
        assembler.anthropicEvent(json);
        const stop = obj(json.delta)?.stop_reason;
        if (typeof stop === 'string') finish = stop;
      } else {
        assembler.openAiChunk(json);
        for (const c of Array.isArray(json.choices) ? json.choices : []) if (typeof obj(c)?.finish_reason === 'string') finish = String(obj(c)?.finish_reason);
      }
    }
    return assembler.output(finish);
  } catch {
    return undefined; // an entry that does not parse is served as stored; only its capture is skipped
  }
}

export class StreamAssembler {
  private text = '';
  private readonly tools = new Map<number, MessagePart>();

  /** OpenAI chat chunk. */
  openAiChunk(json: Json): void {
    for (const c of Array.isArray(json.choices) ? json.choices : []) {
      const delta = obj(obj(c)?.delta);
      if (typeof delta?.content === 'string') this.text += delta.content;
      for (const tc of Array.isArray(delta?.tool_calls) ? delta.tool_calls : []) {
        const t = obj(tc);
        const index = typeof t?.index === 'number' ? t.index : 0;
        const fn = obj(t?.function);
        const part = this.tools.get(index) ?? { type: 'tool_call', id: '', name: '', arguments: '' };
        if (typeof t?.id === 'string') part.id = t.id;
        if (typeof fn?.name === 'string') part.name = fn.name;
        if (typeof fn?.arguments === 'string') part.arguments = String(part.arguments ?? '') + fn.arguments;
        this.tools.set(index, part);
      }
    }
  }

  /** Anthropic content_block_* events. */
  anthropicEvent(json: Json): void {
    if (json.type === 'content_block_start') {
      const block = obj(json.content_block);
      if (block?.type === 'tool_use') this.tools.set(Number(json.index), { type: 'tool_call', id: String(block.id), name: String(block.name), arguments: '' });
    } else if (json.type === 'content_block_delta') {
      const delta = obj(json.delta);
      if (delta?.type === 'text_delta' && typeof delta.text === 'string') this.text += delta.text;
      if (delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
        const part = this.tools.get(Number(json.index));
        if (part) part.arguments = String(part.arguments ?? '') + delta.partial_json;
      }
    }
  }

  output(finishReason: string | undefined): ChatMessage[] {
    const parts: MessagePart[] = this.text ? [{ type: 'text', content: this.text }] : [];
    parts.push(...this.tools.values());
    return [{ role: 'assistant', parts, finish_reason: finishReason }];
  }
}
