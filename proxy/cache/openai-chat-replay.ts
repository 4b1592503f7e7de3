// OpenAI chat completions: a stored stream ⇄ a `chat.completion`.
//   assembleChatCompletion: chunks → the completion the API would have returned as JSON (content,
//     refusal, reasoning_content/reasoning of compatible servers, tool_calls, logprobs, finish_reason,
//     usage).
//   chatCompletionEvents: a completion → the chunk sequence OpenAI streams (role chunk, content /
//     tool-call argument chunks, finish chunk, the usage chunk only when the request asked for
//     stream_options.include_usage, [DONE]).
//   applyIncludeUsage: a stored stream (the proxy always asks upstream for usage) shown to an app
//     that did or did not ask for it.
import type { NormalizedUsage } from '../../shared/usage.ts';
import type { CachedSseEvent } from './entry.ts';
import { asObject, fragments, parseObject, textPieces, type Json } from './sse-text.ts';

const DONE: CachedSseEvent = { data: '[DONE]' };

/** OpenAI's usage object from normalised usage (when the stored answer had none to replay verbatim). */
export function openAIUsage(u: NormalizedUsage): Json {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/** Non-standard reasoning text fields of OpenAI-compatible servers (DeepSeek, vLLM, OpenRouter…). */
const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const;

interface ToolCallAcc {
  id?: string;
  type?: string;
  name: string;
  args: string;
  extra: Json;
}

interface ChoiceAcc {
  index: number;
  role: string;
  content: string | null;
  refusal: string | null;
  reasoning: Partial<Record<(typeof REASONING_FIELDS)[number], string>>;
  toolCalls: ToolCallAcc[];
  annotations: unknown[] | undefined;
  audio: Json | undefined;
  functionCall: { name: string; arguments: string } | undefined;
  logprobs: { content: unknown[] | null; refusal: unknown[] | null } | null;
  finishReason: string | null;
}

function newChoice(index: number): ChoiceAcc {
  return { index, role: 'assistant', content: null, refusal: null, reasoning: {}, toolCalls: [], annotations: undefined, audio: undefined, functionCall: undefined, logprobs: null, finishReason: null };
}

function addDelta(c: ChoiceAcc, delta: Json): void {
  if (typeof delta.role === 'string') c.role = delta.role;
  if (typeof delta.content === 'string') c.content = (c.content ?? '') + delta.content;
  if (typeof delta.refusal === 'string') c.refusal = (c.refusal ?? '') + delta.refusal;
  for (const f of REASONING_FIELDS) if (typeof delta[f] === 'string') c.reasoning[f] = (c.reasoning[f] ?? '') + (delta[f] as string);
  if (Array.isArray(delta.annotations)) c.annotations = [...(c.annotations ?? []), ...(delta.annotations as unknown[])];
  const audio = asObject(delta.audio);
  if (audio) {
    c.audio ??= {};
    for (const [k, v] of Object.entries(audio)) c.audio[k] = (k === 'data' || k === 'transcript') && typeof v === 'string' ? `${(c.audio[k] as string | undefined) ?? ''}${v}` : v;
  }
  const fc = asObject(delta.function_call);
  if (fc) {
    c.functionCall ??= { name: '', arguments: '' };
    if (typeof fc.name === 'string') c.functionCall.name = fc.name;
    if (typeof fc.arguments === 'string') c.functionCall.arguments += fc.arguments;
  }
  if (Array.isArray(delta.tool_calls)) {
    for (const raw of delta.tool_calls) {
      const tc = asObject(raw);
      if (!tc) continue;
      const i = typeof tc.index === 'number' ? tc.index : c.toolCalls.length;
      const acc = (c.toolCalls[i] ??= { name: '', args: '', extra: {} });
      const { index: _i, id, type, function: fn, ...rest } = tc;
      Object.assign(acc.extra, rest);
      if (typeof id === 'string') acc.id = id;
      if (typeof type === 'string') acc.type = type;
      const f = asObject(fn);
      if (typeof f?.name === 'string') acc.name = f.name;
      if (typeof f?.arguments === 'string') acc.args += f.arguments;
    }
  }
}

function addLogprobs(c: ChoiceAcc, lp: Json): void {
  c.logprobs ??= { content: null, refusal: null };
  if (Array.isArray(lp.content)) c.logprobs.content = [...(c.logprobs.content ?? []), ...(lp.content as unknown[])];
  if (Array.isArray(lp.refusal)) c.logprobs.refusal = [...(c.logprobs.refusal ?? []), ...(lp.refusal as unknown[])];
}

function finalMessage(c: ChoiceAcc): Json {
  const m: Json = { role: c.role, content: c.content, refusal: c.refusal };
  for (const f of REASONING_FIELDS) if (c.reasoning[f] !== undefined) m[f] = c.reasoning[f];
  if (c.toolCalls.length > 0) {
    m.tool_calls = c.toolCalls.filter(Boolean).map((t) => ({ ...t.extra, id: t.id, type: t.type ?? 'function', function: { name: t.name, arguments: t.args } }));
  }
  if (c.functionCall) m.function_call = c.functionCall;
  if (c.audio) m.audio = c.audio;
  if (c.annotations) m.annotations = c.annotations;
  return m;
}

/** The `chat.completion` a stream adds up to. `usage` fills in when the stream carried none. */
export function assembleChatCompletion(events: readonly CachedSseEvent[], usage: NormalizedUsage): Json {
  let head: Json | undefined;
  let streamUsage: unknown;
  const choices: ChoiceAcc[] = [];
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const chunk = parseObject(e.data);
    if (!chunk) continue;
    head ??= chunk;
    const u = asObject(chunk.usage);
    if (u) streamUsage = u;
    if (!Array.isArray(chunk.choices)) continue;
    for (const raw of chunk.choices) {
      const ch = asObject(raw);
      if (!ch) continue;
      const index = typeof ch.index === 'number' ? ch.index : 0;
      const c = (choices[index] ??= newChoice(index));
      const delta = asObject(ch.delta);
      if (delta) addDelta(c, delta);
      const lp = asObject(ch.logprobs);
      if (lp) addLogprobs(c, lp);
      if (typeof ch.finish_reason === 'string') c.finishReason = ch.finish_reason;
    }
  }
  const out: Json = {
    id: head?.id,
    object: 'chat.completion',
    created: head?.created,
    model: head?.model,
    choices: choices.filter(Boolean).map((c) => ({ index: c.index, message: finalMessage(c), logprobs: c.logprobs, finish_reason: c.finishReason })),
    usage: streamUsage ?? openAIUsage(usage),
  };
  if (head?.service_tier !== undefined) out.service_tier = head.service_tier;
  if (head?.system_fingerprint !== undefined) out.system_fingerprint = head.system_fingerprint;
  return out;
}

/** The chunk sequence OpenAI would have streamed for `completion`. */
export function chatCompletionEvents(completion: Json, opts: { includeUsage: boolean; usage: NormalizedUsage }): CachedSseEvent[] {
  const head: Json = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model };
  if (completion.service_tier !== undefined) head.service_tier = completion.service_tier;
  if (completion.system_fingerprint !== undefined) head.system_fingerprint = completion.system_fingerprint;
  const tail: Json = opts.includeUsage ? { usage: null } : {};
  const out: CachedSseEvent[] = [];
  const emit = (index: number, delta: Json, finish: unknown = null, logprobs: unknown = null): void => {
    out.push({ data: JSON.stringify({ ...head, choices: [{ index, delta, logprobs, finish_reason: finish }], ...tail }) });
  };
  const choices = Array.isArray(completion.choices) ? completion.choices : [];
  for (const raw of choices) {
    const choice = asObject(raw);
    if (!choice) continue;
    const index = typeof choice.index === 'number' ? choice.index : 0;
    const m = asObject(choice.message) ?? {};
    const content = typeof m.content === 'string' ? m.content : null;
    const toolCalls = Array.isArray(m.tool_calls) ? m.tool_calls.map(asObject).filter((t): t is Json => t !== undefined) : [];
    // Role first, as OpenAI does; content is '' when text follows and null before tool calls.
    emit(index, { role: typeof m.role === 'string' ? m.role : 'assistant', content: content === null ? null : '', refusal: null });
    for (const f of REASONING_FIELDS) if (typeof m[f] === 'string') for (const p of textPieces(m[f] as string)) emit(index, { [f]: p });
    // logprobs travel with the first content chunk: clients concatenate logprobs.content across chunks.
    let logprobs: unknown = choice.logprobs ?? null;
    for (const p of textPieces(content ?? '')) {
      emit(index, { content: p }, null, logprobs);
      logprobs = null;
    }
    if (typeof m.refusal === 'string') for (const p of textPieces(m.refusal)) emit(index, { refusal: p });
    if (Array.isArray(m.annotations) && m.annotations.length > 0) emit(index, { annotations: m.annotations });
    if (m.audio !== undefined && m.audio !== null) emit(index, { audio: m.audio });
    if (asObject(m.function_call)) emit(index, { function_call: m.function_call });
    toolCalls.forEach((tc, i) => {
      const fn = asObject(tc.function) ?? {};
      const args = typeof fn.arguments === 'string' ? fn.arguments : '';
      const { function: _f, ...rest } = tc;
      emit(index, { tool_calls: [{ index: i, ...rest, type: tc.type ?? 'function', function: { name: fn.name, arguments: '' } }] });
      for (const p of fragments(args)) emit(index, { tool_calls: [{ index: i, function: { arguments: p } }] });
    });
    emit(index, {}, choice.finish_reason ?? 'stop', logprobs);
  }
  if (opts.includeUsage) out.push({ data: JSON.stringify({ ...head, choices: [], usage: completion.usage ?? openAIUsage(opts.usage) }) });
  out.push(DONE);
  return out;
}

/**
 * A stored stream as an app sees it. Without include_usage, the usage-only chunk is dropped and
 * the `"usage":null` OpenAI adds to the other chunks removed (the proxy asked for usage upstream,
 * not the app). With it, a stream stored without a usage chunk gets one, built from the entry's usage.
 */
export function applyIncludeUsage(events: readonly CachedSseEvent[], includeUsage: boolean, usage: NormalizedUsage): CachedSseEvent[] {
  if (includeUsage) {
    if (events.some((e) => e.data.includes('"usage":{'))) return [...events];
    const first = events.find((e) => e.data.startsWith('{'));
    const head = first ? parseObject(first.data) : undefined;
    const usageChunk: CachedSseEvent = { data: JSON.stringify({ id: head?.id, object: 'chat.completion.chunk', created: head?.created, model: head?.model, choices: [], usage: openAIUsage(usage) }) };
    const done = events.findIndex((e) => e.data === '[DONE]');
    return done < 0 ? [...events, usageChunk] : [...events.slice(0, done), usageChunk, ...events.slice(done)];
  }
  const out: CachedSseEvent[] = [];
  for (const e of events) {
    if (e.data.includes('"usage":{')) {
      const json = parseObject(e.data);
      if (json && Array.isArray(json.choices) && json.choices.length === 0) continue;
      if (json && 'usage' in json) {
        delete json.usage;
        out.push({ ...e, data: JSON.stringify(json) });
        continue;
      }
    }
    // Inside JSON strings quotes are escaped, so the literal `"usage":null` is always a key.
    if (e.data.includes('"usage":null')) {
      out.push({ ...e, data: e.data.includes(',"usage":null') ? e.data.replace(',"usage":null', '') : e.data.replace('"usage":null,', '') });
      continue;
    }
    out.push(e);
  }
  return out;
}
