// The storage half end to end, on real ClickHouse SQL (chdb), through both transports:
//   embedded: createEmbeddedStore (chdb in-process)
//   server:   createServerStore (@clickhouse/client over HTTP) → test HTTP endpoint → chdb
// Migrations, then synthetic GenAI spans through BasicTracerProvider + BatchSpanProcessor + the
// exporter → otel_traces (collector layout) → llm_calls (view) → llm_calls_1m (rollup).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { MIGRATIONS } from '../../shared/clickhouse/migrations/index.ts';
import {
  LLM_CALLS as L,
  LLM_CALLS_1M as R,
  OTEL_TRACES as T,
  OTEL_TRACES_NESTED as N,
  ROLLUP_QUANTILES_SQL,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_1M,
  TABLE_OTEL_TRACES,
  TABLE_SCHEMA_MIGRATIONS,
  qualified,
} from '../../shared/clickhouse/schema.ts';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from './chdb-available.ts';
import { CALLS, INPUT_MESSAGES, OUTPUT_MESSAGES, SERVICE_NAME, SYSTEM_INSTRUCTIONS, emitScenario, tracerProvider } from './genai-spans.ts';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.ts';

const hasChdb = await chdbAvailable();

const ALL_TABLES = [
  'llm_call_events_10m',
  'llm_call_events_10m_mv',
  'llm_calls',
  'llm_calls_10m',
  'llm_calls_10m_mv',
  'llm_calls_1m',
  'llm_calls_1m_mv',
  'llm_calls_feature_status_10m',
  'llm_calls_feature_status_10m_mv',
  'llm_calls_mv',
  'llm_calls_users_1h',
  'llm_calls_users_1h_mv',
  'llm_eval_calibration',
  'llm_evaluations',
  'llm_feedback',
  'otel_spans_1m',
  'otel_spans_1m_mv',
  'otel_traces',
  'otel_traces_trace_id_ts',
  'otel_traces_trace_id_ts_mv',
  'schema_migrations',
];

/** otel_traces as the collector's exporter creates it: name, type, codec. */
const COLLECTOR_COLUMNS: [string, string, string][] = [
  ['Timestamp', 'DateTime64(9)', 'CODEC(Delta(8), ZSTD(1))'],
  ['TraceId', 'String', 'CODEC(ZSTD(1))'],
  ['SpanId', 'String', 'CODEC(ZSTD(1))'],
  ['ParentSpanId', 'String', 'CODEC(ZSTD(1))'],
  ['TraceState', 'String', 'CODEC(ZSTD(1))'],
  ['SpanName', 'LowCardinality(String)', 'CODEC(ZSTD(1))'],
  ['SpanKind', 'LowCardinality(String)', 'CODEC(ZSTD(1))'],
  ['ServiceName', 'LowCardinality(String)', 'CODEC(ZSTD(1))'],
  ['ResourceAttributes', 'Map(LowCardinality(String), String)', 'CODEC(ZSTD(1))'],
  ['ScopeName', 'String', 'CODEC(ZSTD(1))'],
  ['ScopeVersion', 'String', 'CODEC(ZSTD(1))'],
  ['SpanAttributes', 'Map(LowCardinality(String), String)', 'CODEC(ZSTD(1))'],
  ['Duration', 'UInt64', 'CODEC(T64, ZSTD(1))'],
  ['StatusCode', 'LowCardinality(String)', 'CODEC(ZSTD(1))'],
  ['StatusMessage', 'String', 'CODEC(ZSTD(1))'],
  ['Events.Timestamp', 'Array(DateTime64(9))', 'CODEC(ZSTD(1))'],
  ['Events.Name', 'Array(LowCardinality(String))', 'CODEC(ZSTD(1))'],
  ['Events.Attributes', 'Array(Map(LowCardinality(String), String))', 'CODEC(ZSTD(1))'],
  ['Links.TraceId', 'Array(String)', 'CODEC(ZSTD(1))'],
  ['Links.SpanId', 'Array(String)', 'CODEC(ZSTD(1))'],
  ['Links.TraceState', 'Array(String)', 'CODEC(ZSTD(1))'],
  ['Links.Attributes', 'Array(Map(LowCardinality(String), String))', 'CODEC(ZSTD(1))'],
  ['ResourceAttributeItems', 'Array(String)', ''],
  ['SpanAttributeItems', 'Array(String)', ''],
];

describe.skipIf(!hasChdb)('ClickHouse storage on real ClickHouse SQL (chdb)', () => {
  let dataDir: string;
  let embedded: ClickHouseStore;
  let endpoint: HttpEndpoint;
  let server: ClickHouseStore;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'llm-sidecar-ch-pipeline-'));
    embedded = await createEmbeddedStore({ dataDir: join(dataDir, 'chdb'), database: 'e2e_embedded' });
    endpoint = await startHttpEndpoint({ dataDir: join(dataDir, 'chdb') });
    server = createServerStore({ url: endpoint.url, database: 'e2e_server' });
  });

  afterAll(async () => {
    await server?.close();
    await endpoint?.close();
    await embedded?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe.each(['embedded', 'server'] as const)('%s store', (kind) => {
    const store = () => (kind === 'embedded' ? embedded : server);
    const db = () => store().database;

    it('applies the migrations, twice and concurrently, creating every table', async () => {
      const first = await migrate(store());
      expect(first.applied).toHaveLength(MIGRATIONS.length);
      const second = await migrate(store());
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toEqual(first.applied);

      const tables = await store().query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name', { db: db() });
      expect(tables.map((t) => t.name)).toEqual(ALL_TABLES);

      const concurrent = `${db()}_concurrent`;
      const results = await Promise.all([migrate(store(), { database: concurrent }), migrate(store(), { database: concurrent })]);
      expect(results.every((r) => r.applied.length + r.alreadyApplied.length === MIGRATIONS.length)).toBe(true);
      const ids = await store().query<{ n: string }>(`SELECT uniqExact(Id) AS n FROM ${qualified(concurrent, TABLE_SCHEMA_MIGRATIONS)}`);
      expect(ids[0]?.n).toBe(String(MIGRATIONS.length));
      await store().command(`DROP DATABASE ${concurrent}`);
    });

    it('creates otel_traces exactly in the collector exporter layout', async () => {
      const columns = await store().query<{ name: string; type: string; compression_codec: string }>(
        'SELECT name, type, compression_codec FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position',
        { db: db(), t: TABLE_OTEL_TRACES },
      );
      expect(columns.map((c) => [c.name, c.type, c.compression_codec])).toEqual(COLLECTOR_COLUMNS);
      const [table] = await store().query<{ partition_key: string; sorting_key: string; primary_key: string }>(
        'SELECT partition_key, sorting_key, primary_key FROM system.tables WHERE database = {db:String} AND name = {t:String}',
        { db: db(), t: TABLE_OTEL_TRACES },
      );
      expect(table).toEqual({ partition_key: 'toDate(Timestamp)', sorting_key: 'ServiceName, SpanName, toDateTime(Timestamp), Timestamp', primary_key: 'ServiceName, SpanName, toDateTime(Timestamp)' });
      const indexes = await store().query<{ name: string; type_full: string }>(
        'SELECT name, type_full FROM system.data_skipping_indices WHERE database = {db:String} AND table = {t:String} ORDER BY name',
        { db: db(), t: TABLE_OTEL_TRACES },
      );
      // The exporter's full-text branch (chdb is ClickHouse ≥ 26.2); both branches: fulltext-indexes.test.ts.
      expect(indexes).toEqual([
        { name: 'idx_duration', type_full: 'minmax' },
        { name: 'idx_lower_span_name', type_full: 'tokenbf_v1(32768, 3, 0)' },
        { name: 'idx_res_attr_items', type_full: "text(tokenizer = 'array')" },
        { name: 'idx_res_attr_key', type_full: "text(tokenizer = 'array')" },
        { name: 'idx_span_attr_items', type_full: "text(tokenizer = 'array')" },
        { name: 'idx_span_attr_key', type_full: "text(tokenizer = 'array')" },
        { name: 'idx_trace_id', type_full: "text(tokenizer = 'array')" },
      ]);
    });

    describe('synthetic GenAI traffic', () => {
      let spoolDir: string;
      let exporter: ClickHouseSpanExporter;
      let spanCount = 0;
      let spans: ReturnType<ReturnType<typeof tracerProvider>['memory']['getFinishedSpans']> = [];

      beforeAll(async () => {
        spoolDir = await mkdtemp(join(tmpdir(), `llm-sidecar-spool-${kind}-`));
        exporter = new ClickHouseSpanExporter({ store: store(), spoolDir, log: () => undefined });
        const { provider, memory } = tracerProvider(exporter);
        emitScenario(provider);
        await provider.forceFlush();
        spans = memory.getFinishedSpans();
        spanCount = spans.length;
        await provider.shutdown();
      });

      afterAll(async () => {
        await rm(spoolDir, { recursive: true, force: true });
      });

      it('writes every span to otel_traces, exactly, straight to ClickHouse', async () => {
        expect(exporter.stats()).toMatchObject({ exported: spanCount, spooled: 0, dropped: 0, queued: 0, spoolBytes: 0 });
        const rows = await store().query<Record<string, unknown>>(
          `SELECT ${T.SpanId} AS id, toString(toUnixTimestamp64Nano(${T.Timestamp})) AS ns, ${T.Duration} AS duration, ${T.SpanKind} AS kind,
                  ${T.StatusCode} AS status, ${T.ParentSpanId} AS parent, ${T.ServiceName} AS service, \`${N.EventsName}\` AS events,
                  \`${N.LinksSpanId}\` AS links, ${T.ResourceAttributes}['service.instance.num'] AS instanceNum
           FROM ${qualified(db(), TABLE_OTEL_TRACES)}`,
        );
        expect(rows).toHaveLength(spanCount);
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const span of spans) {
          const row = byId.get(span.spanContext().spanId);
          const ns = BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1]);
          const durationNs = span.duration[0] * 1e9 + span.duration[1];
          expect(row).toMatchObject({ ns: ns.toString(), duration: String(durationNs), service: SERVICE_NAME, instanceNum: '3', parent: span.parentSpanContext?.spanId ?? '' });
          expect(row?.kind).toBe({ 0: 'Internal', 1: 'Server', 2: 'Client' }[span.kind as 0 | 1 | 2]);
          expect(row?.status).toBe(['Unset', 'Ok', 'Error'][span.status.code]);
          expect(row?.events).toEqual(span.events.map((e) => e.name));
          expect(row?.links).toEqual(span.links.map((l) => l.context.spanId));
        }
        const [lookup] = await store().query<{ n: string }>(`SELECT uniqExact(TraceId) AS n FROM ${qualified(db(), 'otel_traces_trace_id_ts')}`);
        expect(Number(lookup?.n)).toBe(new Set(spans.map((s) => s.spanContext().traceId)).size);
      });

      it('derives exactly one typed llm_calls row per gen_ai CLIENT span', async () => {
        const rows = await store().query<Record<string, unknown>>(`SELECT * FROM ${qualified(db(), TABLE_LLM_CALLS)} ORDER BY ${L.Timestamp}`);
        expect(rows.map((r) => r[L.RequestModel])).toEqual(CALLS.map((c) => c.requestModel));
        for (const [i, call] of CALLS.entries()) {
          const row = rows[i] as Record<string, unknown>;
          const op = spans.find((s) => s.name === `${call.operation} ${call.requestModel}`);
          expect(row, call.label).toMatchObject({
            [L.TraceId]: op?.spanContext().traceId,
            [L.SpanId]: op?.spanContext().spanId,
            [L.ServiceName]: SERVICE_NAME,
            [L.Route]: call.route,
            [L.Tenant]: call.tenant,
            [L.User]: `user-${call.label}`,
            [L.Feature]: 'support-chat',
            [L.Provider]: call.provider,
            [L.ProviderConfigName]: call.providerConfig,
            [L.ResponseModel]: call.error ? '' : `${call.requestModel}-2025`,
            [L.Operation]: call.operation,
            [L.Stream]: call.stream ? 1 : 0,
            [L.StatusCode]: call.error ? 'Error' : 'Unset',
            [L.ErrorType]: call.error?.type ?? '',
            [L.HttpStatus]: call.httpStatus,
            [L.OverheadMs]: 1.25,
            // 64-bit integers and decimals come back as exact strings.
            [L.InputTokens]: String(call.inputTokens),
            [L.OutputTokens]: String(call.outputTokens),
            [L.CacheReadTokens]: String(call.cacheReadTokens),
            [L.CacheWriteTokens]: String(call.cacheWriteTokens),
            [L.ReasoningTokens]: String(call.reasoningTokens),
            [L.CostUsd]: call.costUsd ?? null,
            [L.CacheStatus]: call.error ? 'bypass' : 'miss',
            [L.Attempts]: call.attempts,
            [L.FallbackIndex]: call.fallbackIndex,
            [L.EvalSampled]: call.sampled ? 1 : 0,
            [L.InputMessages]: call.sampled ? INPUT_MESSAGES : '',
            [L.OutputMessages]: call.sampled ? OUTPUT_MESSAGES : '',
            [L.SystemInstructions]: call.sampled ? SYSTEM_INSTRUCTIONS : '',
          });
          expect(row[L.DurationMs], call.label).toBeCloseTo(call.durationMs, 6);
          if (call.ttftSeconds === undefined) expect(row[L.TtftMs], call.label).toBeNull();
          else expect(row[L.TtftMs], call.label).toBeCloseTo(call.ttftSeconds * 1000, 9);
        }
        const [cost] = await store().query<{ total: string }>(`SELECT sum(${L.CostUsd}) AS total FROM ${qualified(db(), TABLE_LLM_CALLS)}`);
        expect(cost?.total).toBe('0.004691456789'); // exact decimal sum, no float drift
      });

      it('rolls calls up per minute with matching counts, sums and quantiles', async () => {
        const [rollup] = await store().query<Record<string, unknown>>(
          `SELECT countMerge(${R.Calls}) AS calls, countIfMerge(${R.Errors}) AS errors, sum(${R.InputTokens}) AS input, sum(${R.OutputTokens}) AS output,
                  sum(${R.CacheReadTokens}) AS cacheRead, sum(${R.CostUsd}) AS cost, sum(${R.UnpricedCalls}) AS unpriced, uniqExact(${R.Minute}) AS minutes,
                  quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${R.DurationMsQuantiles}) AS duration,
                  quantilesTDigestMerge(${ROLLUP_QUANTILES_SQL})(${R.TtftMsQuantiles}) AS ttft
           FROM ${qualified(db(), TABLE_LLM_CALLS_1M)} WHERE ${R.ServiceName} = {service:String}`,
          { service: SERVICE_NAME },
        );
        const sum = (f: (c: (typeof CALLS)[number]) => number) => String(CALLS.reduce((n, c) => n + f(c), 0));
        expect(rollup).toMatchObject({
          calls: String(CALLS.length),
          errors: '1',
          input: sum((c) => c.inputTokens),
          output: sum((c) => c.outputTokens),
          cacheRead: sum((c) => c.cacheReadTokens),
          cost: '0.004691456789',
          unpriced: '2',
          minutes: '1',
        });
        const duration = rollup?.duration as number[];
        expect(duration).toHaveLength(4);
        expect(Math.max(...duration)).toBeLessThanOrEqual(3000);
        expect(rollup?.ttft).toEqual([350, 350, 350, 350]); // the only call with a first chunk

        const perModel = await store().query<{ model: string; calls: string }>(
          `SELECT ${R.RequestModel} AS model, countMerge(${R.Calls}) AS calls FROM ${qualified(db(), TABLE_LLM_CALLS_1M)} GROUP BY model ORDER BY model`,
        );
        const direct = await store().query<{ model: string; calls: string }>(`SELECT ${L.RequestModel} AS model, count() AS calls FROM ${qualified(db(), TABLE_LLM_CALLS)} GROUP BY model ORDER BY model`);
        expect(perModel).toEqual(direct);
      });
    });
  });
});
