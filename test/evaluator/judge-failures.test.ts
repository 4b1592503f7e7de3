// How judge failures end up in ClickHouse: invalid answers are asked again once, then recorded as
// error rows with their ErrorType (never a made-up score); 429/5xx are retried with backoff or the
// server's retry-after; a judge that stays down leaves its calls unscored for the next pass; a
// misconfigured judge (401) writes nothing. Each case has its own feature and evaluator name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvaluator } from '../../evaluator/service.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startScriptedJudge, score, type JudgeReply, type ScriptedJudge } from './scripted-judge.ts';
import { embeddedStore, evaluations, seedCalls, type EmbeddedFixture, type SeededCall } from './seed.ts';

const hasChdb = await chdbAvailable();
const quiet = () => undefined;

describe.skipIf(!hasChdb)('judge failures (chdb)', () => {
  let fx: EmbeddedFixture;
  let judge: ScriptedJudge;
  /** Behaviour per answer text (the scripted judge sees the answer under evaluation). */
  const script = new Map<string, (n: number) => JudgeReply>();
  const seen = new Map<string, number>();
  const now = Date.now();

  beforeAll(async () => {
    fx = await embeddedStore('eval-failures');
    judge = await startScriptedJudge((r) => {
      const n = (seen.get(r.answer) ?? 0) + 1;
      seen.set(r.answer, n);
      return script.get(r.answer)?.(n) ?? score(3);
    });
  });

  afterAll(async () => {
    await judge?.close();
    await fx?.close();
  });

  /** Seeds one call with this answer under `feature`, runs one pass of a helpfulness judge limited to it. */
  async function runCase(feature: string, answer: string, judgeOptions: Record<string, unknown> = {}) {
    const [call] = (await seedCalls(fx.store, [{ startMs: now - 5 * 60_000, feature, input: 'Question?', output: answer }])) as [SeededCall];
    const config = {
      backfillHours: 1,
      settleSeconds: 0,
      judge: { provider: 'openai' as const, baseUrl: judge.url, model: 'gpt-4o-mini', ...judgeOptions },
      list: [{ builtin: 'helpfulness' as const, name: `helpfulness_${feature}`, filters: { features: [feature] } }],
    };
    const ev = await startEvaluator({ store: fx.store, config, loop: false, log: quiet });
    const requestsBefore = judge.requests.length;
    const summary = await ev.runOnce();
    await ev.stop();
    const rows = (await evaluations(fx.store, false)).filter((r) => r.spanId === call.spanId);
    return { call, summary: summary.evaluators[0], rows, requests: judge.requests.slice(requestsBefore), config };
  }

  it('a judge answering non-JSON twice → one error row judge_invalid_json, tokens and cost of both requests, no score', async () => {
    script.set('case invalid json', () => ({ content: 'The answer is great, 5/5!' }));
    const { rows, requests, summary } = await runCase('invalid-json', 'case invalid json');
    expect(requests).toHaveLength(2);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ errorType: 'judge_invalid_json', value: null, label: '', inTokens: '2000', outTokens: '200', cost: '0.00042' });
    expect(rows[0]?.explanation).toContain('not JSON');
    expect(summary).toMatchObject({ failed: 1, scored: 0 });
  });

  it('JSON of the wrong shape twice → judge_invalid_output (a score outside the scale is never stored)', async () => {
    script.set('case out of range', () => ({ json: { explanation: 'off the scale', score: 9 } }));
    const { rows } = await runCase('out-of-range', 'case out of range');
    expect(rows).toEqual([expect.objectContaining({ errorType: 'judge_invalid_output', value: null })]);
    expect(rows[0]?.explanation).toMatch(/score/);
  });

  it('an invalid answer followed by a valid one → scored (one retry)', async () => {
    script.set('case retry once', (n) => (n === 1 ? { json: { score: 4 } } : score(4, 'fine on the second try')));
    const { rows, requests } = await runCase('retry-once', 'case retry once');
    expect(requests).toHaveLength(2);
    expect(rows).toEqual([expect.objectContaining({ errorType: '', value: 0.75, label: '4/5', explanation: 'fine on the second try', cost: '0.00042' })]);
  });

  it('429 with retry-after, then success → scored after waiting as told', async () => {
    script.set('case 429', (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : score(5)));
    const { rows, requests } = await runCase('rate-limited', 'case 429');
    expect(requests).toHaveLength(2);
    const waited = (requests[1]?.receivedAt ?? 0) - (requests[0]?.receivedAt ?? 0);
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(rows).toEqual([expect.objectContaining({ errorType: '', value: 1, label: '5/5' })]);
  });

  it('5xx until the retries are used up → no row, the pass stops there; the next pass scores it', async () => {
    let down = true;
    script.set('case outage', () => (down ? { status: 503 } : score(2)));
    const first = await runCase('outage', 'case outage', { maxRetries: 2 });
    expect(first.requests).toHaveLength(3);
    expect(first.rows).toEqual([]);
    expect(first.summary?.stoppedEarly).toMatch(/judge unavailable/);

    down = false;
    const ev = await startEvaluator({ store: fx.store, config: first.config, loop: false, log: quiet });
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.evaluators[0]).toMatchObject({ scored: 1 });
    expect((await evaluations(fx.store, false)).filter((r) => r.spanId === first.call.spanId)).toEqual([expect.objectContaining({ value: 0.25, errorType: '' })]);
  });

  it('a retry-after longer than maxRetryAfterMs is not waited for: the call is left for later', async () => {
    script.set('case long retry-after', () => ({ status: 429, headers: { 'retry-after': '3600' } }));
    // Waiting the hour would time this test out; the summary says the wait was refused, and why.
    const { rows, requests, summary } = await runCase('long-wait', 'case long retry-after', { maxRetryAfterMs: 5_000 });
    expect(requests).toHaveLength(1);
    expect(rows).toEqual([]);
    expect(summary?.stoppedEarly).toMatch(/retry after 3600000 ms/);
  });

  it('a 400 for this call → judge_request_rejected row; a 401 (misconfigured) → nothing written', async () => {
    script.set('case rejected', () => ({ status: 400 }));
    const rejected = await runCase('rejected', 'case rejected');
    expect(rejected.rows).toEqual([expect.objectContaining({ errorType: 'judge_request_rejected', value: null })]);

    script.set('case unauthorized', () => ({ status: 401 }));
    const unauthorized = await runCase('unauthorized', 'case unauthorized');
    expect(unauthorized.requests).toHaveLength(1);
    expect(unauthorized.rows).toEqual([]);
    expect(unauthorized.summary?.stoppedEarly).toMatch(/misconfigured/);
  });
});
