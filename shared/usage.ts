// Token usage normalised to the OpenTelemetry GenAI conventions (semconv v1.41.1):
//   inputTokens counts ALL input tokens, cached ones included; cache reads and writes are subsets.
//   outputTokens counts ALL output tokens; reasoning tokens are a subset.
// The providers disagree: OpenAI's prompt_tokens already include cached tokens; Anthropic's
// input_tokens EXCLUDE cache reads and cache writes, which must be added. Getting this wrong
// double-counts or under-counts cost (a common failure of peer gateways).

export interface NormalizedUsage {
  /** All input tokens, cached included (gen_ai.usage.input_tokens). */
  inputTokens: number;
  /** Subset of input read from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Subset of input written to the cache with a 5-minute TTL (Anthropic; OpenAI has no write charge). */
  cacheWrite5mTokens: number;
  /** Subset of input written to the cache with a 1-hour TTL (Anthropic). */
  cacheWrite1hTokens: number;
  /** All output tokens, reasoning included. */
  outputTokens: number;
  /** Subset of output spent on reasoning (OpenAI reports it; Anthropic bills thinking as output without a split). */
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

export const ZERO_USAGE: Readonly<NormalizedUsage> = Object.freeze({
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/** OpenAI chat completions: `prompt_tokens` include `prompt_tokens_details.cached_tokens`. */
export function fromOpenAIChatUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  return {
    inputTokens: n(usage.prompt_tokens),
    cacheReadTokens: n(obj(usage.prompt_tokens_details)?.cached_tokens),
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: n(usage.completion_tokens),
    reasoningTokens: n(obj(usage.completion_tokens_details)?.reasoning_tokens),
  };
}

/** OpenAI Responses API: `input_tokens` include `input_tokens_details.cached_tokens`. */
export function fromOpenAIResponsesUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  return {
    inputTokens: n(usage.input_tokens),
    cacheReadTokens: n(obj(usage.input_tokens_details)?.cached_tokens),
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: n(usage.output_tokens),
    reasoningTokens: n(obj(usage.output_tokens_details)?.reasoning_tokens),
  };
}

/** OpenAI embeddings: input only. */
export function fromOpenAIEmbeddingsUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  return { ...ZERO_USAGE, inputTokens: n(usage.prompt_tokens) };
}

/**
 * Anthropic: `input_tokens` exclude cache reads and writes, so all three are added. Cache writes
 * are split by TTL in `cache_creation`; without that breakdown they count as 5-minute writes.
 */
export function fromAnthropicUsage(u: unknown): NormalizedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const uncached = n(usage.input_tokens);
  const read = n(usage.cache_read_input_tokens);
  const created = n(usage.cache_creation_input_tokens);
  const split = obj(usage.cache_creation);
  let w5m = created;
  let w1h = 0;
  if (split) {
    w1h = n(split.ephemeral_1h_input_tokens);
    w5m = n(split.ephemeral_5m_input_tokens);
    // Trust the total when the breakdown does not add up to it.
    if (w5m + w1h !== created) w5m = Math.max(0, created - w1h);
  }
  return {
    inputTokens: uncached + read + created,
    cacheReadTokens: read,
    cacheWrite5mTokens: w5m,
    cacheWrite1hTokens: w1h,
    outputTokens: n(usage.output_tokens),
    reasoningTokens: 0,
  };
}

/**
 * Anthropic streams: `message_start` carries input and cache tokens (and a provisional output
 * count); `message_delta` carries the final, cumulative `output_tokens`, and in newer API versions
 * may repeat the input fields — when present there, they win.
 */
export function mergeAnthropicStreamUsage(start: NormalizedUsage | undefined, deltaUsage: unknown): NormalizedUsage | undefined {
  const delta = obj(deltaUsage);
  if (!delta) return start;
  const hasInput = 'input_tokens' in delta || 'cache_read_input_tokens' in delta || 'cache_creation_input_tokens' in delta;
  if (hasInput && n(delta.input_tokens) + n(delta.cache_read_input_tokens) + n(delta.cache_creation_input_tokens) > 0) {
    const full = fromAnthropicUsage(delta) as NormalizedUsage;
    return { ...full, outputTokens: 'output_tokens' in delta ? n(delta.output_tokens) : (start?.outputTokens ?? 0) };
  }
  const base = start ?? { ...ZERO_USAGE };
  return { ...base, outputTokens: 'output_tokens' in delta ? n(delta.output_tokens) : base.outputTokens };
}
