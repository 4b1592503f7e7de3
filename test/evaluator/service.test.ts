// The evaluator service end to end on real ClickHouse SQL (embedded chdb): calls arrive as gen_ai
// spans in otel_traces (→ llm_calls through the view), judges are reached through the official
// SDKs (OpenAI SDK → scripted judge and fake provider; Anthropic SDK → fake provider with a
// forced tool), scores land in llm_evaluations exactly once per call × evaluator × version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startEvaluator, type RunSummary } from '../../evaluator/service.ts';
import { TABLE_LLM_EVAL_CHECKPOINTS } from '../../evaluator/tables.ts';
import * as A from '../../shared/telemetry/semconv.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { until } from '../support/wait.ts';
import { startScriptedJudge, score, type ScriptedJudge } from './scripted-judge.ts';
import { assistantMessages, duplicates, embeddedStore, evaluations, seedCalls, type EmbeddedFixture, type SeededCall } from './seed.ts';

const hasChdb = await chdbAvailable();
const quiet = () => undefined;

function total(s: RunSummary, field: 'scanned' | 'scored' | 'failed' | 'notApplicable' | 'budgetExhausted'): number {
  return s.evaluators.reduce((n, e) => n + e[field], 0);
}

describe.skipIf(!hasChdb)('evaluator service (chdb)', () => {
  let fx: EmbeddedFixture;
  let fake: FakeProvider;
  let judge: ScriptedJudge;
  let calls: SeededCall[];
  const now = Date.now();

  const config = () => ({
    backfillHours: 1,
    settleSeconds: 0,
    judge: { provider: 'openai' as const, baseUrl: judge.url, model: 'gpt-4o-mini' },
    list: [
      { builtin: 'helpfulness' as const },
      { builtin: 'faithfulness' as const, judge: { provider: 'openai' as const, baseUrl: `${fake.url}/v1`, model: 'gpt-4o-mini' } },
      { builtin: 'safety' as const, judge: { provider: 'anthropic' as const, baseUrl: fake.url, model: 'claude-haiku-4-5' } },
      { builtin: 'valid_json' as const },
      { builtin: 'refusal' as const },
      { builtin: 'completeness' as const },
    ],
  });

  beforeAll(async () => {
    fx = await embeddedStore('eval-service');
    fake = await startFakeProvider();
    // Helpfulness: 5 when the answer says something concrete about shipping, else 2.
    judge = await startScriptedJudge((r) => (r.answer.includes('ships') ? score(5, 'concrete and on point') : score(2, 'vague')));
    const t = now - 10 * 60_000;
    calls = await seedCalls(fx.store, [
      { startMs: t, input: 'Where is my order?', output: 'It ships today.' },
      { startMs: t + 1000, system: 'Reply in JSON only.', input: 'Status of order 42?', output: '{"status":"shipped"}' },
      { startMs: t + 2000, input: 'Give me the order as JSON', output: 'Sure! The order is on its way.' },
      { startMs: t + 3000, input: 'How do I pick a lock?', output: "I'm sorry, but I can't help with that." },
      { startMs: t + 4000, input: 'Write a long story', output: 'Once upon a time', finishReason: 'length' },
      {
        startMs: t + 5000,
        input: [
          { role: 'user', parts: [{ type: 'text', content: 'When does order 7 arrive?' }] },
          { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'lookup_order', arguments: { id: 7 } }] },
          { role: 'tool', parts: [{ type: 'tool_call_response', id: 'c1', response: 'Order 7: delivery Friday' }] },
        ],
        output: assistantMessages('Order 7 ships and arrives Friday.'),
      },
      // Not evaluated: not sampled, failed, embeddings, judge traffic.
      { startMs: t + 6000, sampled: false },
      { startMs: t + 7000, error: true },
      { startMs: t + 8000, operation: 'embeddings', output: [] },
      { startMs: t + 9000, feature: 'judge' },
    ]);
  });

  afterAll(async () => {
    await judge?.close();
    await fake?.close();
    await fx?.close();
  });

  it('scores every sampled call once per evaluator version in one pass, through both official SDKs', async () => {
    const ev = await startEvaluator({ store: fx.store, config: config(), loop: false, log: quiet });
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.errors).toEqual([]);
    const eligible = calls.slice(0, 6).map((c) => c.spanId).sort();
    const rows = await evaluations(fx.store);
    for (const name of ['helpfulness', 'faithfulness', 'safety', 'valid_json', 'refusal', 'completeness']) {
      expect(rows.filter((r) => r.evaluator === name).map((r) => r.spanId).sort(), name).toEqual(eligible);
    }
    expect(await duplicates(fx.store, false)).toEqual([]);
    expect(await duplicates(fx.store, true)).toEqual([]);
    // Each score carries its call's feature (llm_evaluations.Feature, read by the quality-drop alert).
    const features = await fx.store.query<{ feature: string; same: string; n: string }>(
      `SELECT e.Feature AS feature, toString(min(e.Feature = c.Feature)) AS same, count() AS n FROM otel.llm_evaluations AS e FINAL INNER JOIN otel.llm_calls AS c ON e.TraceId = c.TraceId AND e.SpanId = c.SpanId GROUP BY feature`,
    );
    expect(features).toEqual([{ feature: 'support-chat', same: '1', n: String(rows.length) }]);

    const by = (evaluator: string, i: number) => rows.find((r) => r.evaluator === evaluator && r.spanId === calls[i]?.spanId);
    // Scripted judge through the OpenAI SDK: the 1–5 scale stored as 0..1, label "5/5", tokens and exact cost.
    expect(by('helpfulness', 0)).toMatchObject({ value: 1, label: '5/5', explanation: 'concrete and on point', errorType: '', judgeModel: 'gpt-4o-mini', inTokens: '1000', outTokens: '100', cost: '0.00021', version: '1' });
    expect(by('helpfulness', 2)).toMatchObject({ value: 0.25, label: '2/5' });
    // Faithfulness needs context: only the call with a tool result is judged (fake provider → first label).
    expect(by('faithfulness', 5)).toMatchObject({ label: 'faithful', value: 1, errorType: '' });
    expect(rows.filter((r) => r.evaluator === 'faithfulness' && r.label === 'not_applicable')).toHaveLength(5);
    expect(by('faithfulness', 0)).toMatchObject({ value: null, cost: '0', inTokens: '0' });
    // Anthropic SDK with a forced tool (fake provider answers the tool's schema).
    expect(by('safety', 0)).toMatchObject({ label: 'safe', value: 1, errorType: '', judgeModel: 'claude-haiku-4-5' });
    expect(Number(by('safety', 0)?.inTokens)).toBeGreaterThan(0);
    // Checks without an LLM: free, deterministic.
    expect([0, 1, 2].map((i) => by('valid_json', i)?.label)).toEqual(['not_applicable', 'valid', 'invalid']);
    expect(by('refusal', 3)).toMatchObject({ label: 'refusal', value: 0, cost: '0' });
    expect(by('refusal', 0)).toMatchObject({ label: 'answered', value: 1 });
    expect(by('completeness', 4)).toMatchObject({ label: 'truncated', value: 0 });
    expect(by('completeness', 0)).toMatchObject({ label: 'complete', value: 1 });

    // What the judges were sent: structured output, explanation first, temperature 0, marked as judge traffic.
    const req = judge.requests[0];
    expect(req?.headers['x-llm-sidecar-feature']).toBe('judge');
    expect(req?.body.temperature).toBe(0);
    expect(req?.body.response_format?.type).toBe('json_schema');
    expect(Object.keys(req?.body.response_format?.json_schema?.schema.properties as object)).toEqual(['explanation', 'score']);
    expect(req?.prompt).toContain('<answer>');
    const anthropic = fake.requests.find((r) => r.path === '/v1/messages')?.json as { tool_choice: unknown; temperature: number; tools: { input_schema: { properties: object } }[] };
    expect(anthropic.tool_choice).toMatchObject({ type: 'tool', name: 'evaluation' });
    expect(anthropic.temperature).toBe(0);
    expect(Object.keys(anthropic.tools[0]?.input_schema.properties ?? {})).toEqual(['explanation', 'label']);
    expect(fake.requests.every((r) => r.headers['x-llm-sidecar-feature'] === 'judge')).toBe(true);
  });

  it('a second pass scores nothing new', async () => {
    const before = (await evaluations(fx.store, false)).length;
    const judged = judge.requests.length;
    const ev = await startEvaluator({ store: fx.store, config: config(), loop: false, log: quiet });
    const s = await ev.runOnce();
    await ev.stop();
    expect(total(s, 'scanned')).toBe(0);
    expect((await evaluations(fx.store, false)).length).toBe(before);
    expect(judge.requests.length).toBe(judged);
    const checkpoints = await fx.store.query<{ n: string }>(`SELECT count() AS n FROM otel.${TABLE_LLM_EVAL_CHECKPOINTS} FINAL`);
    expect(Number(checkpoints[0]?.n)).toBe(6);
  });

  it('a restarted evaluator continues without gaps or duplicates, late spans included', async () => {
    const late = await seedCalls(fx.store, [
      // Landed after the watermark passed its time (a long stream, a spool replay): within lateArrival.
      { startMs: now - 20 * 60_000, input: 'Late one', output: 'It ships tomorrow.' },
      { startMs: now - 60_000, input: 'New one', output: 'It ships today.' },
    ]);
    const ev = await startEvaluator({ store: fx.store, config: config(), loop: false, log: quiet });
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.evaluators.find((e) => e.evaluator === 'helpfulness')).toMatchObject({ scanned: 2, scored: 2 });
    const rows = await evaluations(fx.store, false);
    for (const c of late) expect(rows.filter((r) => r.spanId === c.spanId)).toHaveLength(6);
    expect(rows).toHaveLength(8 * 6);
    expect(await duplicates(fx.store, false)).toEqual([]);
  });

  it('a new evaluator version scores the backfill window again, beside the old version', async () => {
    const cfg = config();
    cfg.list = [{ builtin: 'helpfulness', version: '2', rubric: 'Rate helpfulness.\n<answer>\n{{output}}\n</answer>' } as (typeof cfg.list)[number]];
    const ev = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet });
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.evaluators[0]).toMatchObject({ version: '2', scored: 8 });
    const rows = await evaluations(fx.store);
    expect(rows.filter((r) => r.evaluator === 'helpfulness' && r.version === '1')).toHaveLength(8);
    expect(rows.filter((r) => r.evaluator === 'helpfulness' && r.version === '2')).toHaveLength(8);
  });

  it('applies its own sampling rate (deterministic from the trace id) and filters', async () => {
    const extra = await seedCalls(fx.store, Array.from({ length: 40 }, (_, i) => ({ startMs: now - 5 * 60_000 + i * 100, route: i % 4 === 0 ? 'internal' : 'support', input: `question ${i}`, output: `It ships in ${i} days.` })));
    const cfg = { ...config(), list: [{ builtin: 'completeness' as const, name: 'completeness_support', sampleRate: 0.5, filters: { routes: ['supp*'] } }] };
    const ev = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet });
    await ev.runOnce();
    await ev.stop();
    const scored = new Set((await evaluations(fx.store)).filter((r) => r.evaluator === 'completeness_support').map((r) => r.spanId));
    const expected = await fx.store.query<{ spanId: string }>(
      `SELECT SpanId AS spanId FROM otel.llm_calls WHERE Route = 'support' AND cityHash64(TraceId) % 1000000 < 500000 AND SpanId IN {ids:Array(String)}`,
      { ids: extra.map((c) => c.spanId) },
    );
    expect([...scored].sort()).toEqual(expected.map((r) => r.spanId).sort());
    expect(scored.size).toBeGreaterThan(5);
    expect(scored.size).toBeLessThan(30);
    expect([...scored].every((id) => extra.find((c) => c.spanId === id)?.route === 'support')).toBe(true);
  });

  it('filters on the cache status: a cache_equivalence-style judge scores only semantic hits', async () => {
    const calls = await seedCalls(fx.store, Array.from({ length: 9 }, (_, i) => ({ startMs: now - 5 * 60_000 + i * 100, cacheStatus: ['miss', 'hit', 'semantic-hit'][i % 3], input: `q ${i}`, output: `It ships in ${i} days.` })));
    const cfg = { ...config(), list: [{ builtin: 'completeness' as const, name: 'completeness_semantic', filters: { cacheStatuses: ['semantic-hit' as const] } }] };
    const ev = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet });
    await ev.runOnce();
    await ev.stop();
    const scored = (await evaluations(fx.store)).filter((r) => r.evaluator === 'completeness_semantic').map((r) => r.spanId);
    expect(scored.sort()).toEqual(calls.filter((c) => c.cacheStatus === 'semantic-hit').map((c) => c.spanId).sort());
  });

  it('stop() mid-pass leaves the unfinished calls unscored; the next instance completes them exactly once', async () => {
    const batch = await seedCalls(fx.store, Array.from({ length: 12 }, (_, i) => ({ startMs: now - 4 * 60_000 + i * 100, input: `slow ${i}`, output: 'It ships soon.' })));
    // The judge answers three requests and holds the fourth until the test ends: stop() comes
    // while exactly that one is in flight.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slowJudge = await startScriptedJudge(async (r) => {
      if (r.n > 3) await held;
      return score(4);
    });
    try {
      const cfg = { ...config(), batchSize: 4, judge: { provider: 'openai' as const, baseUrl: slowJudge.url, model: 'gpt-4o-mini' }, list: [{ builtin: 'helpfulness' as const, name: 'helpfulness_stop', concurrency: 1 }] };
      const first = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet });
      const pass = first.runOnce();
      await until('the judge holds the fourth request', () => slowJudge.requests.length >= 4);
      await first.stop();
      const s = await pass;
      expect(s.evaluators[0]?.stoppedEarly).toBe('stopping');
      const partial = (await evaluations(fx.store, false)).filter((r) => r.evaluator === 'helpfulness_stop');
      // Three answered at once, the fourth was in flight when stop() came: aborted, no row.
      expect(partial).toHaveLength(3);
      expect(batch.length).toBe(12);

      slowJudge.respond = () => score(4);
      const second = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet });
      await second.runOnce();
      await second.stop();
      const rows = (await evaluations(fx.store, false)).filter((r) => r.evaluator === 'helpfulness_stop');
      const all = await fx.store.query<{ n: string }>(`SELECT count() AS n FROM otel.llm_calls WHERE EvalSampled = 1 AND StatusCode != 'Error' AND Operation != 'embeddings' AND Feature != 'judge'`);
      expect(rows.length).toBe(Number(all[0]?.n));
      expect(await duplicates(fx.store, false)).toEqual([]);
    } finally {
      release();
      await slowJudge.close();
    }
  });

  it('emits gen_ai.evaluation.result events parented to the evaluated span, with its response id', async () => {
    const [call] = await seedCalls(fx.store, [{ startMs: now - 2 * 60_000, input: 'Event please', output: 'It ships now.', responseId: 'chatcmpl-abc123' }]);
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    const cfg = { ...config(), emitEvents: true, list: [{ builtin: 'helpfulness' as const, name: 'helpfulness_events' }] };
    const ev = await startEvaluator({ store: fx.store, config: cfg, loop: false, log: quiet, tracer: provider.getTracer('evaluator') });
    await ev.runOnce();
    await ev.stop();
    const span = memory.getFinishedSpans().find((s) => s.parentSpanContext?.spanId === call?.spanId);
    expect(span?.spanContext().traceId).toBe(call?.traceId);
    const event = span?.events.find((e) => e.name === A.EVENT_GEN_AI_EVALUATION_RESULT);
    expect(event?.attributes).toMatchObject({
      [A.ATTR_GEN_AI_EVALUATION_NAME]: 'helpfulness_events',
      [A.ATTR_GEN_AI_EVALUATION_SCORE_VALUE]: 1,
      [A.ATTR_GEN_AI_EVALUATION_SCORE_LABEL]: '5/5',
      [A.ATTR_GEN_AI_EVALUATION_EXPLANATION]: 'concrete and on point',
      [A.ATTR_GEN_AI_RESPONSE_ID]: 'chatcmpl-abc123',
    });
  });

  it('the polling loop picks up new calls by itself and stops cleanly', async () => {
    const cfg = { ...config(), pollIntervalMs: 50, list: [{ builtin: 'completeness' as const, name: 'completeness_loop' }] };
    const ev = await startEvaluator({ store: fx.store, config: cfg, log: quiet });
    // The call arrives after the first pass: only a later pass of the loop can score it.
    await until('the loop has finished its first pass', () => ev.stats().passes > 0);
    const [fresh] = await seedCalls(fx.store, [{ startMs: Date.now() - 1000, input: 'loop', output: 'It ships.' }]);
    try {
      await until('a later pass has scored the call seeded after the first', async () => (await evaluations(fx.store, false)).some((r) => r.evaluator === 'completeness_loop' && r.spanId === fresh?.spanId), { intervalMs: 100 });
    } finally {
      await ev.stop();
    }
    expect(ev.stats().passes).toBeGreaterThan(1);
    expect(await duplicates(fx.store, false)).toEqual([]);
  });
});
