// How long to wait before a retry: exponential backoff with full jitter, unless the provider said
// when to come back (`retry-after-ms`, `retry-after` in seconds or as a date, or the rate-limit
// reset headers of OpenAI and Anthropic) — always capped.
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function fullJitter(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(o.maxMs, o.baseMs * 2 ** attempt));
}

/** OpenAI's reset headers look like "1s", "6m0s", "250ms". */
function parseDuration(v: string): number | undefined {
  let total = 0;
  let matched = false;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    matched = true;
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return matched ? total : undefined;
}

type Headers = Record<string, string | string[] | undefined>;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The delay the provider asked for, in ms, or undefined. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = first(headers['retry-after']);
  if (ra !== undefined) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const openai = first(headers['x-ratelimit-reset-requests']) ?? first(headers['x-ratelimit-reset-tokens']);
  if (openai !== undefined) return parseDuration(openai);
  const anthropic = first(headers['anthropic-ratelimit-requests-reset']) ?? first(headers['anthropic-ratelimit-tokens-reset']);
  if (anthropic !== undefined) {
    const date = Date.parse(anthropic);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

export function retryDelayMs(attempt: number, headers: Headers | undefined, o: BackoffOptions & { maxRetryAfterMs: number }): number {
  const asked = headers ? retryAfterMs(headers) : undefined;
  if (asked !== undefined) return Math.min(asked, o.maxRetryAfterMs);
  return fullJitter(attempt, o);
}
