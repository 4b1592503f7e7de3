// Throughput at saturation: autocannon keeps N connections busy (closed loop) for a fixed time.
// It runs inside the bench process, so on a small machine the generator shares the cores with the
// target; that cost is the same for every target, which is why results are read as ratios.
import autocannon from 'autocannon';

/** One autocannon run (a round); a target's rounds are merged by `summarizeSaturation`. */
export interface SaturationRun {
  durationS: number;
  /** Responses received (any status). */
  completed: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  latencyMeanMs: number;
}

export interface SaturationResult {
  connections: number;
  durationS: number;
  completed: number;
  /** All rounds' responses over all rounds' time. */
  reqPerS: number;
  /** Each round's req/s: their spread shows how steady the machine was. */
  roundsReqPerS: number[];
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMeanMs: number;
}

export async function saturate(
  url: string,
  request: { headers: Record<string, string>; body: Buffer },
  opts: { connections: number; durationS: number; signal?: AbortSignal },
): Promise<SaturationRun> {
  opts.signal?.throwIfAborted();
  const instance = autocannon({
    url,
    method: 'POST',
    headers: request.headers,
    body: request.body,
    connections: opts.connections,
    duration: opts.durationS,
    pipelining: 1,
    timeout: 10,
  });
  // A dead target would otherwise be hammered with reconnects for the rest of the duration.
  const stop = (): void => instance.stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const r = await instance;
  opts.signal?.removeEventListener('abort', stop);
  opts.signal?.throwIfAborted();
  return { durationS: r.duration, completed: r.requests.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, latencyMeanMs: r.latency.mean };
}

export function summarizeSaturation(runs: SaturationRun[], connections: number): SaturationResult {
  const sum = (pick: (r: SaturationRun) => number): number => runs.reduce((n, r) => n + pick(r), 0);
  const completed = sum((r) => r.completed);
  const durationS = sum((r) => r.durationS);
  return {
    connections,
    durationS,
    completed,
    // Whole runs' counts over their actual length, rather than the mean of 1 s samples.
    reqPerS: completed / durationS,
    roundsReqPerS: runs.map((r) => r.completed / r.durationS),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    latencyMeanMs: completed ? sum((r) => r.latencyMeanMs * r.completed) / completed : NaN,
  };
}
