// Faults chosen per request, two ways:
//  - header `x-fake-fault: status=429,retry-after=2` — a comma-separated list of `key=value` or bare `key`;
//  - a magic model name, for clients that cannot set headers: `gpt-4o-fake-error-429`,
//    `…-fake-slow-<ms>`, `…-fake-cut-<n>`, `…-fake-malformed`, `…-fake-drip`.
// Both can be combined; the header wins where they overlap. The benchmark sends neither, so that case
// returns one shared frozen object without allocating or scanning anything.

export interface ForcedUsage {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
  /** Anthropic only: cache_creation_input_tokens. */
  cacheWrite: number;
}

export interface Faults {
  /** Answer with this HTTP status (400–599) in the API's own error shape. */
  status?: number;
  /** Raw body to send with `status` instead of the default error JSON (URL-encoded in the header). */
  body?: string;
  retryAfter?: string;
  retryAfterMs?: string;
  /** Delay before the response headers. */
  delayMs?: number;
  /** Delay between SSE events. */
  chunkDelayMs?: number;
  /** Destroy the socket after this many SSE events (or half the JSON body). */
  cutAfter?: number;
  /** Streams: leave out the last n events (the end markers) and end the response cleanly. */
  dropLast?: number;
  /** JSON: send the headers and half the body, wait this long, then the rest (a silence inside the body). */
  bodyDelayMs?: number;
  /** Status 200 but a body (or one SSE event) that is not valid JSON. */
  malformed?: boolean;
  /** Write the body this many bytes at a time, 5 ms apart (bare `drip` = 5 bytes). */
  dripBytes?: number;
  /** Answer with a tool call even if the request did not force one. */
  toolCall?: boolean;
  usage?: ForcedUsage;
  /** Make the answer exactly this many words. */
  words?: number;
  /**
   * Counted faults: the header's faults apply to the first n requests carrying that exact header
   * (per fake instance), later ones are answered without faults — "fail twice, then succeed".
   */
  times?: number;
  /** Set when the fault spec could not be understood: the request is answered with a 400 saying why. */
  invalid?: string;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({});

export const FAULT_HEADER = 'x-fake-fault';

export function parseFaults(header: string | string[] | undefined, model: unknown): Faults {
  const magic = typeof model === 'string' && model.includes('fake-');
  if (header === undefined && !magic) return NO_FAULTS;
  const faults: Faults = {};
  if (magic) applyModelFaults(faults, model);
  if (header !== undefined) {
    for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
      const trimmed = item.trim();
      if (trimmed === '') continue;
      const eq = trimmed.indexOf('=');
      const key = eq < 0 ? trimmed : trimmed.slice(0, eq).trim();
      const value = eq < 0 ? undefined : trimmed.slice(eq + 1).trim();
      const problem = applyFault(faults, key, value);
      if (problem) faults.invalid = `x-fake-fault: ${problem}`;
    }
  }
  return faults;
}

const MODEL_FAULT = /fake-(error|slow|cut)-(\d+)/g;

function applyModelFaults(faults: Faults, model: string): void {
  for (const [, kind, n] of model.matchAll(MODEL_FAULT)) {
    if (kind === 'error') faults.status = Number(n);
    else if (kind === 'slow') faults.delayMs = Number(n);
    else faults.cutAfter = Number(n);
  }
  if (model.includes('fake-malformed')) faults.malformed = true;
  if (model.includes('fake-drip')) faults.dripBytes = 5;
  if (faults.status !== undefined && (faults.status < 400 || faults.status > 599)) faults.invalid = `model "${model}": status must be 400-599`;
}

/** A non-negative integer, or undefined. */
function count(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Applies one `key[=value]`; returns a description of the problem if it is not understood. */
function applyFault(f: Faults, key: string, value: string | undefined): string | undefined {
  const n = count(value);
  const needCount = (set: (n: number) => void): string | undefined => {
    if (n === undefined) return `"${key}" needs a non-negative integer, got ${JSON.stringify(value)}`;
    set(n);
    return undefined;
  };
  switch (key) {
    case 'status':
      if (n === undefined || n < 400 || n > 599) return `"status" must be 400-599, got ${JSON.stringify(value)}`;
      f.status = n;
      return undefined;
    case 'body':
      try {
        f.body = decodeURIComponent(value ?? '');
      } catch {
        return '"body" is not valid URL-encoding';
      }
      return undefined;
    case 'retry-after':
      if (value === undefined) return '"retry-after" needs a value';
      f.retryAfter = value;
      return undefined;
    case 'retry-after-ms':
      if (value === undefined) return '"retry-after-ms" needs a value';
      f.retryAfterMs = value;
      return undefined;
    case 'delay':
      return needCount((v) => (f.delayMs = v));
    case 'chunk-delay':
      return needCount((v) => (f.chunkDelayMs = v));
    case 'cut':
      return needCount((v) => (f.cutAfter = v));
    case 'times':
      return needCount((v) => (f.times = v));
    case 'key':
      return undefined; // a label that makes a counted fault's header (its counter) unique
    case 'drop-last':
      return needCount((v) => (f.dropLast = v));
    case 'body-delay':
      return needCount((v) => (f.bodyDelayMs = v));
    case 'words':
      return needCount((v) => (f.words = v));
    case 'malformed':
      f.malformed = true;
      return undefined;
    case 'drip':
      if (value === undefined) f.dripBytes = 5;
      else return needCount((v) => (f.dripBytes = Math.max(1, v)));
      return undefined;
    case 'tool_call':
      f.toolCall = true;
      return undefined;
    case 'usage': {
      const parts = (value ?? '').split('/').map(count);
      if (parts.length < 2 || parts.length > 5 || parts.some((p) => p === undefined)) return `"usage" is input/output[/cached[/reasoning[/cacheWrite]]], got ${JSON.stringify(value)}`;
      const [input = 0, output = 0, cached = 0, reasoning = 0, cacheWrite = 0] = parts as number[];
      f.usage = { input, output, cached, reasoning, cacheWrite };
      return undefined;
    }
    default:
      return `unknown fault "${key}"`;
  }
}
