// Retries of judge requests, done here rather than by the SDKs (they run with maxRetries: 0):
// the SDKs wait for any retry-after however long it is and cannot be interrupted between
// attempts. Here a retry-after longer than the configured cap leaves the call for the next pass
// instead of parking a worker, and stop() cancels a wait at once.
//
// What a failure means for the call being judged:
//   transient    429, 408, 409, 5xx, connection errors and timeouts: retried with backoff; when the
//                retries are used up the call is left unscored (no row) and picked up next pass.
//   misconfigured 401, 403, 404: no call can succeed until the configuration changes: the pass
//                stops for this evaluator, nothing is written.
//   rejected     any other 4xx (content too long, invalid request for this call): an error row.
//   aborted      the service is stopping.

export type FailureKind = 'transient' | 'misconfigured' | 'rejected' | 'aborted';

export interface ClassifiedFailure {
  kind: FailureKind;
  status?: number;
  /** From retry-after-ms or retry-after (seconds or an HTTP date), when the server sent one. */
  retryAfterMs?: number;
  message: string;
}

/** Thrown when a judge call cannot complete now; the call stays unscored. */
export class JudgeUnavailableError extends Error {
  override readonly name = 'JudgeUnavailableError';
  constructor(
    message: string,
    readonly kind: 'transient' | 'misconfigured' | 'aborted',
  ) {
    super(message);
  }
}

/** Thrown for a request the judge refuses for this call only (an error row records it). */
export class JudgeRejectedError extends Error {
  override readonly name = 'JudgeRejectedError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface SdkErrorLike {
  name?: unknown;
  status?: unknown;
  headers?: { get?: (name: string) => string | null } | undefined;
  message?: unknown;
}

function retryAfterMs(headers: SdkErrorLike['headers'], now: number): number | undefined {
  const get = headers?.get?.bind(headers);
  if (!get) return undefined;
  const ms = Number.parseFloat(get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = get('retry-after');
  if (header === null || header === '') return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Works on errors of both official SDKs (same APIError shape) and on plain network errors. */
export function classifyFailure(err: unknown, signal?: AbortSignal): ClassifiedFailure {
  const e = (err ?? {}) as SdkErrorLike;
  const message = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : String(err);
  if (signal?.aborted || e.name === 'APIUserAbortError' || e.name === 'AbortError') return { kind: 'aborted', message: 'stopped' };
  const status = typeof e.status === 'number' ? e.status : undefined;
  if (status === undefined) return { kind: 'transient', message: `connection error: ${message}` };
  const after = retryAfterMs(e.headers, Date.now());
  if (status === 429 || status === 408 || status === 409 || status >= 500) return { kind: 'transient', status, message, ...(after !== undefined ? { retryAfterMs: after } : {}) };
  if (status === 401 || status === 403 || status === 404) return { kind: 'misconfigured', status, message };
  return { kind: 'rejected', status, message };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new JudgeUnavailableError('stopped', 'aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new JudgeUnavailableError('stopped', 'aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  maxRetries: number;
  maxRetryAfterMs: number;
  /** First backoff without retry-after; doubles per retry up to maxBackoffMs, with jitter. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  signal?: AbortSignal;
}

/** Full-jitter exponential backoff: spreads the retries of concurrent workers. */
export function backoffMs(retry: number, base: number, max: number): number {
  const ceiling = Math.min(max, base * 2 ** retry);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Runs one judge request with retries. Resolves with its result, or throws JudgeUnavailableError
 * (leave the call for later / stop) or JudgeRejectedError (record an error row).
 */
export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 8_000;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      const f = classifyFailure(err, options.signal);
      if (f.kind === 'aborted') throw new JudgeUnavailableError('stopped', 'aborted');
      if (f.kind === 'misconfigured') throw new JudgeUnavailableError(`judge answered ${f.status}: ${f.message}`, 'misconfigured');
      if (f.kind === 'rejected') throw new JudgeRejectedError(`judge answered ${f.status}: ${f.message}`, f.status ?? 400);
      if (retry >= options.maxRetries) throw new JudgeUnavailableError(`judge unavailable after ${retry + 1} attempts: ${f.message}`, 'transient');
      if (f.retryAfterMs !== undefined && f.retryAfterMs > options.maxRetryAfterMs) {
        throw new JudgeUnavailableError(`judge asked to retry after ${Math.round(f.retryAfterMs)} ms (more than maxRetryAfterMs ${options.maxRetryAfterMs}): ${f.message}`, 'transient');
      }
      await sleep(f.retryAfterMs ?? backoffMs(retry, base, max), options.signal);
    }
  }
}
