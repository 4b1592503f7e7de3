// The semantic cache's watch on real ClickHouse (chdb), as Grafana would run it: cache_equivalence
// scores per route over the last day — one route whose semantic hits fail the judge too often, one
// that passes, one with too few scores to tell — and other evaluators' low scores beside them. The
// rule fires for that route only; the floor is configurable (also from the generator's flag); the
// Quality panel shows the pass rate per route and interval.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allPanels } from '../../dashboards/builder.ts';
import { CACHE_EQUIVALENCE_PANEL, DEFAULT_CACHE_EQUIVALENCE, type CacheEquivalenceThresholds } from '../../dashboards/cache-equivalence.ts';
import { main as generate } from '../../dashboards/generate.ts';
import { buildAll } from '../../dashboards/index.ts';
import { expandGrafanaSql } from '../../dashboards/macros.ts';
import { msToNs, nsToDateTime64 } from '../../evaluator/time.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { LLM_EVALUATIONS as E, TABLE_LLM_EVALUATIONS } from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { allSelected } from './harness.ts';

const hasChdb = await chdbAvailable();
if (!hasChdb && process.env.CI === 'true') throw new Error('chdb is required under CI');
const HOUR = 3_600_000;
const DB = 'semwatch';
const RULE = 'llm-sidecar-cache-equivalence';

describe.skipIf(!hasChdb)('semantic cache watch: cache_equivalence panel and alert (chdb)', () => {
  let dir: string;
  let store: ClickHouseStore;
  const now = Date.now();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cache-equivalence-'));
    store = await createEmbeddedStore({ dataDir: dir, database: DB });
    await migrate(store, { database: DB });
    const rows: object[] = [];
    let seq = 0;
    const add = (route: string, evaluator: string, scores: number[]) => {
      for (const score of scores) {
        seq += 1;
        const atMs = now - 20 * HOUR + seq * 60_000;
        rows.push({
          [E.Timestamp]: nsToDateTime64(msToNs(atMs)),
          [E.EvaluatedAt]: ((atMs + 60_000) / 1000).toFixed(3),
          [E.TraceId]: seq.toString(16).padStart(32, '0'),
          [E.SpanId]: seq.toString(16).padStart(16, '0'),
          [E.ServiceName]: 'support-bot',
          [E.Route]: route,
          [E.Evaluator]: evaluator,
          [E.EvaluatorVersion]: '1',
          [E.ScoreValue]: score,
        });
      }
    };
    const passes = (n: number, failed: number) => Array.from({ length: n }, (_, i) => (i < failed ? 0 : 1));
    add('faq', 'cache_equivalence', passes(30, 3)); // 0.90: under the 0.95 floor
    add('docs', 'cache_equivalence', passes(40, 1)); // 0.975: fine
    add('rare', 'cache_equivalence', passes(5, 5)); // all failed, but 5 scores < minScores
    add('docs', 'helpfulness', passes(40, 40)); // another evaluator: not this rule's business
    await store.insert(`${DB}.${TABLE_LLM_EVALUATIONS}`, rows);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function firing(th?: CacheEquivalenceThresholds): Promise<{ route: string; pass_rate: number }[]> {
    const built = buildAll({ database: DB, ...(th ? { cacheEquivalence: th } : {}) });
    const rule = built.alerts.groups.flatMap((g) => g.rules).find((r) => r.uid === RULE);
    if (!rule) throw new Error(`no rule ${RULE}`);
    const a = rule.data.find((d) => d.refId === 'A');
    const cond = (rule.data.find((d) => d.refId === 'C')?.model.conditions as { evaluator: { type: string; params: number[] } }[])[0];
    expect(cond?.evaluator.type).toBe('lt');
    const sql = expandGrafanaSql(String(a?.model.rawSql), { from: new Date(now - (a?.relativeTimeRange?.from ?? 0) * 1000), to: new Date(now) });
    const rows = await store.query<{ route: string; pass_rate: number }>(sql);
    return rows.filter((r) => Number(r.pass_rate) < (cond?.evaluator.params[0] as number)).sort((x, y) => x.route.localeCompare(y.route));
  }

  it('is a quality rule linked to the Quality panel, critical, over the last day', () => {
    const built = buildAll();
    const group = built.alerts.groups.find((g) => g.name === 'llm-sidecar-quality');
    const rule = group?.rules.find((r) => r.uid === RULE);
    const panel = allPanels(built.dashboards.quality).find((p) => p.title === CACHE_EQUIVALENCE_PANEL);
    expect(panel?.id).toBeDefined();
    expect(rule?.annotations).toMatchObject({ __dashboardUid__: 'llm-sidecar-quality', __panelId__: String(panel?.id) });
    expect(rule?.labels.severity).toBe('critical');
    expect(rule?.data[0]?.relativeTimeRange).toEqual({ from: 86_400, to: 0 });
    expect(rule?.data[1]?.model.conditions).toMatchObject([{ evaluator: { type: 'lt', params: [DEFAULT_CACHE_EQUIVALENCE.floor] } }]);
  });

  it('fires for the route whose semantic hits fail the judge, not for a healthy route, thin samples or other evaluators', async () => {
    const fired = await firing();
    expect(fired.map((r) => r.route)).toEqual(['faq']);
    expect(Number(fired[0]?.pass_rate)).toBeCloseTo(0.9, 6);
  });

  it('the floor and the minimum of scores are configurable', async () => {
    expect(await firing({ floor: 0.85, minScores: 20 })).toEqual([]);
    expect((await firing({ floor: 0.98, minScores: 5 })).map((r) => r.route)).toEqual(['docs', 'faq', 'rare']);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const dir2 = await mkdtemp(join(tmpdir(), 'cache-eq-gen-'));
    try {
      expect(await generate(['--cache-equivalence-floor', '1.5', '--out', dir2])).toBe(2);
      expect(error.mock.calls.flat().join(' ')).toMatch(/--cache-equivalence-floor: 1\.5 is out of range/);
    } finally {
      error.mockRestore();
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('the Quality panel shows the pass rate per route and interval', async () => {
    const panel = allPanels(buildAll({ database: DB }).dashboards.quality).find((p) => p.title === CACHE_EQUIVALENCE_PANEL);
    const rawSql = String((panel?.targets?.[0] as { rawSql?: string } | undefined)?.rawSql);
    const sql = expandGrafanaSql(rawSql, { from: new Date(now - 24 * HOUR), to: new Date(now), intervalSeconds: 86_400, variables: allSelected() });
    const rows = await store.query<{ route: string; pass_rate: number }>(sql);
    const byRoute = new Map<string, number[]>();
    for (const r of rows) byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), Number(r.pass_rate)]);
    expect([...byRoute.keys()].sort()).toEqual(['docs', 'faq', 'rare']);
    // One day per interval (a bucket or two per route); every value a share.
    for (const x of [...byRoute.values()].flat()) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
    }
    expect(Math.min(...(byRoute.get('rare') ?? []))).toBe(0);
  });
});
