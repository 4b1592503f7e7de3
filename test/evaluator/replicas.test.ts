// Several evaluator replicas on one ClickHouse server (the test HTTP endpoint over chdb, reached
// through @clickhouse/client, one client per replica as separate processes would have): they split
// the calls by cityHash64(SpanId) and never score the same call twice — counted per
// (SpanId, Evaluator, Version) with and without FINAL. A change of replica count continues from
// the old partitions' watermarks without re-scoring.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvaluator, type RunningEvaluator } from '../../evaluator/service.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startHttpEndpoint, type HttpEndpoint } from '../clickhouse/http-endpoint.ts';
import { startScriptedJudge, score, type ScriptedJudge } from './scripted-judge.ts';
import { duplicates, evaluations, seedCalls } from './seed.ts';

const hasChdb = await chdbAvailable();
const quiet = () => undefined;

describe.skipIf(!hasChdb)('evaluator replicas on a ClickHouse server (HTTP → chdb)', () => {
  let dir: string;
  let endpoint: HttpEndpoint;
  let stores: ClickHouseStore[] = [];
  let judge: ScriptedJudge;
  const now = Date.now();

  const config = (index: number, count: number) => ({
    backfillHours: 1,
    settleSeconds: 0,
    batchSize: 7,
    replicas: { count, index },
    judge: { provider: 'openai' as const, baseUrl: judge.url, model: 'gpt-4o-mini' },
    list: [{ builtin: 'helpfulness' as const }, { builtin: 'completeness' as const }],
  });

  async function replicas(count: number): Promise<RunningEvaluator[]> {
    while (stores.length < count) stores.push(createServerStore({ url: endpoint.url }));
    return Promise.all(Array.from({ length: count }, (_, i) => startEvaluator({ store: stores[i] as ClickHouseStore, config: config(i, count), loop: false, log: quiet })));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-eval-replicas-'));
    endpoint = await startHttpEndpoint({ dataDir: join(dir, 'chdb') });
    stores = [createServerStore({ url: endpoint.url })];
    await migrate(stores[0] as ClickHouseStore);
    judge = await startScriptedJudge(async () => {
      await new Promise((r) => setTimeout(r, 5));
      return score(4);
    });
    await seedCalls(stores[0] as ClickHouseStore, Array.from({ length: 60 }, (_, i) => ({ startMs: now - 20 * 60_000 + i * 500, input: `q${i}`, output: `It ships in ${i} days.` })));
  });

  afterAll(async () => {
    await judge?.close();
    await Promise.all(stores.map((s) => s.close()));
    await endpoint?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('two replicas running concurrently split the calls and never score one twice', async () => {
    const [a, b] = (await replicas(2)) as [RunningEvaluator, RunningEvaluator];
    const [sa, sb] = await Promise.all([a.runOnce(), b.runOnce()]);
    await Promise.all([a.stop(), b.stop()]);
    const help = (s: typeof sa) => s.evaluators.find((e) => e.evaluator === 'helpfulness');
    expect((help(sa)?.scored ?? 0) + (help(sb)?.scored ?? 0)).toBe(60);
    expect(help(sa)?.scored).toBeGreaterThan(10);
    expect(help(sb)?.scored).toBeGreaterThan(10);
    expect(judge.requests).toHaveLength(60);

    const store = stores[0] as ClickHouseStore;
    expect(await duplicates(store, false)).toEqual([]);
    expect(await duplicates(store, true)).toEqual([]);
    const rows = await evaluations(store, false);
    expect(rows.filter((r) => r.evaluator === 'helpfulness')).toHaveLength(60);
    expect(rows.filter((r) => r.evaluator === 'completeness')).toHaveLength(60);
  });

  it('running them again scores nothing new', async () => {
    const [a, b] = (await replicas(2)) as [RunningEvaluator, RunningEvaluator];
    const [sa, sb] = await Promise.all([a.runOnce(), b.runOnce()]);
    await Promise.all([a.stop(), b.stop()]);
    expect([...sa.evaluators, ...sb.evaluators].every((e) => e.scanned === 0)).toBe(true);
    expect(judge.requests).toHaveLength(60);
  });

  it('scaling to three replicas continues from the old watermarks: only new calls are scored', async () => {
    await seedCalls(stores[0] as ClickHouseStore, Array.from({ length: 30 }, (_, i) => ({ startMs: now - 5 * 60_000 + i * 500, input: `n${i}`, output: `It ships in ${i} weeks.` })));
    const three = await replicas(3);
    const summaries = await Promise.all(three.map((r) => r.runOnce()));
    await Promise.all(three.map((r) => r.stop()));
    const scored = summaries.flatMap((s) => s.evaluators).filter((e) => e.evaluator === 'helpfulness').reduce((n, e) => n + e.scored, 0);
    expect(scored).toBe(30);
    expect(judge.requests).toHaveLength(90);
    const store = stores[0] as ClickHouseStore;
    expect(await duplicates(store, false)).toEqual([]);
    expect((await evaluations(store, false)).filter((r) => r.evaluator === 'helpfulness')).toHaveLength(90);
  });
});
