// The coarse rollups of migrations 012 (otel_spans_1m, llm_call_events_10m) and 013 (llm_calls_10m, llm_calls_users_1h),
// on real ClickHouse (chdb): an installation upgraded with calls already stored gets them by the
// backfill, later calls by the views, a re-run or a second concurrent backfill adds nothing, and
// every panel that reads a rollup (its "coarse" branch, dashboards/sql.ts coarseOrFine) gives the
// numbers its llm_calls / per-minute branch gives on the same data: counts, spend and rates
// exactly, t-digest percentiles within their approximation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrafanaSql, type ExpandContext } from '../../dashboards/macros.ts';
import { EVENT_ATTR, SERIES_ON_10M, TABLE_ON_COARSE } from '../../dashboards/sql.ts';
import { EVENT_ATTR_REASON, EVENT_ATTR_TARGET, RESILIENCE_EVENTS } from '../../shared/clickhouse/migrations/012-otel-traces-rollups.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { migrate, plannedStatements } from '../../shared/clickhouse/migrate.ts';
import {
  LLM_CALLS as C,
  LLM_CALLS_10M as D,
  LLM_CALLS_FEATURE_STATUS_10M as O,
  LLM_CALLS_USERS_1H as U,
  LLM_CALL_EVENTS_10M as V,
  OTEL_SPANS_1M as S,
  OTEL_TRACES as T,
  OTEL_TRACES_NESTED as N,
  SCHEMA_MIGRATIONS as M,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_FEATURE_STATUS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  TABLE_LLM_CALL_EVENTS_10M,
  TABLE_OTEL_SPANS_1M,
  TABLE_OTEL_TRACES,
  TABLE_SCHEMA_MIGRATIONS,
  VIEW_LLM_CALLS_10M_MV,
  VIEW_LLM_CALLS_FEATURE_STATUS_10M_MV,
  VIEW_LLM_CALLS_USERS_1H_MV,
  VIEW_LLM_CALL_EVENTS_10M_MV,
  VIEW_OTEL_SPANS_1M_MV,
  qualified,
} from '../../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { allSelected, panelQueries, readCommitted } from './harness.ts';
import { seed } from './seed.ts';

const hasChdb = await chdbAvailable();
const DB = 'otel';
const DAY_MS = 86_400_000;
const ROLLUPS = [TABLE_OTEL_SPANS_1M, TABLE_LLM_CALL_EVENTS_10M, TABLE_LLM_CALLS_10M, TABLE_LLM_CALLS_FEATURE_STATUS_10M, TABLE_LLM_CALLS_USERS_1H] as const;
const VIEWS = [VIEW_OTEL_SPANS_1M_MV, VIEW_LLM_CALL_EVENTS_10M_MV, VIEW_LLM_CALLS_10M_MV, VIEW_LLM_CALLS_FEATURE_STATUS_10M_MV, VIEW_LLM_CALLS_USERS_1H_MV] as const;
const NEW_MIGRATIONS = [12, 13];

type Row = Record<string, unknown>;

/** Raw totals and the rollups' totals (exact decimal sums as strings). */
async function totals(store: ClickHouseStore): Promise<Row> {
  const q = async (sql: string) => (await store.query<Row>(sql))[0] as Row;
  const raw = await q(`SELECT count() AS calls, toString(sum(ifNull(${C.CostUsd}, 0))) AS cost, countIf(${C.CostUsd} IS NOT NULL) AS priced FROM ${qualified(DB, TABLE_LLM_CALLS)}`);
  const spans = await q(`SELECT count() AS spans, toString(max(${T.Timestamp})) AS last FROM ${qualified(DB, TABLE_OTEL_TRACES)}`);
  const r10 = await q(`SELECT sum(${D.Calls}) AS calls FROM ${qualified(DB, TABLE_LLM_CALLS_10M)}`);
  const o10 = await q(`SELECT sum(${O.Calls}) AS calls, toString(sum(${O.CostUsd})) AS cost, sum(${O.PricedCalls}) AS priced FROM ${qualified(DB, TABLE_LLM_CALLS_FEATURE_STATUS_10M)}`);
  const users = await q(`SELECT sum(${U.Calls}) AS calls, toString(sum(${U.CostUsd})) AS cost, sum(${U.PricedCalls}) AS priced FROM ${qualified(DB, TABLE_LLM_CALLS_USERS_1H)}`);
  const s1 = await q(`SELECT sum(${S.Spans}) AS spans, toString(max(${S.LastSpan})) AS last FROM ${qualified(DB, TABLE_OTEL_SPANS_1M)}`);
  const list = RESILIENCE_EVENTS.map((e) => `'${e}'`).join(', ');
  const rawEvents = await q(
    `SELECT count() AS events, uniqExact(event, event_attrs['${EVENT_ATTR_REASON}'], event_attrs['${EVENT_ATTR_TARGET}']) AS kinds FROM ${qualified(DB, TABLE_OTEL_TRACES)} ARRAY JOIN \`${N.EventsName}\` AS event, \`${N.EventsAttributes}\` AS event_attrs WHERE event IN (${list}) AND has(${T.SpanAttributes}.keys, 'gen_ai.operation.name')`,
  );
  const e10 = await q(`SELECT sum(${V.Events}) AS events, uniqExact(${V.EventName}, ${V.Reason}, ${V.Target}) AS kinds FROM ${qualified(DB, TABLE_LLM_CALL_EVENTS_10M)}`);
  return { raw, spans, r10, o10, users, s1, rawEvents, e10 };
}

function expectRollupsMatch(t: Row): void {
  const { raw, spans, r10, o10, users, s1, rawEvents, e10 } = t as Record<string, Row>;
  expect(Number(raw?.calls)).toBeGreaterThan(0);
  expect(Number(rawEvents?.events)).toBeGreaterThan(0);
  expect(e10).toEqual(rawEvents);
  expect(r10?.calls).toEqual(raw?.calls);
  expect(o10).toEqual(raw);
  expect(users).toEqual(raw);
  expect(s1).toEqual(spans);
}

/** A committed panel query with its coarse branch switched off: the same panel as it reads llm_calls / the per-minute rollup. */
function fineOnly(sql: string): string {
  return sql.replaceAll(SERIES_ON_10M, '0').replaceAll(TABLE_ON_COARSE, '0');
}

const round = (v: unknown) => (v === null || v === undefined ? null : typeof v === 'number' || (typeof v === 'string' && /^-?[\d.e+-]+$/.test(v)) ? Number(Number(v).toPrecision(12)) : v);

describe.skipIf(!hasChdb)('coarse rollups (migrations 012-013)', () => {
  let dir: string;
  let store: ClickHouseStore;
  let now: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-rollups-'));
    store = await createEmbeddedStore({ dataDir: dir, database: DB });
    // An installation from before 012: migrated, then the new rollups, views and ledger rows removed.
    await migrate(store);
    for (const v of VIEWS) await store.command(`DROP VIEW ${qualified(DB, v)}`);
    for (const r of ROLLUPS) await store.command(`TRUNCATE TABLE ${qualified(DB, r)}`);
    await store.command(`ALTER TABLE ${qualified(DB, TABLE_SCHEMA_MIGRATIONS)} DELETE WHERE ${M.Id} IN (${NEW_MIGRATIONS.join(', ')}) SETTINGS mutations_sync = 2`);
    now = Date.now();
    await seed(store, now);
  }, 300_000);

  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the upgrade backfills every rollup from the calls and spans already stored', async () => {
    const before = await totals(store);
    expect(Number((before.r10 as Row).calls ?? 0)).toBe(0);
    const result = await migrate(store);
    expect(result.applied).toEqual(['012-otel-traces-rollups', '013-llm-calls-10m-users-1h']);
    expectRollupsMatch(await totals(store));
  }, 120_000);

  it('a re-run of a backfill, or two at once, adds nothing', async () => {
    const backfills = plannedStatements(DB)
      .flatMap((p) => p.statements)
      .filter((sql) => sql.startsWith('INSERT INTO'));
    expect(backfills.map((sql) => /^INSERT INTO `\w+`\.`(\w+)`/.exec(sql)?.[1])).toEqual([...ROLLUPS]);
    const once = await totals(store);
    for (const sql of backfills) await store.command(sql);
    expect(await totals(store)).toEqual(once);
    // Emptied (as if the backfill had never run), then two backfills at the same moment.
    for (const r of ROLLUPS) await store.command(`TRUNCATE TABLE ${qualified(DB, r)}`);
    await Promise.all(backfills.flatMap((sql) => [store.command(sql), store.command(sql)]));
    expect(await totals(store)).toEqual(once);
  }, 120_000);

  it('calls written after the upgrade reach the rollups through their views', async () => {
    await seed(store, now + DAY_MS);
    expectRollupsMatch(await totals(store));
  }, 300_000);

  it('every panel that reads a coarse rollup gives the numbers of its fine branch (range ≥ 2 days, 10-minute interval, every variable at All)', async () => {
    // Bucket-aligned start; the end after every seeded call, so the rollups' bucket edges cut nothing.
    const from = new Date(Math.floor((now - 7 * DAY_MS) / 3_600_000) * 3_600_000);
    const ctx: ExpandContext = { from, to: new Date(now + 2 * DAY_MS), intervalSeconds: 600, variables: allSelected() };
    const panels = panelQueries(readCommitted()).filter((p) => p.sql.includes(SERIES_ON_10M) || p.sql.includes(TABLE_ON_COARSE));
    expect(panels.map((p) => p.title).sort()).toEqual(
      [
        'Calls turned away by open breakers',
        'Circuit breakers: calls turned away by an open breaker',
        'Resilience events',
        'Error rate by error type and provider',
        'Latency and time to first token by route and model',
        'Latency p50 / p95 / p99',
        'Latency p95 · TTFT p95 · overhead p99',
        'Proxy overhead p50 / p99',
        'Spend by feature',
        'Spend by user (top 10)',
        'Top users by spend',
        'p95 latency by route and model',
        'p95 time to first token by route and model',
      ].sort(),
    );
    for (const p of panels) {
      const coarse = await store.query<Row>(expandGrafanaSql(p.sql, ctx));
      const fine = await store.query<Row>(expandGrafanaSql(fineOnly(p.sql), ctx));
      expect(coarse.length, p.title).toBeGreaterThan(0);
      const percentiles = /p\d\d|latency|ttft|overhead/i.test(p.title);
      if (!percentiles) {
        // Spend of a group whose calls all lack a price: NULL on llm_calls, 0 in the rollup.
        const norm = (rows: Row[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'spend_usd' && v === null ? 0 : round(v)])));
        const key = (r: Row) => JSON.stringify(r);
        expect(norm(coarse).map(key).sort(), p.title).toEqual(norm(fine).map(key).sort());
        continue;
      }
      // t-digest percentiles (per-minute vs 10-minute states, or sampled quantiles on llm_calls): the
      // same groups with the same call counts; values close where a group has enough calls (a t-digest
      // of two calls answers one of them where quantiles() interpolates), so: 90 % of the cells within
      // 15 %, the whole-range stat within 5 %.
      expect(coarse.length, p.title).toBe(fine.length);
      const keyOf = (r: Row) => Object.entries(r).filter(([, v]) => typeof v === 'string' && !/^-?[\d.e+-]+$/.test(v)).map(([k, v]) => `${k}=${String(v)}`).join('|');
      const fineByKey = new Map(fine.map((r) => [keyOf(r), r]));
      const errors: number[] = [];
      for (const r of coarse) {
        const f = fineByKey.get(keyOf(r));
        expect(f, `${p.title}: ${keyOf(r)}`).toBeDefined();
        for (const [k, v] of Object.entries(r)) {
          const a = Number(v);
          const b = Number(f?.[k]);
          if (v === null || !Number.isFinite(a) || !Number.isFinite(b) || keyOf({ [k]: v }) !== '') continue;
          if (k === 'calls') expect(a, `${p.title} ${k}`).toBe(b);
          else errors.push(Math.abs(a - b) / Math.max(Math.abs(b), 1));
        }
      }
      expect(errors.length, p.title).toBeGreaterThan(0);
      if (coarse.length === 1) for (const e of errors) expect(e, p.title).toBeLessThanOrEqual(0.05);
      else expect(errors.filter((e) => e <= 0.15).length / errors.length, p.title).toBeGreaterThanOrEqual(0.9);
    }
  }, 180_000);

  it('the event rollup keeps the attributes the panels read', () => {
    expect([EVENT_ATTR_REASON, EVENT_ATTR_TARGET]).toEqual([EVENT_ATTR.reason, EVENT_ATTR.target]);
  });

  it('spans per service and the newest span per service equal the counts on otel_traces', async () => {
    const from = new Date(Math.floor((now - 7 * DAY_MS) / 3_600_000) * 3_600_000);
    const ctx: ExpandContext = { from, to: new Date(now + 2 * DAY_MS), intervalSeconds: 600, variables: allSelected() };
    const byTitle = (title: string) => panelQueries(readCommitted()).find((p) => p.title === title)?.sql as string;
    const spans = await store.query<Row>(expandGrafanaSql(byTitle('Spans ingested per service'), ctx));
    const raw = await store.query<Row>(
      expandGrafanaSql(`SELECT $__timeInterval(${T.Timestamp}) AS time, ${T.ServiceName} AS service, count() AS spans FROM ${qualified(DB, TABLE_OTEL_TRACES)} WHERE $__timeFilter(${T.Timestamp}) GROUP BY time, service ORDER BY time, service`, ctx),
    );
    const key = (r: Row) => `${String(r.time)}|${String(r.service)}|${String(r.spans)}`;
    expect(spans.map(key).sort()).toEqual(raw.map(key).sort());
    const fresh = await store.query<Row>(expandGrafanaSql(byTitle('Seconds since the last span, per service'), ctx));
    const rawFresh = await store.query<Row>(expandGrafanaSql(`SELECT ${T.ServiceName} AS service, toString(max(${T.Timestamp})) AS last FROM ${qualified(DB, TABLE_OTEL_TRACES)} WHERE $__timeFilter(${T.Timestamp}) GROUP BY service`, ctx));
    expect(new Map(fresh.map((r) => [r.service, String(r.last_span)]))).toEqual(new Map(rawFresh.map((r) => [r.service, r.last])));
  }, 60_000);
});
