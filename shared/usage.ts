// Token usage normalised to the OpenTelemetry GenAI conventions (semconv v1.41.1):
//   inputTokens counts ALL input tokens, cached ones included; cache reads and writes are subsets.
//   outputTokens counts ALL output tokens; reasoning tokens are a subset.
// The providers disagree: OpenAI's prompt_tokens already include cached tokens; Anthropic's
// input_tokens EXCLUDE cache reads and cache writes, which must be added. Getting this wrong
// double-counts or under-counts cost (a common failure of peer gateways).
//
// Every function here is total: odd input (nulls, strings, negatives, NaN) never throws, it counts
// as 0, and the subset invariants (cache ≤ input, reasoning ≤ output) always hold on the result.

export interface NormalizedUsage {
  /** All input tokens, cached included (gen_ai.usage.input_tokens). */
  inputTokens: number;
  /** Subset of input read from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Subset of input written to the cache with a 5-minute TTL (Anthropic), or OpenAI's cache writes (TTL not split). */
  cacheWrite5mTokens: number;
  /** Subset of input written to the cache with a 1-hour TTL (Anthropic). */
  cacheWrite1hTokens: number;
  /** All output tokens, reasoning included. */
  outputTokens: number;
  /** Subset of output spent on reasoning / thinking. */
  reasoningTokens: number;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** A non-negative integer, or 0 for anything else (providers send null for "not applicable"). */
function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/** Whether a field was reported at all (a number, even 0) as opposed to absent or null. */
function has(o: Json, key: string): boolean {
  return typeof o[key] === 'number';
}

export const ZERO_USAGE: Readonly<NormalizedUsage> = Object.freeze({
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/**
 * OpenAI shape (chat and Responses alike): input and output totals that already contain their
 * details. Details larger than their total (a buggy compatible server) are clamped so the subsets
 * stay subsets and cost is never charged twice.
 */
function openAI(input: number, cached: number, cacheWrite: number, output: number, reasoning: number): NormalizedUsage {
  const cacheReadTokens = Math.min(cached, input);
  return {
    inputTokens: input,
    cacheReadTokens,
    cacheWrite5mTokens: Math.min(cacheWrite, input - cacheReadTokens),
    cacheWrite1hTokens: 0,
    outputTokens: output,
    reasoningTokens: Math.min(reasoning, output),
  };
}

/**
 * OpenAI chat completions: `prompt_tokens` include `prompt_tokens_details.cached_tokens` (and
 * `cache_write_tokens`, reported by models that bill cache writes); `completion_tokens` include
 * `completion_tokens_details.reasoning_tokens`.
 */
export function fromOpenAIChatUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const inDetails = obj(usage.prompt_tokens_details);
  return openAI(
    n(usage.prompt_tokens),
    n(inDetails?.cached_tokens),
    n(inDetails?.cache_write_tokens),
    n(usage.completion_tokens),
    n(obj(usage.completion_tokens_details)?.reasoning_tokens),
  );
}

/** OpenAI Responses API: `input_tokens` include `input_tokens_details.cached_tokens`. */
export function fromOpenAIResponsesUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const inDetails = obj(usage.input_tokens_details);
  return openAI(
    n(usage.input_tokens),
    n(inDetails?.cached_tokens),
    n(inDetails?.cache_write_tokens),
    n(usage.output_tokens),
    n(obj(usage.output_tokens_details)?.reasoning_tokens),
  );
}

/** OpenAI embeddings: input only (`prompt_tokens`, else `total_tokens`, which are equal). */
export function fromOpenAIEmbeddingsUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  return { ...ZERO_USAGE, inputTokens: has(usage, 'prompt_tokens') ? n(usage.prompt_tokens) : n(usage.total_tokens) };
}

/**
 * Cache writes split by TTL. `cache_creation_input_tokens` is the billed total; the
 * `cache_creation` breakdown (newer API versions) says how much of it had a 1-hour TTL. Without a
 * breakdown every write counts as 5-minute (the default TTL). When the breakdown disagrees with
 * the total, the total wins and the 1-hour part is trusted up to it.
 */
function cacheWrites(usage: Json): { w5m: number; w1h: number } {
  const split = obj(usage.cache_creation);
  const total = has(usage, 'cache_creation_input_tokens')
    ? n(usage.cache_creation_input_tokens)
    : n(split?.ephemeral_5m_input_tokens) + n(split?.ephemeral_1h_input_tokens);
  const w1h = Math.min(n(split?.ephemeral_1h_input_tokens), total);
  return { w5m: total - w1h, w1h };
}

/**
 * Anthropic: `input_tokens` EXCLUDE cache reads and writes, so all three are added. Thinking is
 * billed inside `output_tokens`; newer API versions also report it in
 * `output_tokens_details.thinking_tokens` (a subset), older ones do not (reasoning 0).
 */
export function fromAnthropicUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const read = n(usage.cache_read_input_tokens);
  const { w5m, w1h } = cacheWrites(usage);
  const output = n(usage.output_tokens);
  return {
    inputTokens: n(usage.input_tokens) + read + w5m + w1h,
    cacheReadTokens: read,
    cacheWrite5mTokens: w5m,
    cacheWrite1hTokens: w1h,
    outputTokens: output,
    reasoningTokens: Math.min(n(obj(usage.output_tokens_details)?.thinking_tokens), output),
  };
}

/**
 * Anthropic streams: `message_start.message.usage` carries the input and cache tokens and a
 * provisional output count; `message_delta.usage` carries the final, CUMULATIVE `output_tokens`
 * (so it replaces, never adds) and, in newer API versions, repeats the cumulative input fields —
 * each one present there wins. An input side reported as all zeros is a placeholder, not a
 * correction (a message always has input), so it keeps what `message_start` said.
 */
export function mergeAnthropicStreamUsage(start: NormalizedUsage | undefined, deltaUsage: unknown): NormalizedUsage | undefined {
  const delta = obj(deltaUsage);
  if (!delta) return start;
  const base = start ?? ZERO_USAGE;
  const d = fromAnthropicUsage(delta) ?? ZERO_USAGE;

  let { inputTokens, cacheReadTokens, cacheWrite5mTokens, cacheWrite1hTokens } = base;
  const reportsWrites = has(delta, 'cache_creation_input_tokens') || obj(delta.cache_creation) !== undefined;
  const reportsInput = has(delta, 'input_tokens') || has(delta, 'cache_read_input_tokens') || reportsWrites;
  if (reportsInput && d.inputTokens > 0) {
    const uncached = has(delta, 'input_tokens') ? n(delta.input_tokens) : base.inputTokens - base.cacheReadTokens - base.cacheWrite5mTokens - base.cacheWrite1hTokens;
    if (has(delta, 'cache_read_input_tokens')) cacheReadTokens = d.cacheReadTokens;
    if (reportsWrites) {
      cacheWrite5mTokens = d.cacheWrite5mTokens;
      cacheWrite1hTokens = d.cacheWrite1hTokens;
    }
    inputTokens = uncached + cacheReadTokens + cacheWrite5mTokens + cacheWrite1hTokens;
  }

  const outputTokens = has(delta, 'output_tokens') ? d.outputTokens : base.outputTokens;
  const reasoning = obj(delta.output_tokens_details) ? d.reasoningTokens : base.reasoningTokens;
  return { inputTokens, cacheReadTokens, cacheWrite5mTokens, cacheWrite1hTokens, outputTokens, reasoningTokens: Math.min(reasoning, outputTokens) };
}
