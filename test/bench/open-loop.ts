// Open-loop load at a fixed rate. Sends are scheduled at fixed intervals whatever the responses do,
// and every latency is measured from the SCHEDULED send time: a stalled target then shows up as
// growing latency instead of as a silently lower send rate (no coordinated omission, unlike a
// closed-loop tool that waits for a response before sending the next request).
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One run's raw samples; several runs (rounds) of a target are merged by `summarize`. */
export interface OpenLoopRun {
  scheduled: number;
  ok: number;
  non2xx: number;
  errors: number;
  timedOut: number;
  latencies: Float64Array;
  ttfbs: Float64Array;
  lags: Float64Array;
  errorSamples: string[];
}

export interface OpenLoopResult {
  rate: number;
  durationS: number;
  scheduled: number;
  /** Responses with a 2xx status that ended cleanly; only these have latencies. */
  ok: number;
  non2xx: number;
  errors: number;
  /** Still unanswered when the drain deadline passed; counted as failures. */
  timedOut: number;
  /** Scheduled send → response fully read, ms. */
  latencyMs: Percentiles;
  /** Scheduled send → first response body chunk, ms. */
  ttfbMs: Percentiles;
  /** Scheduled → actual dispatch, ms: the generator's own timer jitter, common to every target. */
  sendLagMs: Percentiles;
  errorSamples: string[];
}

export interface OpenLoopRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Nearest-rank percentiles of a sample (sorted in place). */
export function percentiles(values: Float64Array): Percentiles {
  const n = values.length;
  if (n === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  values.sort();
  const at = (p: number): number => values[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] as number;
  let sum = 0;
  for (const v of values) sum += v;
  return { count: n, p50: at(50), p90: at(90), p99: at(99), max: values[n - 1] as number, mean: sum / n };
}

function concat(arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** Merges a target's runs into one distribution (percentiles over all samples, not averaged). */
export function summarize(runs: OpenLoopRun[], rate: number): OpenLoopResult {
  const sum = (pick: (r: OpenLoopRun) => number): number => runs.reduce((n, r) => n + pick(r), 0);
  return {
    rate,
    durationS: sum((r) => r.scheduled) / rate,
    scheduled: sum((r) => r.scheduled),
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timedOut: sum((r) => r.timedOut),
    latencyMs: percentiles(concat(runs.map((r) => r.latencies))),
    ttfbMs: percentiles(concat(runs.map((r) => r.ttfbs))),
    sendLagMs: percentiles(concat(runs.map((r) => r.lags))),
    errorSamples: [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 5),
  };
}

/**
 * One keep-alive pool per target, reused across that target's runs, with enough connections
 * that requests never queue in the generator at the planned rate (queueing would still be
 * counted, since latency runs from the scheduled time).
 */
export function createLoadPool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000, keepAliveTimeout: 30_000 });
}

export async function runOpenLoop(
  pool: Pool,
  request: OpenLoopRequest,
  opts: {
    rate: number;
    durationS: number;
    drainTimeoutMs?: number;
    signal?: AbortSignal;
    /** Sees each response's status and headers (lower-case names), e.g. to read a timing header. */
    onHeaders?: (statusCode: number, headers: Record<string, string | string[] | undefined>) => void;
  },
): Promise<OpenLoopRun> {
  const total = Math.max(1, Math.round(opts.rate * opts.durationS));
  const intervalMs = 1000 / opts.rate;
  const latencies = new Float64Array(total);
  const ttfbs = new Float64Array(total);
  const lags = new Float64Array(total);
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  const errorSamples = new Set<string>();
  let onIdle: (() => void) | undefined;

  const finish = (): void => {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  };

  const send = (index: number, scheduledAt: number): void => {
    lags[index] = performance.now() - scheduledAt;
    inFlight++;
    let status = 0;
    let firstByteAt = 0;
    const handler: Dispatcher.DispatchHandler = {
      // undici 7 treats a handler as the controller-style API only when onRequestStart exists.
      onRequestStart: () => undefined,
      onResponseStart: (_c, statusCode, headers) => {
        status = statusCode;
        opts.onHeaders?.(statusCode, headers);
      },
      onResponseData: () => {
        if (firstByteAt === 0) firstByteAt = performance.now();
      },
      onResponseEnd: () => {
        const end = performance.now();
        if (status >= 200 && status < 300) {
          latencies[ok] = end - scheduledAt;
          ttfbs[ok] = (firstByteAt || end) - scheduledAt;
          ok++;
        } else {
          non2xx++;
          if (errorSamples.size < 5) errorSamples.add(`HTTP ${status}`);
        }
        finish();
      },
      onResponseError: (_c, err) => {
        errors++;
        if (errorSamples.size < 5) errorSamples.add(`${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`);
        finish();
      },
    };
    pool.dispatch({ path: request.path, method: 'POST', headers: request.headers, body: request.body }, handler);
  };

  // Timers have ~1 ms granularity, so each tick sends every request whose time has come, each
  // stamped with its own scheduled time. No busy-waiting: the machine's cores belong to the targets.
  const t0 = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (opts.signal?.aborted) return resolve();
      const now = performance.now();
      while (next < total && t0 + next * intervalMs <= now) {
        send(next, t0 + next * intervalMs);
        next++;
      }
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, t0 + next * intervalMs - performance.now()));
    };
    tick();
  });

  // Drain: wait for outstanding responses, but not forever.
  const drained = await new Promise<boolean>((resolve) => {
    if (inFlight === 0 || opts.signal?.aborted) return resolve(inFlight === 0);
    const done = (allAnswered: boolean): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(allAnswered);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), opts.drainTimeoutMs ?? 10_000);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    onIdle = () => done(true);
  });
  opts.signal?.throwIfAborted();

  return {
    scheduled: total,
    ok,
    non2xx,
    errors,
    timedOut: drained ? 0 : inFlight,
    latencies: latencies.subarray(0, ok),
    ttfbs: ttfbs.subarray(0, ok),
    lags,
    errorSamples: [...errorSamples],
  };
}
