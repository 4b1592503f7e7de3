// The quality alert rules on real ClickHouse (chdb), as Grafana would run them (macros expanded
// over each rule's relative range): generated scores for five weeks in two databases — one stable,
// one with the faults (a feature's quality dips this week, an evaluator that stopped scoring a
// service, a judge near its daily spend cap) — each rule fires exactly on the faults and stays
// quiet on stable data, thin samples (fewer than minScores) and a service with no sampled calls.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll } from '../../dashboards/index.ts';
import { expandGrafanaSql } from '../../dashboards/macros.ts';
import { DEFAULT_QUALITY_THRESHOLDS, judgeCapsFromConfig, type JudgeCaps } from '../../dashboards/quality-alerts.ts';
import { msToNs, nsToDateTime64, utcDayStart } from '../../evaluator/time.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { llmEvaluationsFeature } from '../../shared/clickhouse/migrations/014-llm-evaluations-feature.ts';
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS } from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { isNumericType, resultColumns } from './harness.ts';

const hasChdb = await chdbAvailable();
const DAY = 86_400_000;
const HOUR = 3_600_000;

interface Score {
  atMs: number;
  service: string;
  feature: string;
  evaluator: string;
  score: number | null;
  /** Evaluation written (false: a sampled call nobody scored). */
  scored?: boolean;
  costUsd?: number;
}

let seq = 0;
const hexId = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** `feature: false` writes the scores as an evaluator before migration 014 did (no Feature column value). */
async function write(store: ClickHouseStore, db: string, scores: Score[], { feature = true } = {}): Promise<void> {
  const calls: object[] = [];
  const evals: object[] = [];
  for (const s of scores) {
    seq += 1;
    const traceId = hexId(seq, 32);
    const spanId = hexId(seq, 16);
    const ts = nsToDateTime64(msToNs(s.atMs));
    calls.push({ [C.Timestamp]: ts, [C.TraceId]: traceId, [C.SpanId]: spanId, [C.ServiceName]: s.service, [C.Feature]: s.feature, [C.EvalSampled]: 1 });
    if (s.scored === false) continue;
    evals.push({
      [E.Timestamp]: ts,
      [E.EvaluatedAt]: ((s.atMs + 60_000) / 1000).toFixed(3),
      [E.TraceId]: traceId,
      [E.SpanId]: spanId,
      [E.ServiceName]: s.service,
      ...(feature ? { [E.Feature]: s.feature } : {}),
      [E.Evaluator]: s.evaluator,
      [E.EvaluatorVersion]: 'v1',
      [E.ScoreValue]: s.score,
      [E.JudgeModel]: 'gpt-4o-mini',
      [E.JudgeCostUsd]: (s.costUsd ?? 0.001).toFixed(6),
    });
  }
  await store.insert(`${db}.${TABLE_LLM_CALLS}`, calls);
  await store.insert(`${db}.${TABLE_LLM_EVALUATIONS}`, evals);
}

/** Five weeks of helpfulness scores on two features, one score every `everyH` hours, around `mean`. */
function weeks(now: number, feature: string, mean: (atMs: number) => number, everyH = 2): Score[] {
  const out: Score[] = [];
  for (let t = now - 34 * DAY; t < now - 2 * HOUR; t += everyH * HOUR) {
    // A deterministic wobble of ±0.05 around the mean (no randomness in what fires).
    const wobble = ((out.length % 5) - 2) * 0.025;
    out.push({ atMs: t, service: 'checkout-api', feature, evaluator: 'helpfulness', score: Math.round((mean(t) + wobble) * 1000) / 1000 });
  }
  return out;
}

describe.skipIf(!hasChdb)('quality alert rules (chdb)', () => {
  let dir: string;
  let store: ClickHouseStore;
  const now = Date.now();
  const caps: JudgeCaps = judgeCapsFromConfig({ dailySpendCapUsd: 100, list: [{ name: 'helpfulness', dailySpendCapUsd: 2 }] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quality-alerts-'));
    store = await createEmbeddedStore({ dataDir: dir, database: 'stable' });
    await migrate(store, { database: 'stable' });
    await migrate(store, { database: 'faulty' });
    await migrate(store, { database: 'upgraded' });
    const thisWeek = (t: number) => t >= now - 7 * DAY;
    // Stable: both features at 0.8 all along; some sampled calls never scored (an evaluator
    // sampleRate below 1), but the service gets scores: not a stall. Judge spend far under the cap.
    await write(store, 'stable', [
      ...weeks(now, 'search', () => 0.8),
      ...weeks(now, 'chat', () => 0.8),
      ...Array.from({ length: 10 }, (_, i) => ({ atMs: now - 5 * HOUR + i * 60_000, service: 'checkout-api', feature: 'chat', evaluator: 'helpfulness', score: null, scored: false })),
      { atMs: Math.max(now - 30 * 60_000, utcDayStart(now)), service: 'checkout-api', feature: 'chat', evaluator: 'helpfulness', score: 0.8, costUsd: 0.5 },
    ]);
    // Faulty: search dips to 0.55 this week (chat holds), so the evaluator over all features drops
    // by 0.125; a feature with 6 scores collapses (under minScores: quiet); support-bot's sampled calls
    // of the last 3 h were never scored and its last score is 3 h old; today's judge spend is 1.8 of 2.
    // Upgraded: the same, scored before migration 014 (no feature on the scores), then its backfill.
    const faulty = () => [
      ...weeks(now, 'search', (t) => (thisWeek(t) ? 0.55 : 0.8)),
      ...weeks(now, 'chat', () => 0.8),
      ...[25, 24, 23, 3, 2, 1].map((d) => ({ atMs: now - d * DAY, service: 'checkout-api', feature: 'rare', evaluator: 'helpfulness', score: d > 7 ? 0.9 : 0.1 })),
      { atMs: now - 4 * HOUR, service: 'support-bot', feature: 'chat', evaluator: 'helpfulness', score: 0.8 },
      ...Array.from({ length: 12 }, (_, i) => ({ atMs: now - 3 * HOUR + i * 10 * 60_000, service: 'support-bot', feature: 'chat', evaluator: 'helpfulness', score: null, scored: false })),
      { atMs: Math.max(now - 20 * 60_000, utcDayStart(now)), service: 'checkout-api', feature: 'chat', evaluator: 'helpfulness', score: 0.8, costUsd: 1.8 },
    ];
    await write(store, 'faulty', faulty());
    await write(store, 'upgraded', faulty(), { feature: false });
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The firing instances of a rule (labels joined by |), as Grafana's threshold would decide. */
  async function firing(db: string, uid: string): Promise<string[]> {
    const built = buildAll({ database: db, judgeCaps: caps });
    const rule = built.alerts.groups.flatMap((g) => g.rules).find((r) => r.uid === uid);
    if (!rule) throw new Error(`no rule ${uid}`);
    const a = rule.data.find((d) => d.refId === 'A');
    const cond = (rule.data.find((d) => d.refId === 'C')?.model.conditions as { evaluator: { type: string; params: number[] } }[])[0];
    const sql = expandGrafanaSql(String(a?.model.rawSql), { from: new Date(now - (a?.relativeTimeRange?.from ?? 0) * 1000), to: new Date(now) });
    const columns = await resultColumns(store, sql);
    const numeric = columns.filter((c) => isNumericType(c.type));
    expect(numeric, `${uid}: one value column`).toHaveLength(1);
    const value = (numeric[0] as { name: string }).name;
    const rows = await store.query<Record<string, unknown>>(sql);
    const threshold = cond?.evaluator.params[0] as number;
    return rows
      .filter((r) => (cond?.evaluator.type === 'lt' ? Number(r[value]) < threshold : Number(r[value]) > threshold))
      .map((r) => Object.entries(r).filter(([k]) => k !== value).map(([, v]) => String(v)).join('|'))
      .sort();
  }

  it('the quality rules are provisioned in their own group, linked to the Quality dashboard', () => {
    const group = buildAll().alerts.groups.find((g) => g.name === 'llm-sidecar-quality');
    expect(group?.rules.map((r) => r.uid)).toEqual(['llm-sidecar-quality-drop', 'llm-sidecar-evaluator-stalled', 'llm-sidecar-judge-spend-cap', 'llm-sidecar-cache-equivalence']);
    for (const r of group?.rules ?? []) expect(r.annotations.__dashboardUid__).toBe('llm-sidecar-quality');
  });

  it('quality drop: fires for the dipping feature and the evaluator overall, not for stable data or thin samples', async () => {
    expect(await firing('faulty', 'llm-sidecar-quality-drop')).toEqual(['helpfulness|(all features)', 'helpfulness|search']);
    expect(await firing('stable', 'llm-sidecar-quality-drop')).toEqual([]);
  });

  it('migration 014 backfills the feature of scores written before it, in place (a re-run changes nothing)', async () => {
    const db = 'upgraded';
    const byFeature = `SELECT ${E.Feature} AS feature, count() AS n FROM ${db}.${TABLE_LLM_EVALUATIONS} FINAL GROUP BY feature ORDER BY feature`;
    const before = await store.query<{ feature: string; n: string }>(byFeature);
    expect(before.map((r) => r.feature)).toEqual(['']);
    const ctx = { database: db, ttlDays: 0, contentTtlDays: 0, rollupTtlDays: 0, skipIndexType: () => undefined };
    const [, backfill] = llmEvaluationsFeature.statements(ctx);
    const rows = async () => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLE_LLM_EVALUATIONS}`))[0]?.n);
    const stored = await rows();
    await store.command(backfill as string);
    // In place (a mutation): no second row per score.
    expect(await rows()).toBe(stored);
    const after = await store.query<{ feature: string; n: string }>(byFeature);
    // Every score whose call llm_calls still holds gets the call's feature; the oldest scores'
    // calls are past llm_calls' row TTL (30 days by default) and keep '' (the documented gap).
    const withoutCall = await store.query<{ n: string }>(
      `SELECT count() AS n FROM ${db}.${TABLE_LLM_EVALUATIONS} FINAL WHERE (${E.TraceId}, ${E.SpanId}) NOT IN (SELECT ${C.TraceId}, ${C.SpanId} FROM ${db}.${TABLE_LLM_CALLS})`,
    );
    expect(Number(withoutCall[0]?.n)).toBeGreaterThan(0);
    expect(after).toEqual([{ feature: '', n: withoutCall[0]?.n }, ...['chat', 'rare', 'search'].map((f) => ({ feature: f, n: expect.any(String) }))]);
    const mismatched = await store.query<{ n: string }>(
      `SELECT count() AS n FROM ${db}.${TABLE_LLM_EVALUATIONS} AS e FINAL INNER JOIN ${db}.${TABLE_LLM_CALLS} AS c ON e.${E.TraceId} = c.${C.TraceId} AND e.${E.SpanId} = c.${C.SpanId} WHERE e.${E.Feature} != c.${C.Feature}`,
    );
    expect(Number(mismatched[0]?.n)).toBe(0);
    expect(after.reduce((a, r) => a + Number(r.n), 0)).toBe(Number(before[0]?.n));
    await store.command(backfill as string);
    expect(await rows()).toBe(stored);
    expect(await store.query(byFeature)).toEqual(after);
    expect(await firing(db, 'llm-sidecar-quality-drop')).toEqual(['helpfulness|(all features)', 'helpfulness|search']);
  });

  it('the drop and the minimum of scores are configurable', async () => {
    const strict = buildAll({ database: 'faulty', qualityThresholds: { ...DEFAULT_QUALITY_THRESHOLDS, drop: 0.2, minScores: 3 } });
    const rule = strict.alerts.groups.flatMap((g) => g.rules).find((r) => r.uid === 'llm-sidecar-quality-drop');
    const sql = expandGrafanaSql(String(rule?.data[0]?.model.rawSql), { from: new Date(now - 35 * DAY), to: new Date(now) });
    const rows = await store.query<{ evaluator: string; feature: string; score_change: number }>(sql);
    const change = new Map(rows.map((r) => [r.feature, Number(r.score_change)]));

    // With 3 scores enough, the collapsed rare feature (0.9 → 0.1) is measured; search's −0.25 too.
    expect(change.get('rare')).toBeCloseTo(-0.8, 6);
    expect(change.get('search')).toBeCloseTo(-0.25, 1);
    expect(change.get('chat')).toBeCloseTo(0, 1);
    expect(rule?.data[1]?.model.conditions).toMatchObject([{ evaluator: { type: 'lt', params: [-0.2] } }]);
  });

  it('evaluator stalled: fires for the service whose sampled calls nobody scores, not for partial sampling', async () => {
    expect(await firing('faulty', 'llm-sidecar-evaluator-stalled')).toEqual(['support-bot']);
    expect(await firing('stable', 'llm-sidecar-evaluator-stalled')).toEqual([]);
  });

  it('judge spend near its cap: fires at 90 % of the configured cap, quiet at 25 % and without caps', async () => {
    expect(await firing('faulty', 'llm-sidecar-judge-spend-cap')).toEqual(['helpfulness|v1']);
    expect(await firing('stable', 'llm-sidecar-judge-spend-cap')).toEqual([]);
    const uncapped = buildAll({ database: 'faulty' }).alerts.groups.flatMap((g) => g.rules).find((r) => r.uid === 'llm-sidecar-judge-spend-cap');
    expect(await store.query(expandGrafanaSql(String(uncapped?.data[0]?.model.rawSql), { from: new Date(now - DAY), to: new Date(now) }))).toEqual([]);
  });
});
