// Every timeout at every level it can be set, for streams and JSON answers: one table row per
// (timeout, level, kind), one loop. The fake provider's delay faults make the silences; each row
// asserts the documented outcome (a 504 with the code before anything reached the app, an error
// event in the app's API after), the recorded code, and that the timer, not the provider's pace,
// ended the call (the sidecar hung up on the provider before its answer was complete).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

let stack: Stack;
let openai: OpenAI;

const one = (provider: string, timeouts?: Record<string, number>) => ({ retry: { maxRetries: 0 }, targets: [{ provider, model: 'gpt-4o-mini', ...(timeouts ? { timeouts } : {}) }] });

beforeAll(async () => {
  stack = await startStack((url) => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-conf' },
      // Provider level: idle (a silence between two chunks of the body), as undici's body timeout.
      quiet: { type: 'openai', baseUrl: `${url}/v1`, apiKey: 'sk-conf', timeouts: { idleMs: 400 } },
    },
    routes: {
      'idle-provider': one('quiet'),
      'idle-route': { ...one('openai'), timeouts: { idleMs: 400 } },
      'idle-target': one('openai', { idleMs: 400 }),
      'first-route': { ...one('openai'), timeouts: { firstTokenMs: 300 } },
      'first-target': one('openai', { firstTokenMs: 300 }),
      'total-route': { ...one('openai'), timeouts: { totalMs: 500 } },
      'total-target': one('openai', { totalMs: 500 }),
      'first-retry': { retry: { maxRetries: 1, baseMs: 1, maxMs: 2 }, breaker: { minRequests: 1000 }, timeouts: { firstTokenMs: 300 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      'idle-retry': { retry: { maxRetries: 1, baseMs: 1, maxMs: 2 }, breaker: { minRequests: 1000 }, timeouts: { idleMs: 400 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      // The target's value wins over the route's.
      'idle-target-wins': { ...one('openai', { idleMs: 400 }), timeouts: { idleMs: 60_000 } },
    },
  }));
  openai = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-app', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.close();
});

interface Row {
  route: string;
  kind: 'stream' | 'json';
  /** The fake provider's faults: the silence the timeout must catch. */
  fault: string;
  /** How the message names the timeout. */
  message: RegExp;
  /** The provider would take at least this long without the timeout. */
  providerMs: number;
}

const IDLE = /idle \(400 ms without a byte\) timeout/;
const FIRST = /first token timeout/;
const TOTAL = /total timeout/;

const rows: Row[] = [
  // idle: stream = 700 ms between events (after the headers; the first gap is before the first content), JSON = 700 ms inside the body
  { route: 'idle-provider', kind: 'stream', fault: 'chunk-delay=700,words=4', message: IDLE, providerMs: 1400 },
  { route: 'idle-provider', kind: 'json', fault: 'body-delay=700', message: IDLE, providerMs: 700 },
  { route: 'idle-route', kind: 'stream', fault: 'chunk-delay=700,words=4', message: IDLE, providerMs: 1400 },
  { route: 'idle-route', kind: 'json', fault: 'body-delay=700', message: IDLE, providerMs: 700 },
  { route: 'idle-target', kind: 'stream', fault: 'chunk-delay=700,words=4', message: IDLE, providerMs: 1400 },
  { route: 'idle-target', kind: 'json', fault: 'body-delay=700', message: IDLE, providerMs: 700 },
  { route: 'idle-target-wins', kind: 'stream', fault: 'chunk-delay=700,words=4', message: IDLE, providerMs: 1400 },
  // first token: stream = the role-only chunk at once, then 1 s to the first content (headers alone
  // do not count, on the only attempt too); JSON = 1 s to the headers
  { route: 'first-route', kind: 'stream', fault: 'chunk-delay=1000,words=2', message: FIRST, providerMs: 1000 },
  { route: 'first-route', kind: 'json', fault: 'delay=1000', message: FIRST, providerMs: 1000 },
  { route: 'first-target', kind: 'stream', fault: 'chunk-delay=1000,words=2', message: FIRST, providerMs: 1000 },
  { route: 'first-target', kind: 'json', fault: 'delay=1000', message: FIRST, providerMs: 1000 },
  // total: a steady stream of 12 events 150 ms apart (never idle), a JSON body with a 1 s pause inside
  { route: 'total-route', kind: 'stream', fault: 'chunk-delay=150,words=10', message: TOTAL, providerMs: 1600 },
  { route: 'total-route', kind: 'json', fault: 'body-delay=1000', message: TOTAL, providerMs: 1000 },
  { route: 'total-target', kind: 'stream', fault: 'chunk-delay=150,words=10', message: TOTAL, providerMs: 1600 },
  { route: 'total-target', kind: 'json', fault: 'body-delay=1000', message: TOTAL, providerMs: 1000 },
];

describe('timeouts at every level', () => {
  it.each(rows)('$route, $kind ($fault)', async (row) => {
    const opts = { headers: { 'x-llm-sidecar-route': row.route, 'x-fake-fault': row.fault } };
    const messages = [{ role: 'user' as const, content: 'timeouts' }];
    const abortedBefore = stack.fake.stats.aborted;
    let requestId: string;
    if (row.kind === 'json') {
      const err = await openai.chat.completions.create({ model: 'x', messages }, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect(e.status).toBe(504);
      expect(e.code).toBe('LLM_SIDECAR_UPSTREAM_TIMEOUT');
      expect(e.message).toMatch(row.message);
      requestId = e.headers?.get('x-llm-sidecar-request-id') as string;
    } else {
      // The only attempt commits at its headers: the timeout arrives as an error event in the stream.
      const { data: stream, response } = await openai.chat.completions.create({ model: 'x', stream: true, messages }, opts).withResponse();
      expect(response.status).toBe(200);
      const err = await (async () => {
        for await (const _chunk of stream);
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as Error).message).toMatch(row.message);
      requestId = response.headers.get('x-llm-sidecar-request-id') as string;
    }
    // The provider saw the sidecar leave mid-answer: the timeout, not the provider's pace, ended it.
    await expect.poll(() => stack.fake.stats.aborted).toBeGreaterThan(abortedBefore);
    const rec = await stack.recorder.byRequestId(requestId);
    expect(rec).toMatchObject({ errorCode: 'LLM_SIDECAR_UPSTREAM_TIMEOUT', errorType: 'timeout', completed: false });
    expect(rec.attemptDetails[0]?.errorType).toBe('timeout');
  });
});

describe('a timeout before content on an attempt that can be retried is invisible to the app', () => {
  // Counted faults: the first request stalls (a role-only chunk, then silence), the retry is clean.
  it.each([
    ['first-retry', 'chunk-delay=1000,words=2'],
    ['idle-retry', 'chunk-delay=700,words=4'],
  ])('%s: the preamble was held, the retry answers, one clean stream', async (route, fault) => {
    const key = `${route}-${Math.random().toString(36).slice(2)}`;
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'x', stream: true, messages: [{ role: 'user', content: 'retry me' }] }, { headers: { 'x-llm-sidecar-route': route, 'x-fake-fault': `times=1,key=${key},${fault}` } })
      .withResponse();
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.filter((c) => c.choices[0]?.delta.role === 'assistant')).toHaveLength(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toMatch(/^Echo: retry me/);
    const rec = await stack.recorder.byRequestId(response.headers.get('x-llm-sidecar-request-id') as string);
    expect(rec).toMatchObject({ attempts: 2, completed: true, httpStatus: 200 });
    expect(rec.errorCode).toBeUndefined();
    expect(rec.attemptDetails.map((a) => a.errorType)).toEqual(['timeout', undefined]);
  });
});
