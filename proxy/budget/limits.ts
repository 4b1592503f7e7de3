// Per-request limits: the estimated input against the route's maxInputTokens (reject, or trim the
// conversation to its newest turns), and the answer's cap (max_tokens & co.) lowered to the
// route's maxOutputTokens, or set to it when the app sent none.
//
// Trimming rules:
// - System prompts are never dropped: OpenAI `system`/`developer` messages (wherever they are),
//   Anthropic's top-level `system`, Responses `instructions` and system/developer input items.
// - Only whole turns are dropped, oldest first: the kept conversation starts at a user message.
// - A tool call and its result stay together (OpenAI tool_calls[].id ↔ tool_call_id, legacy
//   function_call ↔ role "function", Anthropic tool_use.id ↔ tool_result.tool_use_id, Responses
//   call_id, and a Responses reasoning item with the item after it).
// - When even the system prompt plus the newest turn does not fit, the request is rejected.
//
// Token estimates come from the caller's estimator (the proxy uses gpt-tokenizer o200k for OpenAI
// and chars/3.5 for Anthropic); the default is chars/4. Each message adds 4 tokens of framing;
// images, audio and base64 attachments count a flat 1,000 tokens each (their real cost depends
// on size). Estimates of the same body are deterministic, so the trimmed result is re-checked
// with the same numbers. A Responses `previous_response_id` conversation is not seen here.
import type { PerRequestConfig } from '../../shared/config/budgets.ts';

export type JsonObject = Record<string, unknown>;
export type TokenEstimator = (text: string) => number;
export type RequestShape = 'openai-chat' | 'openai-responses' | 'anthropic-messages' | 'openai-embeddings';

/** chars/4: the default when the caller has no better estimator. */
export const charsPerFour: TokenEstimator = (text) => Math.ceil(text.length / 4);

/** Output cap assumed for the reservation when neither the request nor the route sets one. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;
const PER_ITEM_TOKENS = 4;
const ATTACHMENT_TOKENS = 1_000;
const ATTACHMENT_TYPES = new Set(['image', 'image_url', 'input_image', 'input_audio']);

export interface RouteRequestLimits {
  maxInputTokens: number | undefined;
  maxOutputTokens: number | undefined;
  onInputOverLimit: 'reject' | 'trim';
}

/** The limits of one route: `perRequest.routes[route]` field by field over `perRequest.default`. */
export function requestLimitsFor(perRequest: PerRequestConfig, route: string): RouteRequestLimits {
  const own = Object.hasOwn(perRequest.routes, route) ? perRequest.routes[route] : undefined;
  const d = perRequest.default;
  return {
    maxInputTokens: own?.maxInputTokens ?? d.maxInputTokens,
    maxOutputTokens: own?.maxOutputTokens ?? d.maxOutputTokens,
    onInputOverLimit: own?.onInputOverLimit ?? d.onInputOverLimit ?? 'reject',
  };
}

/** The request shape of an inbound path, or undefined for paths without per-request limits. */
export function requestShapeOf(path: string): RequestShape | undefined {
  const p = path.split('?')[0] ?? '';
  if (p.endsWith('/chat/completions')) return 'openai-chat';
  if (p.endsWith('/responses')) return 'openai-responses';
  if (p.endsWith('/messages')) return 'anthropic-messages';
  if (p.endsWith('/embeddings')) return 'openai-embeddings';
  return undefined;
}

export interface LimitsApplied {
  ok: true;
  /** The body to send: the same object when nothing changed (keep the raw bytes then). */
  body: JsonObject;
  changed: boolean;
  /** Estimated input tokens of `body`. */
  inputTokens: number;
  /** The answer's cap after limits (requested, route cap, or DEFAULT_MAX_OUTPUT_TOKENS); 0 for embeddings. */
  maxOutputTokens: number;
  /** inputTokens + maxOutputTokens: what to reserve against budgets. */
  reserveTokens: number;
  /** Set when turns were dropped. */
  trimmed: { droppedItems: number; inputTokensBefore: number } | undefined;
  maxTokens: 'unchanged' | 'set' | 'capped' | 'not-applicable';
}

export interface LimitsRejected {
  ok: false;
  code: 'input_too_large';
  message: string;
  inputTokens: number;
  limit: number;
}

export type LimitsOutcome = LimitsApplied | LimitsRejected;

export interface LimitsOptions {
  estimate?: TokenEstimator;
  /** Output cap assumed for the reservation when none is requested or configured. */
  defaultMaxOutputTokens?: number;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Estimation

interface Collected {
  parts: string[];
  attachments: number;
}

/** Text parts in document order. Iterative (a work stack), so nesting depth cannot overflow the call stack. */
function collect(root: unknown, acc: Collected): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (value.length > 256 && value.startsWith('data:')) acc.attachments++;
      else acc.parts.push(value);
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
      continue;
    }
    if (!isObject(value)) continue;
    if (typeof value.type === 'string' && ATTACHMENT_TYPES.has(value.type)) {
      acc.attachments++;
      continue;
    }
    const children: unknown[] = [];
    for (const k in value) {
      if (k === 'type' || k === 'role' || k === 'cache_control') continue;
      if (k === 'data' && value.type === 'base64') {
        acc.attachments++; // Anthropic base64 image/document source
        continue;
      }
      children.push(value[k]);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}

function estimateValue(value: unknown, estimate: TokenEstimator): number {
  if (value === undefined || value === null) return 0;
  const acc: Collected = { parts: [], attachments: 0 };
  collect(value, acc);
  const text = acc.parts.join('\n');
  const n = text.length === 0 ? 0 : estimate(text);
  return (Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0) + acc.attachments * ATTACHMENT_TOKENS;
}

/** The trimmable list of a request and everything else that counts as input. */
interface Anatomy {
  listKey: 'messages' | 'input' | undefined;
  items: unknown[];
  /** Tokens outside the list (system prompt, instructions, tools, response format). */
  fixedTokens: number;
  itemTokens: number[];
  pinned: boolean[];
  turnStart: boolean[];
  links: string[][];
}

function anatomy(shape: RequestShape, body: JsonObject, estimate: TokenEstimator): Anatomy {
  const est = (v: unknown): number => estimateValue(v, estimate);
  let listKey: Anatomy['listKey'];
  let items: unknown[] = [];
  let fixedTokens = 0;
  if (shape === 'openai-chat') {
    listKey = 'messages';
    items = Array.isArray(body.messages) ? body.messages : [];
    fixedTokens = est(body.tools) + est(body.functions) + est(body.response_format);
  } else if (shape === 'anthropic-messages') {
    listKey = 'messages';
    items = Array.isArray(body.messages) ? body.messages : [];
    fixedTokens = est(body.system) + est(body.tools);
  } else if (shape === 'openai-responses') {
    fixedTokens = est(body.instructions) + est(body.tools) + est(isObject(body.text) ? body.text.format : undefined);
    if (Array.isArray(body.input)) {
      listKey = 'input';
      items = body.input;
    } else {
      fixedTokens += est(body.input) + (body.input === undefined ? 0 : PER_ITEM_TOKENS);
    }
  } else {
    const input = body.input;
    // Token-id arrays count one token per id.
    const ids = Array.isArray(input) ? input.flat().filter((x) => typeof x === 'number').length : 0;
    fixedTokens = est(input) + ids;
  }

  const n = items.length;
  const itemTokens = new Array<number>(n);
  const pinned = new Array<boolean>(n).fill(false);
  const turnStart = new Array<boolean>(n).fill(false);
  const links: string[][] = Array.from({ length: n }, () => []);
  let lastFunctionCall = -1;
  for (let i = 0; i < n; i++) {
    const item = items[i];
    itemTokens[i] = est(item) + PER_ITEM_TOKENS;
    if (!isObject(item)) continue;
    const role = item.role;
    const own = links[i] as string[];
    if (shape === 'openai-chat') {
      pinned[i] = role === 'system' || role === 'developer';
      turnStart[i] = role === 'user';
      if (role === 'assistant') {
        if (Array.isArray(item.tool_calls)) for (const tc of item.tool_calls) if (isObject(tc) && typeof tc.id === 'string') own.push(`tc:${tc.id}`);
        if (item.function_call !== undefined && item.function_call !== null) {
          lastFunctionCall = i;
          own.push(`fn:${i}`);
        }
      } else if (role === 'tool' && typeof item.tool_call_id === 'string') own.push(`tc:${item.tool_call_id}`);
      else if (role === 'function' && lastFunctionCall >= 0) own.push(`fn:${lastFunctionCall}`);
    } else if (shape === 'anthropic-messages') {
      turnStart[i] = role === 'user';
      if (Array.isArray(item.content)) {
        for (const block of item.content) {
          if (!isObject(block)) continue;
          if (typeof block.type === 'string' && block.type.endsWith('tool_use') && typeof block.id === 'string') own.push(`tu:${block.id}`);
          if (typeof block.tool_use_id === 'string') own.push(`tu:${block.tool_use_id}`);
        }
      }
    } else {
      const type = item.type;
      const isMessage = type === undefined || type === 'message';
      pinned[i] = isMessage && (role === 'system' || role === 'developer');
      turnStart[i] = isMessage && role === 'user';
      if (typeof item.call_id === 'string') own.push(`call:${item.call_id}`);
      // A reasoning item belongs to the item that follows it.
      if (type === 'reasoning' && i + 1 < n) {
        own.push(`rs:${i}`);
        (links[i + 1] as string[]).push(`rs:${i}`);
      }
    }
  }
  return { listKey, items, fixedTokens, itemTokens, pinned, turnStart, links };
}

function totalTokens(a: Anatomy): number {
  let t = a.fixedTokens;
  for (const n of a.itemTokens) t += n;
  return t;
}

/** Estimated input tokens of a request body (same numbers the limits use). */
export function estimateInputTokens(shape: RequestShape, body: JsonObject, estimate: TokenEstimator = charsPerFour): number {
  return totalTokens(anatomy(shape, body, estimate));
}

// ---------------------------------------------------------------------------------------------
// Trimming

/** Index (among the non-pinned items) of the oldest item to keep, or -1 when nothing fits. */
function chooseCut(a: Anatomy, max: number): number {
  const conv: number[] = [];
  let pinnedTokens = 0;
  a.items.forEach((_, i) => {
    if (a.pinned[i]) pinnedTokens += a.itemTokens[i] as number;
    else conv.push(i);
  });
  const m = conv.length;
  // Cuts inside a tool-call group are invalid: mark (first, last] of every group.
  const span = new Map<string, [number, number]>();
  conv.forEach((idx, p) => {
    for (const id of a.links[idx] as string[]) {
      const s = span.get(id);
      if (s === undefined) span.set(id, [p, p]);
      else s[1] = p;
    }
  });
  const diff = new Array<number>(m + 1).fill(0);
  for (const [first, last] of span.values()) {
    if (last > first) {
      diff[first + 1] = (diff[first + 1] as number) + 1;
      diff[last + 1] = (diff[last + 1] as number) - 1;
    }
  }
  const suffix = new Array<number>(m + 1).fill(0);
  for (let p = m - 1; p >= 0; p--) suffix[p] = (suffix[p + 1] as number) + (a.itemTokens[conv[p] as number] as number);
  let inside = 0;
  for (let c = 0; c < m; c++) {
    inside += diff[c] as number;
    const valid = c === 0 || (inside === 0 && a.turnStart[conv[c] as number] === true);
    if (valid && a.fixedTokens + pinnedTokens + (suffix[c] as number) <= max) return conv[c] as number;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Output cap

const OUTPUT_FIELDS: Record<RequestShape, readonly string[]> = {
  // max_completion_tokens first: max_tokens is deprecated and rejected by reasoning models.
  'openai-chat': ['max_completion_tokens', 'max_tokens'],
  'openai-responses': ['max_output_tokens'],
  'anthropic-messages': ['max_tokens'],
  'openai-embeddings': [],
};

/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1_024;

function applyOutputCap(shape: RequestShape, body: JsonObject, cap: number | undefined, fallback: number): { body: JsonObject; max: number; action: LimitsApplied['maxTokens'] } {
  const fields = OUTPUT_FIELDS[shape];
  if (fields.length === 0) return { body, max: 0, action: 'not-applicable' };
  const present = fields.filter((f) => typeof body[f] === 'number' && Number.isFinite(body[f]) && (body[f] as number) > 0);
  if (cap === undefined) {
    const requested = present.map((f) => body[f] as number);
    return { body, max: requested.length > 0 ? Math.min(...requested) : fallback, action: 'unchanged' };
  }
  let out = body;
  let action: LimitsApplied['maxTokens'] = 'unchanged';
  if (present.length === 0) {
    out = { ...body, [fields[0] as string]: cap };
    action = 'set';
  } else {
    for (const f of present) {
      if ((body[f] as number) > cap) {
        if (out === body) out = { ...body };
        out[f] = cap;
        action = 'capped';
      }
    }
  }
  let max = Math.min(cap, ...present.map((f) => out[f] as number));
  if (shape === 'anthropic-messages' && action !== 'unchanged' && isObject(out.thinking) && out.thinking.type === 'enabled') {
    // budget_tokens must stay below max_tokens, or Anthropic rejects the request.
    const budget = out.thinking.budget_tokens;
    if (typeof budget === 'number' && budget >= max && max - 1 >= MIN_THINKING_BUDGET) out = { ...out, thinking: { ...out.thinking, budget_tokens: max - 1 } };
  }
  max = Math.max(0, max);
  return { body: out, max, action };
}

// ---------------------------------------------------------------------------------------------

/**
 * Applies a route's per-request limits to a parsed request body. Returns the body to send (a new
 * object when anything changed; the input is never mutated) with the estimates to reserve, or a
 * rejection when the input cannot be brought under maxInputTokens.
 */
export function applyRequestLimits(shape: RequestShape, body: JsonObject, limits: RouteRequestLimits, options: LimitsOptions = {}): LimitsOutcome {
  const estimate = options.estimate ?? charsPerFour;
  const fallback = options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const a = anatomy(shape, body, estimate);
  const before = totalTokens(a);
  let inputTokens = before;
  let current = body;
  let trimmed: LimitsApplied['trimmed'];

  const max = limits.maxInputTokens;
  if (max !== undefined && before > max) {
    const canTrim = limits.onInputOverLimit === 'trim' && a.listKey !== undefined && a.items.length > 0;
    const cutAt = canTrim ? chooseCut(a, max) : -1;
    if (cutAt < 0) {
      const why = !canTrim
        ? limits.onInputOverLimit === 'trim'
          ? 'and this request has no conversation to trim'
          : 'and the route rejects oversized input (onInputOverLimit: reject)'
        : 'even with only the system prompt and the newest turn';
      return { ok: false, code: 'input_too_large', message: `estimated input of ${before} tokens exceeds this route's maxInputTokens of ${max} ${why}`, inputTokens: before, limit: max };
    }
    const kept = a.items.filter((_, i) => i >= cutAt || a.pinned[i] === true);
    if (kept.length < a.items.length) {
      current = { ...body, [a.listKey as string]: kept };
      inputTokens = a.fixedTokens;
      a.items.forEach((_, i) => {
        if (i >= cutAt || a.pinned[i]) inputTokens += a.itemTokens[i] as number;
      });
      trimmed = { droppedItems: a.items.length - kept.length, inputTokensBefore: before };
    }
  }

  const out = applyOutputCap(shape, current, limits.maxOutputTokens, fallback);
  return {
    ok: true,
    body: out.body,
    changed: out.body !== body,
    inputTokens,
    maxOutputTokens: out.max,
    reserveTokens: inputTokens + out.max,
    trimmed,
    maxTokens: out.action,
  };
}
