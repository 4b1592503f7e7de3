// What the evaluator reads from a sampled call: the GenAI semconv message JSON the proxy stores in
// llm_calls (InputMessages / OutputMessages: [{role, parts:[{type, content|name|arguments|response}],
// finish_reason?}], SystemInstructions: [{type, content}]) turned into the texts a rubric shows.
// Total: malformed or missing JSON yields empty texts, never an exception.

export interface CallContent {
  /** The conversation before the answer, one "[role] text" block per message. */
  input: string;
  /** Text of the latest user message (the request this answer responds to). */
  lastUserText: string;
  /** The answer as the judge sees it: text, then tool calls. */
  output: string;
  /** Only the answer's text parts. */
  outputText: string;
  /** The answer called tools. */
  hasToolCalls: boolean;
  system: string;
  /**
   * Material the model was given to ground its answer: tool results in the conversation
   * (retrieval and function calls). Empty when there were none.
   */
  context: string;
  /** finish_reason of each output message, as the provider named it. */
  finishReasons: string[];
}

/** Per variable: a judge prompt stays bounded whatever the call's size (the cut is marked). */
export const MAX_CONTENT_CHARS = 24_000;

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function parseArray(text: string): unknown[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  // Tool results are often content-block arrays: keep their text.
  if (Array.isArray(v)) return v.map((x) => (typeof obj(x)?.text === 'string' ? (obj(x)?.text as string) : asText(x))).join('\n');
  return JSON.stringify(v);
}

export function truncate(text: string, max = MAX_CONTENT_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}\n[… ${text.length - max} more characters not shown]` : text;
}

interface Rendered {
  text: string;
  toolCalls: string[];
  toolResults: string[];
}

function renderParts(parts: unknown): Rendered {
  const out: Rendered = { text: '', toolCalls: [], toolResults: [] };
  const texts: string[] = [];
  for (const raw of Array.isArray(parts) ? parts : []) {
    const p = obj(raw);
    if (!p) continue;
    if (p.type === 'text' && typeof p.content === 'string') texts.push(p.content);
    else if (p.type === 'tool_call') out.toolCalls.push(`${String(p.name ?? 'tool')}(${asText(p.arguments)})`);
    else if (p.type === 'tool_call_response') out.toolResults.push(asText(p.response));
    else if (p.type === 'image') texts.push('[image]');
  }
  out.text = texts.join('\n');
  return out;
}

export function parseCallContent(inputMessages: string, outputMessages: string, systemInstructions: string): CallContent {
  const blocks: string[] = [];
  const context: string[] = [];
  let lastUserText = '';
  for (const raw of parseArray(inputMessages)) {
    const m = obj(raw);
    if (!m) continue;
    const role = typeof m.role === 'string' ? m.role : 'user';
    const r = renderParts(m.parts);
    if (r.text) blocks.push(`[${role}] ${r.text}`);
    for (const call of r.toolCalls) blocks.push(`[${role} → tool call] ${call}`);
    for (const result of r.toolResults) {
      blocks.push(`[tool result] ${result}`);
      context.push(result);
    }
    if (role === 'user' && r.text) lastUserText = r.text;
  }

  const outTexts: string[] = [];
  const outCalls: string[] = [];
  const finishReasons: string[] = [];
  for (const raw of parseArray(outputMessages)) {
    const m = obj(raw);
    if (!m) continue;
    const r = renderParts(m.parts);
    if (r.text) outTexts.push(r.text);
    outCalls.push(...r.toolCalls);
    if (typeof m.finish_reason === 'string' && m.finish_reason) finishReasons.push(m.finish_reason);
  }
  const outputText = outTexts.join('\n');
  const output = [outputText, ...outCalls.map((c) => `[tool call] ${c}`)].filter(Boolean).join('\n');

  const system = parseArray(systemInstructions)
    .map((p) => (typeof obj(p)?.content === 'string' ? (obj(p)?.content as string) : ''))
    .filter(Boolean)
    .join('\n');

  return {
    input: truncate(blocks.join('\n\n')),
    lastUserText,
    output: truncate(output),
    outputText,
    hasToolCalls: outCalls.length > 0,
    system: truncate(system),
    context: truncate(context.join('\n\n')),
    finishReasons,
  };
}

/** A calibration example (plain strings) in the same shape as a live call. */
export function exampleContent(e: { input: string; output: string; context?: string; system?: string }): CallContent {
  return {
    input: truncate(`[user] ${e.input}`),
    lastUserText: e.input,
    output: truncate(e.output),
    outputText: e.output,
    hasToolCalls: false,
    system: truncate(e.system ?? ''),
    context: truncate(e.context ?? ''),
    finishReasons: [],
  };
}
