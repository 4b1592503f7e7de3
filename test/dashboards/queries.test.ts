// Every piece of SQL in the committed dashboards/generated files — panel targets, variable
// queries, the trace query behind the TraceId links, alert rules — is expanded the way Grafana and
// the ClickHouse plugin expand it and executed on real ClickHouse (chdb) over two weeks of seeded
// traffic. The results are checked against figures computed independently from the seed plan
// (counts, exact spend, rates, per-label sums), not just "no error".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEHOLDER_MONTHLY_BUDGET_USD } from '../../dashboards/budgets.ts';
import { buildAll } from '../../dashboards/index.ts';
import { expandGrafanaSql, type ExpandContext, type VariableValue } from '../../dashboards/macros.ts';
import { CACHE_STATUS, EVENT, SCORE_PASS, SKIP_REASON_CIRCUIT_OPEN } from '../../dashboards/sql.ts';
import { DEFAULT_QUALITY_THRESHOLDS } from '../../dashboards/quality-alerts.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import {
  LLM_CALLS,
  LLM_CALLS_1M,
  LLM_CALLS_10M,
  LLM_CALLS_FEATURE_STATUS_10M,
  LLM_CALLS_USERS_1H,
  LLM_CALL_EVENTS_10M,
  OTEL_SPANS_1M,
  LLM_EVALUATIONS,
  LLM_EVAL_CALIBRATION,
  LLM_FEEDBACK,
  OTEL_TRACES,
  OTEL_TRACES_NESTED,
  OTEL_TRACES_TRACE_ID_TS,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_1M,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_FEATURE_STATUS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  TABLE_LLM_CALL_EVENTS_10M,
  TABLE_OTEL_SPANS_1M,
  TABLE_LLM_EVALUATIONS,
  TABLE_LLM_EVAL_CALIBRATION,
  TABLE_LLM_FEEDBACK,
  TABLE_OTEL_TRACES,
  TABLE_OTEL_TRACES_TRACE_ID_TS,
} from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import {
  alertQueries,
  allSelected,
  columnsRead,
  isNumericType,
  isStringType,
  isTimeType,
  num,
  panelQueries,
  readCommitted,
  resultColumns,
  run,
  select,
  traceLinkQuery,
  traceLinks,
  variableQueries,
  type Committed,
} from './harness.ts';
import { BREAKER_TARGET, BURST_ROUTE, SERVICES, STALE_SERVICE, TENANTS, percentile, picoToNumber, seed, sumPico, type Seed, type SeedCalibration, type SeedCall } from './seed.ts';

const hasChdb = await chdbAvailable();
const DB = 'otel';
const HOUR = 3600;
const DAY_MS = 86_400_000;

type Row = Record<string, unknown>;

/** The schema's columns per table, as the constants name them. */
const SCHEMA_COLUMNS: Record<string, Set<string>> = {
  [`${DB}.${TABLE_LLM_CALLS}`]: new Set(Object.values(LLM_CALLS)),
  [`${DB}.${TABLE_LLM_CALLS_1M}`]: new Set(Object.values(LLM_CALLS_1M)),
  [`${DB}.${TABLE_LLM_CALLS_10M}`]: new Set(Object.values(LLM_CALLS_10M)),
  [`${DB}.${TABLE_LLM_CALLS_FEATURE_STATUS_10M}`]: new Set(Object.values(LLM_CALLS_FEATURE_STATUS_10M)),
  [`${DB}.${TABLE_LLM_CALLS_USERS_1H}`]: new Set(Object.values(LLM_CALLS_USERS_1H)),
  [`${DB}.${TABLE_OTEL_SPANS_1M}`]: new Set(Object.values(OTEL_SPANS_1M)),
  [`${DB}.${TABLE_LLM_CALL_EVENTS_10M}`]: new Set(Object.values(LLM_CALL_EVENTS_10M)),
  [`${DB}.${TABLE_LLM_EVALUATIONS}`]: new Set(Object.values(LLM_EVALUATIONS)),
  [`${DB}.${TABLE_LLM_FEEDBACK}`]: new Set(Object.values(LLM_FEEDBACK)),
  [`${DB}.${TABLE_LLM_EVAL_CALIBRATION}`]: new Set(Object.values(LLM_EVAL_CALIBRATION)),
  [`${DB}.${TABLE_OTEL_TRACES}`]: new Set([...Object.values(OTEL_TRACES), ...Object.values(OTEL_TRACES_NESTED)]),
  [`${DB}.${TABLE_OTEL_TRACES_TRACE_ID_TS}`]: new Set(Object.values(OTEL_TRACES_TRACE_ID_TS)),
};

function groupSum<T>(items: readonly T[], key: (t: T) => string, value: (t: T) => number): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + value(it));
  return m;
}

function expectClose(actual: unknown, expected: number, what: string, rel = 1e-9): void {
  const a = num(actual);
  expect(Number.isFinite(a), `${what}: ${String(actual)} is a number`).toBe(true);
  expect(Math.abs(a - expected), `${what}: ${a} ≈ ${expected}`).toBeLessThanOrEqual(Math.max(Math.abs(expected) * rel, 1e-9));
}

function expectMapsClose(actual: Map<string, number>, expected: Map<string, number>, what: string, rel = 1e-9): void {
  expect([...actual.keys()].sort(), what).toEqual([...expected.keys()].sort());
  for (const [k, v] of expected) expectClose(actual.get(k), v, `${what} [${k}]`, rel);
}

const isError = (c: SeedCall) => c.error !== undefined;
const HIT_STATUSES: string[] = [CACHE_STATUS.hit, CACHE_STATUS.semanticHit, CACHE_STATUS.stale];
const cost = (c: SeedCall) => picoToNumber(c.costPico ?? 0n);
const hour = (ms: number) => Math.floor(ms / 1000 / HOUR) * HOUR;

describe.skipIf(!hasChdb)('dashboards and alert rules on real ClickHouse (chdb) with seeded traffic', () => {
  let dataDir: string;
  let store: ClickHouseStore;
  let s: Seed;
  let c: Committed;
  let ctx: ExpandContext;
  const results = new Map<string, Row[]>();
  const panel = (dashboard: string, title: string, refId = 'A'): Row[] => {
    const r = results.get(`${dashboard}/${title}/${refId}`);
    if (!r) throw new Error(`no result for ${dashboard}/${title}/${refId}`);
    return r;
  };
  const sqlOf = (dashboard: string, title: string, refId = 'A'): string => {
    const q = panelQueries(c).find((p) => p.dashboard === dashboard && p.title === title && p.refId === refId);
    if (!q) throw new Error(`no panel ${dashboard}/${title}`);
    return q.sql;
  };
  /** Runs a time-series panel with `time` as epoch seconds (independent of the server's time zone). */
  const series = async (dashboard: string, title: string, variables: Record<string, VariableValue> = allSelected()): Promise<Row[]> =>
    store.query<Row>(`SELECT toUnixTimestamp(time) AS ts, * FROM (${expandGrafanaSql(sqlOf(dashboard, title), { ...ctx, variables })})`);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dash-queries-'));
    store = await createEmbeddedStore({ dataDir, database: DB });
    await migrate(store);
    s = await seed(store);
    c = readCommitted();
    ctx = { from: new Date(s.now - 15 * DAY_MS), to: new Date(s.now + 60_000), intervalSeconds: HOUR, variables: allSelected() };
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('every query runs and has the right shape', () => {
    it('every panel target runs with every variable at All and returns rows', async () => {
      const queries = panelQueries(c);
      expect(queries.length).toBeGreaterThan(40);
      for (const q of queries) {
        const rows = await run<Row>(store, q.sql, ctx).catch((err: unknown) => {
          throw new Error(`${q.dashboard} / ${q.title} (${q.refId}): ${err instanceof Error ? err.message : String(err)}`);
        });
        // Month-to-date panels are empty only in the first minutes of a month (no call since it began).
        const monthToDate = /month|Budget/.test(q.title) && !s.calls.some((x) => x.startMs >= Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
        if (!monthToDate) expect(rows.length, `${q.dashboard} / ${q.title} returns rows`).toBeGreaterThan(0);
        results.set(`${q.dashboard}/${q.title}/${q.refId}`, rows);
      }
    });

    it('time series targets return a DateTime `time` column first, then numbers and label strings; tables and stats have named columns', async () => {
      for (const q of panelQueries(c)) {
        const columns = await resultColumns(store, expandGrafanaSql(q.sql, ctx));
        if (q.format === 0) {
          expect(columns[0]?.name, q.title).toBe('time');
          expect(isTimeType(columns[0]?.type ?? ''), `${q.title}: ${columns[0]?.type}`).toBe(true);
          for (const col of columns.slice(1)) expect(isNumericType(col.type) || isStringType(col.type), `${q.title}.${col.name}: ${col.type}`).toBe(true);
          expect(columns.slice(1).some((col) => isNumericType(col.type)), `${q.title} has a value column`).toBe(true);
        }
        if (q.type === 'stat' || q.type === 'bargauge') expect(columns.some((col) => isNumericType(col.type)), `${q.title} has a number`).toBe(true);
      }
    });

    it('every table column the SQL reads exists in ClickHouse and is named by a schema.ts constant', async () => {
      const real = new Map<string, Set<string>>();
      for (const r of await store.query<{ t: string; name: string }>(`SELECT concat(database, '.', table) AS t, name FROM system.columns WHERE database = '${DB}'`)) {
        if (!real.has(r.t)) real.set(r.t, new Set());
        real.get(r.t)?.add(r.name);
      }
      const sqls = [
        ...panelQueries(c).map((q) => [q.title, expandGrafanaSql(q.sql, ctx)]),
        ...variableQueries(c).map((v) => [`variable ${v.name}`, expandGrafanaSql(v.sql, ctx)]),
        ...alertQueries(c).map((a) => [a.uid, expandGrafanaSql(a.sql, ctx)]),
        ...traceLinks(c).map((l) => [`trace link ${l.title}`, traceLinkQuery(l.url, 'abc').queries[0]?.rawSql as string]),
      ];
      const tablesSeen = new Set<string>();
      for (const [what, sql] of sqls) {
        const read = await columnsRead(store, sql as string);
        expect(read.length, `${what} reads columns`).toBeGreaterThan(0);
        for (const { table, column } of read) {
          tablesSeen.add(table);
          expect(real.get(table)?.has(column), `${what}: ${table}.${column} exists`).toBe(true);
          expect(SCHEMA_COLUMNS[table]?.has(column), `${what}: ${table}.${column} is a schema.ts constant`).toBe(true);
        }
      }
      expect([...tablesSeen].sort()).toEqual(Object.keys(SCHEMA_COLUMNS).sort());
    });

    it('every target also runs on an empty time range (no division or cast errors without data)', async () => {
      const empty = { ...ctx, from: new Date('2001-01-01T00:00:00Z'), to: new Date('2001-01-02T00:00:00Z') };
      for (const q of panelQueries(c)) await expect(run(store, q.sql, empty), q.title).resolves.toBeDefined();
    });
  });

  describe('variables', () => {
    const values = async (sql: string, variables = allSelected()) => (await run<Row>(store, sql, { ...ctx, variables })).map((r) => String(Object.values(r)[0]));
    const distinct = (f: (c: SeedCall) => string, calls = s.calls) => [...new Set(calls.map(f))].filter((v) => v !== '').sort();

    it('offer the distinct values seen in the time range', async () => {
      const expected: Record<string, string[]> = {
        service: [...SERVICES].sort(),
        route: distinct((x) => x.route),
        provider: distinct((x) => x.provider),
        model: distinct((x) => x.requestModel),
        tenant: [...TENANTS].sort(),
        evaluator: [...new Set(s.evaluations.map((e) => e.evaluator))].sort(),
      };
      for (const v of variableQueries(c)) expect(await values(v.sql), `${v.dashboard} ${v.name}`).toEqual(expected[v.name]);
    });

    it('after service, only the values seen for the selected services', async () => {
      const route = variableQueries(c).find((v) => v.name === 'route')?.sql as string;
      expect(await values(route, select({ service: [STALE_SERVICE] }))).toEqual(distinct((x) => x.route, s.calls.filter((x) => x.service === STALE_SERVICE)));
    });

    it('a selection filters the panels (values quoted and escaped by the singlequote format)', async () => {
      const requests = sqlOf('sre', 'Requests');
      const count = async (v: Record<string, string[]>) => num((await run<Row>(store, requests, { ...ctx, variables: select(v) }))[0]?.requests);
      expect(await count({ service: ['support-bot'] })).toBe(s.calls.filter((x) => x.service === 'support-bot').length);
      expect(await count({ service: ['support-bot', 'batch-worker'], tenant: ['acme'] })).toBe(s.calls.filter((x) => x.service !== 'checkout-api' && x.tenant === 'acme').length);
      expect(await count({ route: ["o'brien"] })).toBe(0);

      const spend = await run<Row>(store, sqlOf('cost', 'Spend'), { ...ctx, variables: select({ provider: ['anthropic'], model: ['claude-sonnet-4-5'] }) });
      expectClose(spend[0]?.spend_usd, s.calls.filter((x) => x.requestModel === 'claude-sonnet-4-5').reduce((a, x) => a + cost(x), 0), 'spend of one model');

      // Tables without provider/tenant columns filter through llm_calls by span id.
      const evals = await run<Row>(store, sqlOf('quality', 'Evaluations · average score'), { ...ctx, variables: select({ provider: ['anthropic'], evaluator: ['relevance'] }) });
      expect(num(evals[0]?.evaluations)).toBe(s.evaluations.filter((e) => e.call.provider === 'anthropic' && e.evaluator === 'relevance' && e.score !== null).length);
      const fb = await run<Row>(store, sqlOf('quality', 'Feedback · thumbs up'), { ...ctx, variables: select({ tenant: ['globex'] }) });
      expect(num(fb[0]?.ratings)).toBe(s.feedback.filter((f) => f.call.tenant === 'globex').length);
    });
  });

  describe('SRE', () => {
    it('requests, error rate, latency, cache and fallback figures', () => {
      const n = s.calls.length;
      expect(num(panel('sre', 'Requests')[0]?.requests)).toBe(n);
      expectClose(panel('sre', 'Error rate')[0]?.error_rate, s.calls.filter(isError).length / n, 'error rate');
      const lat = panel('sre', 'Latency p95 · TTFT p95 · overhead p99')[0] as Row;
      expectClose(lat.p95_latency_ms, percentile(s.calls.map((x) => x.durationMs), 0.95), 'p95 latency (t-digest)', 0.1);
      expectClose(lat.p95_ttft_ms, percentile(s.calls.flatMap((x) => (x.ttftSeconds !== undefined ? [x.ttftSeconds * 1000] : [])), 0.95), 'p95 ttft (t-digest)', 0.1);
      expectClose(lat.p99_overhead_ms, percentile(s.calls.map((x) => x.overheadMs), 0.99), 'p99 overhead (t-digest)', 0.1);
      const hits = s.calls.filter((x) => [CACHE_STATUS.hit, CACHE_STATUS.semanticHit, CACHE_STATUS.stale].includes(x.cacheStatus as 'hit')).length;
      const res = panel('sre', 'Cache hit rate · fallback rate')[0] as Row;
      expectClose(res.cache_hit_rate, hits / n, 'cache hit rate');
      expectClose(res.fallback_rate, s.calls.filter((x) => x.fallbackIndex > 0).length / n, 'fallback rate');
      expect(num(res.retried_calls)).toBe(s.calls.filter((x) => x.attempts > 1).length);
    });

    it('request rate by provider integrates to the seeded count', () => {
      const rows = panel('sre', 'Request rate by provider');
      expectMapsClose(
        groupSum(rows, (r) => String(r.provider), (r) => num(r.requests_per_second) * HOUR),
        groupSum(s.calls, (x) => x.provider, () => 1),
        'calls per provider',
        1e-6,
      );
    });

    it('error rate by error type and provider: errors of the type / calls of the provider, per interval', async () => {
      const rows = await series('sre', 'Error rate by error type and provider');
      const actual = new Map(rows.map((r) => [`${String(r.ts)}|${String(r.series)}`, num(r.error_rate)]));
      const totals = groupSum(s.calls, (x) => `${hour(x.startMs)}|${x.provider}`, () => 1);
      const errors = groupSum(s.calls.filter(isError), (x) => `${hour(x.startMs)}|${x.provider} · ${x.error?.type}`, () => 1);
      const expected = new Map([...errors].map(([k, v]) => [k, v / (totals.get(k.split(' · ')[0] as string) as number)]));
      expectMapsClose(actual, expected, 'error rate per (hour, provider · type)');
    });

    it('upstream status codes and the top errors (latest trace of each)', () => {
      expectMapsClose(
        groupSum(panel('sre', 'Upstream HTTP status codes'), (r) => String(r.status), (r) => num(r.calls)),
        groupSum(s.calls, (x) => (x.httpStatus === 0 ? 'none' : String(x.httpStatus)), () => 1),
        'calls per status',
      );
      const top = panel('sre', 'Top errors');
      const groups = new Map<string, SeedCall[]>();
      for (const x of s.calls.filter(isError)) {
        const k = [x.error?.type, x.provider, x.requestModel, x.route, x.httpStatus].join('|');
        groups.set(k, [...(groups.get(k) ?? []), x]);
      }
      expect(top).toHaveLength(Math.min(20, groups.size));
      expect(top[0]).toMatchObject({ error_type: 'server_error', provider: 'openai', model: 'gpt-4o', route: BURST_ROUTE });
      for (const r of top) {
        const g = groups.get([r.error_type, r.provider, r.model, r.route, num(r.http_status)].join('|')) as SeedCall[];
        expect(num(r.calls)).toBe(g.length);
        expect(r.trace_id).toBe(g.reduce((a, b) => (b.startMs > a.startMs ? b : a)).traceId);
      }
      const counts = top.map((r) => num(r.calls));
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
    });

    it('latency and TTFT panels: ordered percentiles, the right series, exact counts per route and model', () => {
      for (const r of panel('sre', 'Latency p50 / p95 / p99')) expect(num(r.p50) <= num(r.p95) && num(r.p95) <= num(r.p99)).toBe(true);
      const combos = (calls: SeedCall[]) => [...new Set(calls.map((x) => `${x.route} · ${x.requestModel}`))].sort();
      expect([...new Set(panel('sre', 'p95 latency by route and model').map((r) => String(r.series)))].sort()).toEqual(combos(s.calls));
      expect([...new Set(panel('sre', 'p95 time to first token by route and model').map((r) => String(r.series)))].sort()).toEqual(combos(s.calls.filter((x) => x.ttftSeconds !== undefined)));
      const table = panel('sre', 'Latency and time to first token by route and model');
      expectMapsClose(groupSum(table, (r) => `${r.route} · ${r.model}`, (r) => num(r.calls)), groupSum(s.calls, (x) => `${x.route} · ${x.requestModel}`, () => 1), 'calls per route · model');
      for (const r of table) expect(num(r.p50_ms) <= num(r.p95_ms) && num(r.p95_ms) <= num(r.p99_ms)).toBe(true);
      const search = table.find((r) => r.route === BURST_ROUTE && r.model === 'gpt-4o') as Row;
      expectClose(search.p99_ms, percentile(s.calls.filter((x) => x.route === BURST_ROUTE && x.requestModel === 'gpt-4o').map((x) => x.durationMs), 0.99), 'p99 search · gpt-4o', 0.05);
    });

    it('retries, fallbacks and resilience events add up to the seeded ones', () => {
      const rf = panel('sre', 'Retries and fallbacks');
      expect(rf.reduce((a, r) => a + num(r.retried_calls), 0)).toBe(s.calls.filter((x) => x.attempts > 1).length);
      expect(rf.reduce((a, r) => a + num(r.fallback_calls), 0)).toBe(s.calls.filter((x) => x.fallbackIndex > 0).length);
      expect(rf.reduce((a, r) => a + num(r.extra_attempts), 0)).toBe(s.calls.reduce((a, x) => a + x.attempts - 1, 0));
      const events = s.calls.flatMap((x) => x.events);
      expectMapsClose(
        groupSum(panel('sre', 'Resilience events'), (r) => String(r.event_name), (r) => num(r.events)),
        groupSum(events, (e) => (e.name === EVENT.targetSkipped ? `${e.name} (${String(e.attributes.reason)})` : e.name), () => 1),
        'events by name',
      );
      const skips = events.filter((e) => e.name === EVENT.targetSkipped && e.attributes.reason === SKIP_REASON_CIRCUIT_OPEN);
      expect(skips.length).toBe(8);
      expectMapsClose(groupSum(panel('sre', 'Circuit breakers: calls turned away by an open breaker'), (r) => String(r.target), (r) => num(r.skipped_calls)), new Map([[BREAKER_TARGET, 8]]), 'skips per target');
      expect(num(panel('sre', 'Calls turned away by open breakers')[0]?.breaker_skips)).toBe(8);
    });

    it('cache hit rate by kind, per interval', async () => {
      const rows = await series('sre', 'Cache hit rate by kind');
      const totals = groupSum(s.calls, (x) => String(hour(x.startMs)), () => 1);
      const share = (status: string) => {
        const hits = groupSum(s.calls.filter((x) => x.cacheStatus === status), (x) => String(hour(x.startMs)), () => 1);
        return new Map([...totals.keys()].map((k) => [k, (hits.get(k) ?? 0) / (totals.get(k) as number)]));
      };
      expectMapsClose(new Map(rows.map((r) => [String(r.ts), num(r.exact)])), share(CACHE_STATUS.hit), 'exact hits');
      expectMapsClose(new Map(rows.map((r) => [String(r.ts), num(r.semantic)])), share(CACHE_STATUS.semanticHit), 'semantic hits');
      expectMapsClose(new Map(rows.map((r) => [String(r.ts), num(r.stale)])), share(CACHE_STATUS.stale), 'stale answers');
      for (const r of panel('sre', 'Proxy overhead p50 / p99')) expect(num(r.p50) > 0 && num(r.p50) <= num(r.p99)).toBe(true);
    });

    it('telemetry: spans per service and the age of the newest span', () => {
      expectMapsClose(groupSum(panel('sre', 'Spans ingested per service'), (r) => String(r.service), (r) => num(r.spans)), groupSum(s.calls, (x) => x.service, (x) => 2 + x.attempts), 'spans per service');
      const fresh = panel('sre', 'Seconds since the last span, per service');
      expect(fresh[0]?.service).toBe(STALE_SERVICE);
      const newest = (svc: string) => Math.max(...s.calls.filter((x) => x.service === svc).map((x) => x.startMs + x.attempts));
      for (const r of fresh) expect(Math.abs(num(r.seconds_since_last_span) - (Date.now() - newest(String(r.service))) / 1000), `age of ${String(r.service)}`).toBeLessThan(60);
    });

    it('the trace link opens every span of the trace in the trace-view shape', async () => {
      const call = s.calls.find((x) => x.error && x.events.length > 0) as SeedCall;
      for (const link of traceLinks(c)) {
        const q = traceLinkQuery(link.url, call.traceId).queries[0];
        const spans = await store.query<Row>(q?.rawSql as string);
        expect(spans).toHaveLength(2 + call.attempts);
        const op = spans.find((x) => x.spanID === call.spanId) as Row;
        expect(op).toMatchObject({ traceID: call.traceId, operationName: `chat ${call.requestModel}`, serviceName: call.service, kind: 'client', statusCode: 2 });
        expectClose(op.duration, call.durationMs, 'span duration (ms)', 1e-6);
        expectClose(op.startTime, call.startMs, 'span start (epoch ms)', 1e-12);
        expect((op.tags as { key: string; value: string }[]).find((t) => t.key === 'llm_sidecar.route')?.value).toBe(call.route);
        expect((op.logs as { name: string; fields: { key: string }[] }[]).map((l) => l.name)).toEqual(call.events.map((e) => e.name));
        expect(spans.filter((x) => x.parentSpanID === call.spanId)).toHaveLength(call.attempts);
      }
    });
  });

  describe('Cost', () => {
    const monthStart = () => {
      const d = new Date();
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    };

    it('spend, cost per request, calls without a price', () => {
      const total = picoToNumber(sumPico(s.calls.map((x) => x.costPico)));
      expectClose(panel('cost', 'Spend')[0]?.spend_usd, total, 'spend');
      expectClose(panel('cost', 'Cost per request')[0]?.usd_per_request, total / s.calls.filter((x) => x.costPico !== undefined).length, 'cost per priced request');
      expect(num(panel('cost', 'Calls without a price')[0]?.unpriced_calls)).toBe(s.calls.filter((x) => x.costPico === undefined && x.inputTokens + x.outputTokens > 0 && !HIT_STATUSES.includes(x.cacheStatus)).length);
      expect(num(panel('cost', 'Calls without a price')[0]?.unpriced_calls)).toBeGreaterThan(0);
    });

    it('spend over time by model, provider, service, tenant, feature and user sums to the seeded cost per label', () => {
      const by = (f: (x: SeedCall) => string) => groupSum(s.calls, f, cost);
      const actual = (title: string, label: string) => groupSum(panel('cost', title), (r) => String(r[label]), (r) => (r.spend_usd === null ? 0 : num(r.spend_usd)));
      const nonZero = (m: Map<string, number>) => m; // every label with calls is a series, $0 included
      expectMapsClose(actual('Spend by model', 'model'), nonZero(by((x) => x.requestModel)), 'by model');
      expectMapsClose(actual('Spend by provider', 'provider'), by((x) => x.provider), 'by provider');
      expectMapsClose(actual('Spend by service', 'service'), by((x) => x.service), 'by service');
      expectMapsClose(actual('Spend by tenant', 'tenant'), by((x) => x.tenant), 'by tenant');
      expectMapsClose(actual('Spend by feature', 'feature'), by((x) => x.feature), 'by feature');
      expectMapsClose(actual('Spend by user (top 10)', 'user'), by((x) => x.user), 'by user');
      const users = panel('cost', 'Top users by spend');
      expectMapsClose(groupSum(users, (r) => String(r.user), (r) => num(r.spend_usd)), by((x) => x.user), 'top users');
      expectMapsClose(groupSum(users, (r) => String(r.user), (r) => num(r.calls)), groupSum(s.calls, (x) => x.user, () => 1), 'calls per user');
      expect(users.map((r) => num(r.spend_usd))).toEqual([...users.map((r) => num(r.spend_usd))].sort((a, b) => b - a));
      for (const r of panel('cost', 'Cost per request by model')) if (r.usd_per_request !== null) expect(num(r.usd_per_request)).toBeGreaterThanOrEqual(0);
    });

    it('tokens by kind and by model', () => {
      const rows = panel('cost', 'Tokens by kind');
      const sum = (k: string) => rows.reduce((a, r) => a + num(r[k]), 0);
      const seeded = (f: (x: SeedCall) => number) => s.calls.reduce((a, x) => a + f(x), 0);
      expect(sum('input uncached')).toBe(seeded((x) => x.inputTokens - x.cacheReadTokens - x.cacheWriteTokens));
      expect(sum('input cache read')).toBe(seeded((x) => x.cacheReadTokens));
      expect(sum('input cache write')).toBe(seeded((x) => x.cacheWriteTokens));
      expect(sum('output visible')).toBe(seeded((x) => x.outputTokens - x.reasoningTokens));
      expect(sum('output reasoning')).toBe(seeded((x) => x.reasoningTokens));
      const byModel = panel('cost', 'Tokens and spend by model');
      expectMapsClose(groupSum(byModel, (r) => String(r.model), (r) => num(r.input)), groupSum(s.calls, (x) => x.requestModel, (x) => x.inputTokens), 'input per model');
      expectMapsClose(groupSum(byModel, (r) => String(r.model), (r) => num(r.reasoning)), groupSum(s.calls, (x) => x.requestModel, (x) => x.reasoningTokens), 'reasoning per model');
      expectMapsClose(groupSum(byModel, (r) => String(r.model), (r) => num(r.spend_usd)), groupSum(s.calls, (x) => x.requestModel, cost), 'spend per model');
    });

    it('spend avoided by the cache: hits × average cost of a non-cached call of the model', () => {
      const hitStatuses: string[] = [CACHE_STATUS.hit, CACHE_STATUS.semanticHit, CACHE_STATUS.stale];
      const expected = new Map<string, number>();
      for (const model of new Set(s.calls.map((x) => x.requestModel))) {
        const calls = s.calls.filter((x) => x.requestModel === model);
        const hits = calls.filter((x) => hitStatuses.includes(x.cacheStatus)).length;
        const misses = calls.filter((x) => !hitStatuses.includes(x.cacheStatus) && x.costPico !== undefined && !isError(x));
        if (hits > 0 && misses.length > 0) expected.set(model, (hits * misses.reduce((a, x) => a + cost(x), 0)) / misses.length);
      }
      expect(expected.size).toBeGreaterThan(0);
      expectMapsClose(groupSum(panel('cost', 'Spend avoided by the cache, by model'), (r) => String(r.model), (r) => num(r.avoided_usd)), expected, 'avoided per model', 1e-6);
      expectClose(panel('cost', 'Spend avoided by the cache')[0]?.estimated_usd, [...expected.values()].reduce((a, b) => a + b, 0), 'avoided total', 1e-6);
      const recorded = picoToNumber(sumPico(s.calls.map((x) => x.savedPico)));
      expect(recorded).toBeGreaterThan(0);
      expectClose(panel('cost', 'Spend avoided by the cache', 'B')[0]?.recorded_usd, recorded, 'recorded avoided spend (llm_sidecar.cache.saved_usd)');
    });

    it('month to date, projection and budget burn per tenant (placeholder budget)', () => {
      const start = monthStart();
      const mtdCalls = s.calls.filter((x) => x.startMs >= start);
      const mtd = mtdCalls.reduce((a, x) => a + cost(x), 0);
      const end = Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + 1, 1);
      const projection = (spend: number) => (spend / ((Date.now() - start) / 1000)) * ((end - start) / 1000);
      const row = panel('cost', 'Month to date · projected month end')[0] as Row;
      expectClose(row.month_to_date_usd, mtd, 'month to date');
      expectClose(row.projected_month_end_usd, projection(mtd), 'projected month end', 0.02);
      const burn = panel('cost', 'Budget burn and projected month end, per tenant');
      const byTenant = groupSum(mtdCalls, (x) => x.tenant, cost);
      expectMapsClose(groupSum(burn, (r) => String(r.tenant), (r) => num(r.spend_usd)), byTenant, 'month to date per tenant');
      for (const r of burn) {
        expect(num(r.budget_usd)).toBe(PLACEHOLDER_MONTHLY_BUDGET_USD);
        expectClose(r.used_pct, (num(r.spend_usd) / PLACEHOLDER_MONTHLY_BUDGET_USD) * 100, 'used %');
        expectClose(r.projected_usd, projection(num(r.spend_usd)), 'projected per tenant', 0.02);
      }
      expectMapsClose(groupSum(panel('cost', 'Budget used this month, per tenant'), (r) => String(r.tenant), (r) => num(r.used_pct)), new Map([...byTenant].map(([k, v]) => [k, (v / PLACEHOLDER_MONTHLY_BUDGET_USD) * 100])), 'bar gauge');
    });

    it('budgets from the configuration reach the SQL (per tenant, default, none)', async () => {
      const built = buildAll({ budgets: { tenants: { acme: 0.5, globex: 2 } } });
      const table = built.dashboards.cost.panels.find((p) => p.title === 'Budget burn and projected month end, per tenant')?.targets?.[0]?.rawSql as string;
      const rows = await run<Row>(store, table, ctx);
      const budget = new Map(rows.map((r) => [String(r.tenant), r.budget_usd === null ? null : num(r.budget_usd)]));
      expect(Object.fromEntries(budget)).toEqual({ acme: 0.5, globex: 2, initech: null });
    });
  });

  describe('Quality', () => {
    const scored = () => s.evaluations.filter((e) => e.score !== null);

    it('evaluations, average score, failures, feedback, judge spend (FINAL: re-runs and changes of mind count once)', () => {
      expect(s.supersededEvaluations).toBeGreaterThan(0);
      const ev = panel('quality', 'Evaluations · average score')[0] as Row;
      // Not-applicable rows (a check that did not apply) are neither evaluations nor failures.
      expect(num(ev.evaluations)).toBe(scored().length);
      expect(num(ev.not_applicable)).toBe(s.evaluations.filter((e) => e.label === 'not_applicable').length);
      expect(num(ev.not_applicable)).toBeGreaterThan(0);
      expectClose(ev.average_score, scored().reduce((a, e) => a + (e.score as number), 0) / scored().length, 'average score');
      expect(num(ev.failed_evaluations)).toBe(s.evaluations.filter((e) => e.errorType !== '').length);
      const fb = panel('quality', 'Feedback · thumbs up')[0] as Row;
      expect(num(fb.ratings)).toBe(s.feedback.length);
      expectClose(fb.thumbs_up_ratio, s.feedback.filter((f) => f.score > 0).length / s.feedback.length, 'thumbs up');
      const judge = picoToNumber(sumPico(s.evaluations.map((e) => e.judgeCostPico)));
      expectClose(panel('quality', 'Judge spend')[0]?.judge_spend_usd, judge, 'judge spend');
      expectClose(
        panel('quality', 'Judge spend by judge model').reduce((a, r) => a + num(r.judge_spend_usd), 0),
        judge,
        'judge spend over time',
      );
      const tokens = panel('quality', 'Judge tokens and failures by evaluator');
      expectMapsClose(groupSum(tokens, (r) => `${r.evaluator}/${r.version}`, (r) => num(r.evaluations)), groupSum(s.evaluations, (e) => `${e.evaluator}/${e.version}`, () => 1), 'evaluations per version');
      expectMapsClose(groupSum(tokens, (r) => `${r.evaluator}/${r.version}`, (r) => num(r.judge_input_tokens)), groupSum(s.evaluations, (e) => `${e.evaluator}/${e.version}`, (e) => e.judgeInputTokens), 'judge input tokens');
    });

    it('weekly average per evaluator (ISO weeks, UTC) and the score distribution', async () => {
      const week = (ms: number) => {
        const d = new Date(ms);
        const day = (d.getUTCDay() + 6) % 7;
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day) / 1000;
      };
      const rows = await series('quality', 'Weekly average score per evaluator');
      const sums = groupSum(scored(), (e) => `${week(e.call.startMs)}|${e.evaluator}`, (e) => e.score as number);
      const counts = groupSum(scored(), (e) => `${week(e.call.startMs)}|${e.evaluator}`, () => 1);
      expectMapsClose(new Map(rows.map((r) => [`${String(r.ts)}|${String(r.evaluator)}`, num(r.average_score)])), new Map([...sums].map(([k, v]) => [k, v / (counts.get(k) as number)])), 'weekly average');
      const bands = groupSum(scored(), (e) => String(Math.min(Math.floor((e.score as number) * 10), 9)), () => 1);
      const dist = panel('quality', 'Score distribution');
      expectMapsClose(groupSum(dist, (r) => String(Math.round(Number(String(r.score_band).split('–')[0]) * 10)), (r) => num(r.evaluations)), bands, 'score bands');
    });

    it('this week vs last week per evaluator, model, route and service', () => {
      const toS = Math.floor(ctx.to.getTime() / 1000);
      const inWeek = (ms: number, w: 0 | 1) => ms / 1000 > toS - (w + 1) * 7 * 86400 && ms / 1000 <= toS - w * 7 * 86400;
      const key = (e: { evaluator: unknown; model: unknown; route: unknown; service: unknown }) => [e.evaluator, e.model, e.route, e.service].join('|');
      const mean = (w: 0 | 1) => {
        const xs = scored().filter((e) => inWeek(e.call.startMs, w));
        const sums = groupSum(xs, (e) => key({ evaluator: e.evaluator, model: e.call.requestModel, route: e.call.route, service: e.call.service }), (e) => e.score as number);
        const counts = groupSum(xs, (e) => key({ evaluator: e.evaluator, model: e.call.requestModel, route: e.call.route, service: e.call.service }), () => 1);
        return new Map([...sums].map(([k, v]) => [k, v / (counts.get(k) as number)]));
      };
      const rows = panel('quality', 'Average score by evaluator, model, route and service — this week vs last week');
      const k = (r: Row) => key({ evaluator: r.Evaluator, model: r.RequestModel, route: r.Route, service: r.ServiceName });
      const actual = (col: string) => new Map(rows.filter((r) => r[col] !== null && Number.isFinite(num(r[col]))).map((r) => [k(r), num(r[col])]));
      expectMapsClose(actual('this_week'), mean(0), 'this week');
      expectMapsClose(actual('last_week'), mean(1), 'last week');
      for (const r of rows) if (r.change !== null && Number.isFinite(num(r.change))) expectClose(r.change, num(r.this_week) - num(r.last_week), 'change');
      // The seeded regression: relevance on the default route dropped this week.
      const drop = rows.filter((r) => r.Evaluator === 'relevance' && r.Route === 'default' && Number.isFinite(num(r.change)));
      expect(drop.length).toBeGreaterThan(0);
      expect(drop.reduce((a, r) => a + num(r.change), 0) / drop.length).toBeLessThan(0);
    });

    it('calibration: the latest run per evaluator version and labelled set, filtered by the evaluator variable', async () => {
      expect(s.supersededCalibrations).toBeGreaterThan(0);
      const rows = panel('quality', 'Judge calibration against human labels');
      const key = (r: Row | SeedCalibration) => `${String(r.evaluator)}@${String(r.version)}`;
      expect(rows.map(key).sort()).toEqual(s.calibrations.map(key).sort());
      for (const c of s.calibrations) {
        const r = rows.find((x) => key(x) === key(c)) as Row;
        expectClose(r.accuracy, c.accuracy, `accuracy ${key(c)}`);
        expectClose(r.kappa, c.kappa, `kappa ${key(c)}`);
        expect(num(r.examples)).toBe(c.examples);
      }
      const one = await run<Row>(store, sqlOf('quality', 'Judge calibration against human labels'), { ...ctx, variables: select({ evaluator: ['faithfulness'] }) });
      expect(one.map(key)).toEqual(['faithfulness@v1']);
    });

    it('lowest-scored calls come first, with explanation and trace id', () => {
      const rows = panel('quality', 'Lowest-scored recent calls');
      expect(rows).toHaveLength(Math.min(50, scored().length));
      const scores = rows.map((r) => num(r.score));
      expect(scores).toEqual([...scores].sort((a, b) => a - b));
      expect(scores[0]).toBe(Math.min(...scored().map((e) => e.score as number)));
      const ids = new Set(s.calls.map((x) => x.traceId));
      for (const r of rows) {
        expect(ids.has(String(r.TraceId))).toBe(true);
        expect(String(r.explanation)).toBe(s.evaluations.find((e) => e.call.traceId === String(r.TraceId) && e.evaluator === String(r.evaluator) && e.version === String(r.version))?.explanation);
      }
    });

    it('feedback volume per interval and judge agreement per evaluator version', () => {
      expect(panel('quality', 'Feedback volume and thumbs-up ratio').reduce((a, r) => a + num(r.ratings), 0)).toBe(s.feedback.length);
      const expected = new Map<string, number>();
      const counts = new Map<string, number>();
      for (const e of scored()) {
        const f = s.feedback.find((x) => x.call === e.call);
        if (!f) continue;
        const k = `${e.evaluator}/${e.version}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
        expected.set(k, (expected.get(k) ?? 0) + ((e.score as number) >= SCORE_PASS === f.score > 0 ? 1 : 0));
      }
      const rows = panel('quality', 'Judge agreement per evaluator version');
      expectMapsClose(groupSum(rows, (r) => `${r.evaluator}/${r.version}`, (r) => num(r.rated_calls)), counts, 'rated calls');
      expectMapsClose(new Map(rows.map((r) => [`${r.evaluator}/${r.version}`, num(r.agreement)])), new Map([...expected].map(([k, v]) => [k, v / (counts.get(k) as number)])), 'agreement');
    });
  });

  describe('Quality: feedback beside the scores', () => {
    it("the latest feedback with the judges' scores of the same call", () => {
      const rows = panel('quality', "User feedback beside the judges' scores");
      expect(rows).toHaveLength(Math.min(100, s.feedback.length));
      for (const r of rows) {
        const f = s.feedback.find((x) => x.call.traceId === String(r.TraceId));
        expect(f, String(r.TraceId)).toBeDefined();
        expect(num(r.value)).toBe(f?.score);
        const scores = s.evaluations.filter((e) => e.call === f?.call && e.score !== null).sort((a, b) => a.evaluator.localeCompare(b.evaluator));
        const shown = String(r.judge_scores).split(', ').filter((x) => x !== '').map((x) => x.split(' '));
        expect(shown.map(([name]) => name)).toEqual(scores.map((e) => e.evaluator));
        // Two decimals (ClickHouse rounds half to even: compare within the rounding step).
        shown.forEach(([, v], k) => expect(Math.abs(Number(v) - (scores[k]?.score as number))).toBeLessThanOrEqual(0.0051));
      }
    });
  });

  describe('alert rules', () => {
    type Instance = { labels: string; value: number };
    const evaluate = async (sql: string, window: number, now: number): Promise<Instance[]> => {
      const expanded = expandGrafanaSql(sql, { from: new Date(now - window * 1000), to: new Date(now) });
      const columns = await resultColumns(store, expanded);
      const numeric = columns.filter((col) => isNumericType(col.type));
      expect(numeric, `one value column in ${sql}`).toHaveLength(1);
      for (const col of columns.filter((x) => !isNumericType(x.type))) expect(isStringType(col.type), `${col.name}: ${col.type} is a label`).toBe(true);
      const rows = await store.query<Row>(expanded);
      const value = (numeric[0] as { name: string }).name;
      return rows.map((r) => ({ labels: Object.entries(r).filter(([k]) => k !== value).map(([, v]) => String(v)).join('|'), value: num(r[value]) }));
    };
    const firing = (instances: Instance[], evaluator: string, threshold: number) => instances.filter((i) => (evaluator === 'gt' ? i.value > threshold : i.value < threshold)).map((i) => i.labels).sort();

    it('every rule query runs over its relative time range and fires exactly where the seeded incident says', async () => {
      const now = Date.now();
      const inWindow = (x: SeedCall, window: number) => x.startMs >= Math.floor((now - window * 1000) / 1000) * 1000 && x.startMs <= now;
      const byRoute = (window: number, f: (x: SeedCall) => boolean = () => true) => {
        const m = new Map<string, SeedCall[]>();
        for (const x of s.calls.filter((y) => inWindow(y, window) && f(y))) m.set(x.route, [...(m.get(x.route) ?? []), x]);
        return m;
      };
      const expected: Record<string, string[]> = {};
      const errorGroups = new Map<string, SeedCall[]>();
      for (const x of s.calls.filter((y) => inWindow(y, 600))) errorGroups.set(`${x.route}|${x.provider}`, [...(errorGroups.get(`${x.route}|${x.provider}`) ?? []), x]);
      expected['llm-sidecar-error-rate'] = [...errorGroups].filter(([, g]) => g.length >= 20 && g.filter(isError).length / g.length > 0.05).map(([k]) => k);
      expected['llm-sidecar-latency-p95'] = [...byRoute(600)].filter(([, g]) => g.length >= 20 && percentile(g.map((x) => x.durationMs), 0.95) > 30_000).map(([k]) => k);
      expected['llm-sidecar-ttft-p95'] = [...byRoute(600, (x) => x.stream && x.ttftSeconds !== undefined)].filter(([, g]) => g.length >= 10 && percentile(g.map((x) => (x.ttftSeconds as number) * 1000), 0.95) > 5000).map(([k]) => k);
      expected['llm-sidecar-fallback-rate'] = [...byRoute(900)].filter(([, g]) => g.length >= 20 && g.filter((x) => x.fallbackIndex > 0).length / g.length > 0.2).map(([k]) => k);
      expected['llm-sidecar-breaker-open'] = [BREAKER_TARGET];
      expected['llm-sidecar-telemetry-stalled'] = [STALE_SERVICE];
      expected['llm-sidecar-spend-daily-burn'] = [];
      expected['llm-sidecar-budget-80'] = [];
      expected['llm-sidecar-budget-100'] = [];
      // Quality rules (quality-alerts.ts): this week's mean vs the four weeks before, per evaluator ×
      // feature and over all features, computed here from the seed plan; every sampled call has
      // evaluation rows (no stall); the committed rules carry no judge caps (spend rule quiet).
      const q = DEFAULT_QUALITY_THRESHOLDS;
      const toMs = Math.floor(now / 1000) * 1000;
      const fromMs = Math.floor((now - 35 * DAY_MS) / 1000) * 1000;
      const groups = new Map<string, { now: number[]; before: number[] }>();
      for (const e of s.evaluations) {
        if (e.score === null || e.call.startMs < fromMs || e.call.startMs > toMs) continue;
        for (const key of [`${e.evaluator}|${e.call.feature || '(none)'}`, `${e.evaluator}|(all features)`]) {
          const g = groups.get(key) ?? { now: [], before: [] };
          (e.call.startMs >= toMs - 7 * DAY_MS ? g.now : g.before).push(e.score);
          groups.set(key, g);
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expected['llm-sidecar-quality-drop'] = [...groups].filter(([, g]) => g.now.length >= q.minScores && g.before.length >= q.minScores && mean(g.now) - mean(g.before) < -q.drop).map(([k]) => k);
      expected['llm-sidecar-evaluator-stalled'] = [];
      expected['llm-sidecar-judge-spend-cap'] = [];
      // The semantic cache's watch (cache-equivalence.ts): the seed has no cache_equivalence scores (its firing is tested in cache-equivalence.test.ts).
      expected['llm-sidecar-cache-equivalence'] = [];
      // The incident is what fires (the expectations are not vacuous).
      expect(expected['llm-sidecar-error-rate']).toEqual([`${BURST_ROUTE}|openai`]);
      for (const uid of ['llm-sidecar-latency-p95', 'llm-sidecar-ttft-p95', 'llm-sidecar-fallback-rate']) expect(expected[uid], uid).toEqual([BURST_ROUTE]);

      const rules = alertQueries(c);
      expect(rules.map((r) => r.uid).sort()).toEqual(Object.keys(expected).sort());
      for (const rule of rules) {
        const instances = await evaluate(rule.sql, rule.window, now);
        expect(firing(instances, rule.evaluator, rule.threshold), rule.uid).toEqual([...(expected[rule.uid] as string[])].sort());
      }
    });

    it('the budget rules fire for a tenant over its configured budget', async () => {
      const now = Date.now();
      const built = buildAll({ budgets: { tenants: { acme: 1e-9 } } });
      const start = new Date(now);
      const today = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
      const month = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1);
      const acmeSince = (t: number) => s.calls.some((x) => x.tenant === 'acme' && x.startMs >= t && (x.costPico ?? 0n) > 0n);
      const rules = built.alerts.groups.flatMap((g) => g.rules).filter((r) => r.uid.startsWith('llm-sidecar-spend') || r.uid.startsWith('llm-sidecar-budget'));
      expect(rules).toHaveLength(3);
      for (const r of rules) {
        const a = r.data.find((d) => d.refId === 'A');
        const cond = (r.data.find((d) => d.refId === 'C')?.model.conditions as { evaluator: { type: string; params: number[] } }[])[0];
        const instances = await evaluate(String(a?.model.rawSql), a?.relativeTimeRange?.from ?? 0, now);
        const expectFire = acmeSince(r.uid === 'llm-sidecar-spend-daily-burn' ? today : month);
        expect(firing(instances, cond?.evaluator.type ?? '', cond?.evaluator.params[0] ?? NaN), r.uid).toEqual(expectFire ? ['acme'] : []);
      }
    });
  });
});
