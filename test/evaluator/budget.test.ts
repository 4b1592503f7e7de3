// The daily judge spend cap, with an injectable clock: judging pauses when the day's spend (read
// from llm_evaluations, so it survives restarts and is shared by replicas) reaches the cap — each
// call meanwhile gets a budget_exhausted row and one log line says so — and resumes the next UTC day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvaluator } from '../../evaluator/service.ts';
import { spendSinceSql } from '../../evaluator/spend.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startScriptedJudge, score, type ScriptedJudge } from './scripted-judge.ts';
import { embeddedStore, evaluations, seedCalls, type EmbeddedFixture } from './seed.ts';

const hasChdb = await chdbAvailable();
const DAY = 86_400_000;

describe.skipIf(!hasChdb)('daily judge spend cap (chdb)', () => {
  let fx: EmbeddedFixture;
  let judge: ScriptedJudge;
  // Day 1, 12:00 UTC (today); the clock is moved by the test.
  let clock = Math.floor(Date.now() / DAY) * DAY + 12 * 3_600_000;
  const logs: string[] = [];
  // 1000 input + 100 output tokens of gpt-4o-mini = 0.00015 + 0.00006 = 0.00021 USD per judgement.
  const config = () => ({
    backfillHours: 2,
    settleSeconds: 0,
    judge: { provider: 'openai' as const, baseUrl: judge.url, model: 'gpt-4o-mini' },
    dailySpendCapUsd: 0.0004,
    list: [{ builtin: 'helpfulness' as const, concurrency: 1 }],
  });
  const start = () => startEvaluator({ store: fx.store, config: config(), loop: false, now: () => clock, log: (level, message) => logs.push(`${level}: ${message}`) });

  beforeAll(async () => {
    fx = await embeddedStore('eval-budget');
    judge = await startScriptedJudge(() => ({ ...score(4), usage: { prompt_tokens: 1000, completion_tokens: 100 } }));
  });

  afterAll(async () => {
    await judge?.close();
    await fx?.close();
  });

  it('pauses judging at the cap with budget_exhausted rows and one log line', async () => {
    const calls = await seedCalls(fx.store, Array.from({ length: 5 }, (_, i) => ({ startMs: clock - 30 * 60_000 + i * 1000, input: `q${i}`, output: `It ships in ${i} days.` })));
    const ev = await start();
    const s = await ev.runOnce();
    await ev.stop();
    // Two judgements reach 0.00042 ≥ 0.0004; the other three are not judged.
    expect(judge.requests).toHaveLength(2);
    expect(s.evaluators[0]).toMatchObject({ scored: 2, budgetExhausted: 3, judgeCostUsd: '0.00042' });
    const rows = await evaluations(fx.store, false);
    expect(rows).toHaveLength(5);
    const exhausted = rows.filter((r) => r.errorType === 'budget_exhausted');
    expect(exhausted.map((r) => r.spanId).sort()).toEqual(calls.slice(2).map((c) => c.spanId).sort());
    expect(exhausted.every((r) => r.value === null && r.cost === '0' && r.inTokens === '0')).toBe(true);
    expect(exhausted[0]?.explanation).toMatch(/spend cap/);
    expect(logs.filter((l) => l.includes('spend cap reached'))).toHaveLength(1);
  });

  it('reads the spend through the EvaluatedAt skip index (not the version\'s whole history)', async () => {
    // force_data_skipping_indices makes ClickHouse fail the query when it cannot use the index.
    const [row] = await fx.store.query<{ spent: string }>(`${spendSinceSql(fx.store.database)} SETTINGS force_data_skipping_indices = 'idx_evaluated_at'`, {
      evaluator: 'helpfulness',
      version: '1',
      day: Math.floor(clock / DAY) * DAY,
    });
    expect(row?.spent).toBe('0.00042');
  });

  it('a restarted evaluator on the same day reads the spend from ClickHouse and stays paused', async () => {
    clock += 60 * 60_000;
    await seedCalls(fx.store, [{ startMs: clock - 10 * 60_000, input: 'later today', output: 'It ships.' }]);
    const ev = await start();
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.evaluators[0]).toMatchObject({ scored: 0, budgetExhausted: 1 });
    expect(judge.requests).toHaveLength(2);
  });

  it('resumes on the next UTC day', async () => {
    clock = Math.floor(clock / DAY) * DAY + DAY + 30 * 60_000; // 00:30 UTC the next day
    const next = await seedCalls(fx.store, [
      { startMs: clock - 20 * 60_000, input: 'tomorrow 1', output: 'It ships.' },
      { startMs: clock - 10 * 60_000, input: 'tomorrow 2', output: 'It ships.' },
    ]);
    const ev = await start();
    const s = await ev.runOnce();
    await ev.stop();
    expect(s.evaluators[0]).toMatchObject({ scored: 2, budgetExhausted: 0 });
    expect(judge.requests).toHaveLength(4);
    const rows = (await evaluations(fx.store, false)).filter((r) => next.some((c) => c.spanId === r.spanId));
    expect(rows.map((r) => r.errorType)).toEqual(['', '']);
    // Yesterday's budget_exhausted rows stay as they are (no backlog carried into the new day).
    expect((await evaluations(fx.store, false)).filter((r) => r.errorType === 'budget_exhausted')).toHaveLength(4);
  });
});
