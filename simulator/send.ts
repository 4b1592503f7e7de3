// Writing a Plan to the client. Requests without faults (all of the benchmark's) take `sendNow`:
// synchronous, one write, no timers or promises. Requests with faults take `sendPaced`, which can
// delay, drip, corrupt or cut the response, and stops all its timers as soon as the client leaves.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Faults } from './faults.ts';
import type { Plan } from './plan.ts';
import { corruptEvent } from './sse.ts';

const JSON_TYPE = 'application/json';
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const DRIP_PAUSE_MS = 5;

function finalHeaders(plan: Plan, faults: Faults, contentLength?: number): OutgoingHttpHeaders {
  const h = plan.headers;
  if (plan.kind === 'json') {
    h['content-type'] = JSON_TYPE;
    h['content-length'] = contentLength ?? Buffer.byteLength(plan.body);
  } else {
    h['content-type'] = SSE_TYPE;
    h['cache-control'] = 'no-cache';
  }
  if (faults.retryAfter !== undefined) h['retry-after'] = faults.retryAfter;
  if (faults.retryAfterMs !== undefined) h['retry-after-ms'] = faults.retryAfterMs;
  return h;
}

export function sendNow(res: ServerResponse, plan: Plan, faults: Faults): void {
  if (plan.kind === 'json') {
    res.writeHead(plan.status, finalHeaders(plan, faults));
    res.end(plan.body);
    return;
  }
  // Chunked like a real provider's stream (end(data) before any write would set a content-length).
  res.writeHead(200, finalHeaders(plan, faults));
  res.write(plan.events.join(''));
  res.end();
}

/** The waits of one faulty response; `stop()` (the client left) ends the current wait at once. */
export class Pacer {
  stopped = false;
  /** Set when the fake cut the connection itself, which is not a client abort. */
  cut = false;
  private onStop: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = setTimeout(resolve, ms);
      this.onStop = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Resolves once the chunk reached the socket, so a cut that follows cannot discard it. */
  write(res: ServerResponse, chunk: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      this.onStop = resolve;
      res.write(chunk, () => resolve());
    });
  }

  stop(): void {
    this.stopped = true;
    this.onStop?.();
    this.onStop = undefined;
  }
}

export async function sendPaced(res: ServerResponse, plan: Plan, faults: Faults, pace: Pacer): Promise<void> {
  if (faults.delayMs) await pace.sleep(faults.delayMs);
  if (pace.stopped) return;
  if (plan.kind === 'json') return sendJsonPaced(res, plan, faults, pace);
  res.writeHead(200, finalHeaders(plan, faults));
  res.flushHeaders();
  const events = faults.dropLast ? plan.events.slice(0, Math.max(0, plan.events.length - faults.dropLast)) : plan.events;
  // The second event is the one corrupted: the first already proved the stream started.
  const corrupt = faults.malformed ? Math.min(1, events.length - 1) : -1;
  for (let i = 0; i < events.length; i++) {
    if (i === faults.cutAfter) return cut(res, pace);
    await writeBody(res, i === corrupt ? corruptEvent(events[i] as string) : (events[i] as string), faults, pace);
    if (faults.chunkDelayMs && i < events.length - 1) await pace.sleep(faults.chunkDelayMs);
    if (pace.stopped) return;
  }
  res.end();
}

async function sendJsonPaced(res: ServerResponse, plan: Extract<Plan, { kind: 'json' }>, faults: Faults, pace: Pacer): Promise<void> {
  let body = Buffer.from(plan.body);
  // Half a document and then garbage, as when an upstream gateway breaks mid-body.
  if (faults.malformed) body = Buffer.concat([body.subarray(0, body.length >> 1), Buffer.from('<!-- upstream error -->')]);
  res.writeHead(plan.status, finalHeaders(plan, faults, body.length));
  if (faults.cutAfter !== undefined) {
    await writeBody(res, body.subarray(0, body.length >> 1), faults, pace);
    return cut(res, pace);
  }
  if (faults.bodyDelayMs !== undefined) {
    await writeBody(res, body.subarray(0, body.length >> 1), faults, pace);
    await pace.sleep(faults.bodyDelayMs);
    if (pace.stopped) return;
    body = body.subarray(body.length >> 1);
  }
  await writeBody(res, body, faults, pace);
  if (!pace.stopped) res.end();
}

/** Writes a chunk whole, or `dripBytes` at a time with pauses when dripping. */
async function writeBody(res: ServerResponse, chunk: string | Buffer, faults: Faults, pace: Pacer): Promise<void> {
  if (faults.dripBytes === undefined) return pace.write(res, chunk);
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  // Byte slices, not characters: a multi-byte character can be split across writes, as on a real network.
  for (let i = 0; i < bytes.length && !pace.stopped; i += faults.dripBytes) {
    await pace.write(res, bytes.subarray(i, i + faults.dripBytes));
    await pace.sleep(DRIP_PAUSE_MS);
  }
}

/** Drops the connection mid-response: no terminating chunk, no final event. */
function cut(res: ServerResponse, pace: Pacer): void {
  if (pace.stopped) return;
  pace.cut = true;
  res.destroy();
}
