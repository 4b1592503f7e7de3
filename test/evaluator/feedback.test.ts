// User feedback: validated with zod (every problem reported, nothing written), stored in
// llm_feedback, attached to the trace's last LLM call when no span id is given, and a change of
// mind replaces the earlier row (FINAL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackValidationError, parseFeedback, recordFeedback } from '../../evaluator/feedback.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { embeddedStore, hex, seedCalls, type EmbeddedFixture, type SeededCall } from './seed.ts';

const hasChdb = await chdbAvailable();

describe('feedback validation', () => {
  const ok = { traceId: 'a'.repeat(32), user: 'ana', score: 1, source: 'web-thumbs' };

  it('accepts thumbs and small integer scales', () => {
    expect(parseFeedback(ok)).toMatchObject(ok);
    expect(parseFeedback({ ...ok, score: -1, spanId: 'b'.repeat(16), comment: 'wrong order number' }).score).toBe(-1);
    expect(parseFeedback({ ...ok, score: 5 }).score).toBe(5);
  });

  it('reports every problem with its field', () => {
    try {
      parseFeedback({ traceId: 'xyz', spanId: '123', user: ' ', score: 0.5, source: 'has spaces', extra: true });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FeedbackValidationError);
      const paths = (err as FeedbackValidationError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['traceId', 'spanId', 'user', 'score', 'source', '']));
    }
    expect(() => parseFeedback({ ...ok, traceId: '0'.repeat(32) })).toThrow(/all-zero/);
    expect(() => parseFeedback({ ...ok, score: 1000 })).toThrow(FeedbackValidationError);
  });
});

describe.skipIf(!hasChdb)('recordFeedback (chdb)', () => {
  let fx: EmbeddedFixture;
  let calls: SeededCall[];
  let clock = Date.now();
  const now = () => clock;

  beforeAll(async () => {
    fx = await embeddedStore('eval-feedback');
    const traceId = hex(16);
    // An agent turn: two LLM calls in one trace; the user rates the final answer.
    calls = await seedCalls(fx.store, [
      { startMs: clock - 60_000, traceId, service: 'support-bot', output: 'calling a tool' },
      { startMs: clock - 50_000, traceId, service: 'support-bot', output: 'Your order ships today.' },
    ]);
  });

  afterAll(async () => {
    await fx?.close();
  });

  const rows = () => fx.store.query<{ TraceId: string; SpanId: string; ServiceName: string; User: string; Score: number; Comment: string; Source: string }>(`SELECT TraceId, SpanId, ServiceName, User, Score, Comment, Source FROM otel.llm_feedback FINAL ORDER BY User`);

  it('stores feedback on the trace’s last LLM call when no span id is given', async () => {
    const stored = await recordFeedback(fx.store, { traceId: calls[0]?.traceId, user: 'ana', score: -1, comment: 'wrong', source: 'web-thumbs' }, { now });
    expect(stored).toMatchObject({ spanId: calls[1]?.spanId, serviceName: 'support-bot', matchedCall: true });
    expect(await rows()).toEqual([{ TraceId: calls[0]?.traceId, SpanId: calls[1]?.spanId, ServiceName: 'support-bot', User: 'ana', Score: -1, Comment: 'wrong', Source: 'web-thumbs' }]);
  });

  it('a change of mind replaces the earlier row; another user adds one', async () => {
    clock += 5_000;
    await recordFeedback(fx.store, { traceId: calls[0]?.traceId, user: 'ana', score: 1, source: 'web-thumbs' }, { now });
    await recordFeedback(fx.store, { traceId: calls[0]?.traceId, spanId: calls[0]?.spanId, user: 'bo', score: 4, source: 'support-review' }, { now });
    const r = await rows();
    expect(r.map((x) => [x.User, x.Score, x.SpanId])).toEqual([
      ['ana', 1, calls[1]?.spanId],
      ['bo', 4, calls[0]?.spanId],
    ]);
  });

  it('feedback for a call not stored yet keeps the ids it was given', async () => {
    const traceId = hex(16);
    const stored = await recordFeedback(fx.store, { traceId, user: 'cy', score: 1, source: 'api', serviceName: 'checkout-api' }, { now });
    expect(stored).toMatchObject({ traceId, spanId: '', serviceName: 'checkout-api', matchedCall: false });
  });

  it('invalid feedback writes nothing', async () => {
    const before = (await rows()).length;
    await expect(recordFeedback(fx.store, { traceId: 'nope', user: 'x', score: 1, source: 'api' })).rejects.toThrow(FeedbackValidationError);
    expect((await rows()).length).toBe(before);
  });
});
