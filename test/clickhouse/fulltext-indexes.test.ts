// otel_traces' skip indexes follow the collector exporter per ClickHouse version (issue #19 item 5):
// full-text indexes from 26.2 on (the embedded engine, 26.7, takes that branch), bloom filters
// before (forced here with migrate's serverVersion). Real ClickHouse (chdb) for both branches: the
// layout is compared with a table created by the exporter's ≥ 26.2 DDL, the queries that use the
// indexes run on parts written before and after the migration, and a table the collector created
// first keeps its indexes on the parts it already has.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, plannedStatements } from '../../shared/clickhouse/migrate.ts';
import { otelTraces } from '../../shared/clickhouse/migrations/001-otel-traces.ts';
import { otelTracesDedup } from '../../shared/clickhouse/migrations/002-otel-traces-dedup.ts';
import { FULL_TEXT_INDEX_TYPE, FULL_TEXT_MIN_SERVER_VERSION, otelTracesFullTextIndexes } from '../../shared/clickhouse/migrations/011-otel-traces-full-text-indexes.ts';
import { versionAtLeast, type MigrationContext } from '../../shared/clickhouse/migrations/migration.ts';
import { TABLE_OTEL_TRACES, TABLE_SCHEMA_MIGRATIONS } from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from './chdb-available.ts';

const hasChdb = await chdbAvailable();

/** The five index lines of the exporter's traces_table.sql, `{{if .HasFullTextSearch}}` branch (commit 2bf6b9e1). */
const EXPORTER_FULL_TEXT_INDEX_LINES = `    INDEX idx_trace_id TraceId TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_items ResourceAttributeItems TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_items SpanAttributeItems TYPE text(tokenizer = 'array'),
`;
const BLOOM = {
  idx_trace_id: 'bloom_filter(0.001)',
  idx_res_attr_key: 'bloom_filter(0.01)',
  idx_res_attr_value: 'bloom_filter(0.01)',
  idx_span_attr_key: 'bloom_filter(0.01)',
  idx_span_attr_value: 'bloom_filter(0.01)',
  idx_duration: 'minmax',
  idx_lower_span_name: 'tokenbf_v1(32768, 3, 0)',
};
const FULL_TEXT = {
  idx_trace_id: FULL_TEXT_INDEX_TYPE,
  idx_res_attr_key: FULL_TEXT_INDEX_TYPE,
  idx_res_attr_items: FULL_TEXT_INDEX_TYPE,
  idx_span_attr_key: FULL_TEXT_INDEX_TYPE,
  idx_span_attr_items: FULL_TEXT_INDEX_TYPE,
  idx_duration: 'minmax',
  idx_lower_span_name: 'tokenbf_v1(32768, 3, 0)',
};

const context = (database: string, skipIndexType: MigrationContext['skipIndexType'] = () => undefined): MigrationContext => ({ database, ttlDays: 30, contentTtlDays: 7, rollupTtlDays: 400, skipIndexType });

/** otel_traces exactly as the exporter creates it on ClickHouse ≥ 26.2: 001's DDL with the full-text index lines. */
function exporterFullTextDdl(database: string): string {
  const [create] = otelTraces.statements(context(database));
  const bloomLines = / {4}INDEX idx_trace_id [^\n]*\n(?: {4}INDEX idx_(?:res|span)_attr_(?:key|value) [^\n]*\n){4}/;
  expect(create).toMatch(bloomLines);
  return (create as string).replace(bloomLines, EXPORTER_FULL_TEXT_INDEX_LINES);
}

describe('011 statements (no server)', () => {
  it('reads the server version as the exporter does (major.minor ≥ 26.2; unreadable → older layout)', () => {
    const cases: [string, boolean][] = [['26.7.2.1', true], ['26.2.1.1', true], ['26.1.9.9', false], ['25.12.1', false], ['27.0', true], ['', false], ['garbage', false]];
    for (const [version, full] of cases) expect(versionAtLeast(version, FULL_TEXT_MIN_SERVER_VERSION), version).toBe(full);
  });

  it('from the bloom layout: one ALTER drops the replaced indexes and re-creates the rest as text indexes in the exporter order; the ALIAS ones are materialized', () => {
    const sql = otelTracesFullTextIndexes.statements(context('otel', (_t, index) => (BLOOM as Record<string, string>)[index]));
    expect(sql).toHaveLength(3);
    const commands = (sql[0] as string).split(',\n    ');
    expect(commands[0]).toBe('ALTER TABLE `otel`.`otel_traces`\n    DROP INDEX IF EXISTS idx_res_attr_value');
    expect(commands.slice(1).map((c) => c.replace(/ TYPE text\(tokenizer = 'array'\)/, '').replace(/ (mapKeys\(\w+\)|\w+) (FIRST|AFTER)/, ' $2'))).toEqual([
      'DROP INDEX IF EXISTS idx_span_attr_value',
      'DROP INDEX IF EXISTS idx_trace_id',
      'ADD INDEX IF NOT EXISTS idx_trace_id FIRST',
      'DROP INDEX IF EXISTS idx_res_attr_key',
      'ADD INDEX IF NOT EXISTS idx_res_attr_key AFTER idx_trace_id',
      'ADD INDEX IF NOT EXISTS idx_res_attr_items AFTER idx_res_attr_key',
      'DROP INDEX IF EXISTS idx_span_attr_key',
      'ADD INDEX IF NOT EXISTS idx_span_attr_key AFTER idx_res_attr_items',
      'ADD INDEX IF NOT EXISTS idx_span_attr_items AFTER idx_span_attr_key',
    ]);
    expect(sql.slice(1)).toEqual([
      'ALTER TABLE `otel`.`otel_traces` MATERIALIZE INDEX idx_res_attr_items SETTINGS mutations_sync = 2',
      'ALTER TABLE `otel`.`otel_traces` MATERIALIZE INDEX idx_span_attr_items SETTINGS mutations_sync = 2',
    ]);
  });

  it('leaves alone every index already in its full-text form (a table the collector created)', () => {
    const sql = otelTracesFullTextIndexes.statements(context('otel', (_t, index) => (FULL_TEXT as Record<string, string>)[index]));
    expect(sql).toEqual(['ALTER TABLE `otel`.`otel_traces`\n    DROP INDEX IF EXISTS idx_res_attr_value,\n    DROP INDEX IF EXISTS idx_span_attr_value']);
  });

  it('plans 011 only for a server that has full-text search', () => {
    const labels = (serverVersion?: string) => plannedStatements('otel', { serverVersion }).map((p) => p.migration);
    expect(labels()).toContain('011-otel-traces-full-text-indexes');
    expect(labels('26.2.1')).toContain('011-otel-traces-full-text-indexes');
    expect(labels('25.8.4')).not.toContain('011-otel-traces-full-text-indexes');
  });
});

describe.skipIf(!hasChdb)('otel_traces indexes per ClickHouse version, on chdb', () => {
  let dir: string;
  let store: ClickHouseStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-fulltext-'));
    store = await createEmbeddedStore({ dataDir: dir });
  });
  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const indexes = async (database: string) =>
    Object.fromEntries(
      (await store.query<{ name: string; type_full: string }>('SELECT name, type_full FROM system.data_skipping_indices WHERE database = {db:String} AND table = {t:String}', { db: database, t: TABLE_OTEL_TRACES })).map((r) => [r.name, r.type_full]),
    );
  const createQuery = async (database: string) => {
    const [row] = await store.query<{ q: string }>('SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: database, t: TABLE_OTEL_TRACES });
    return (row?.q ?? '').replaceAll(`${database}.`, 'DB.');
  };
  let part = 0;
  /** One insert = one part: a span with this trace id and model. */
  const writeSpan = (database: string, traceId: string, model: string) => {
    part += 1;
    return store.insert(`${database}.${TABLE_OTEL_TRACES}`, [
      { Timestamp: `2026-12-02 10:00:${String(part % 60).padStart(2, '0')}.000000000`, TraceId: traceId, SpanId: `s${part}`, SpanName: `chat ${model}`, SpanKind: 'Client', ServiceName: 'app', ResourceAttributes: { 'service.name': 'app' }, SpanAttributes: { 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat' } },
    ]);
  };
  const count = async (database: string, where: string) => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${database}.${TABLE_OTEL_TRACES} WHERE ${where}`))[0]?.n);
  /** "selected/total" parts after the named skip index, from EXPLAIN indexes = 1. */
  const partsAfter = async (database: string, where: string, index: string) => {
    const lines = (await store.query<{ explain: string }>(`EXPLAIN indexes = 1 SELECT count() FROM ${database}.${TABLE_OTEL_TRACES} WHERE ${where}`)).map((r) => r.explain.trim());
    const at = lines.indexOf(`Name: ${index}`);
    expect(at, lines.join('\n')).toBeGreaterThanOrEqual(0);
    return lines.slice(at).find((l) => l.startsWith('Parts:'))?.replace('Parts: ', '');
  };

  it(`the embedded engine is ClickHouse ≥ ${FULL_TEXT_MIN_SERVER_VERSION} and needs no setting for text indexes`, async () => {
    const [row] = await store.query<{ v: string; enabled: string }>("SELECT version() AS v, getSetting('enable_full_text_index') AS enabled");
    expect(versionAtLeast(row?.v ?? '', FULL_TEXT_MIN_SERVER_VERSION), row?.v).toBe(true);
    expect(String(row?.enabled)).toMatch(/^(1|true)$/);
  });

  it('≥ 26.2: the migrated table is the exporter’s full-text layout, DDL for DDL', async () => {
    const result = await migrate(store, { database: 'fresh' });
    expect(result.applied).toContain('011-otel-traces-full-text-indexes');
    expect(result.deferred).toEqual([]);
    expect(await indexes('fresh')).toEqual(FULL_TEXT);

    await store.command('CREATE DATABASE IF NOT EXISTS exporter');
    await store.command(exporterFullTextDdl('exporter'));
    for (const sql of otelTracesDedup.statements(context('exporter'))) await store.command(sql); // 002's setting, as on a collector-made table
    expect(await createQuery('fresh')).toBe(await createQuery('exporter'));
  });

  it('older server (version forced): 011 deferred and not recorded, bloom filters kept; applied after the "upgrade", queries right on old and new parts', async () => {
    const old = await migrate(store, { database: 'upgraded', serverVersion: '25.8.4.1' });
    expect(old.deferred).toEqual(['011-otel-traces-full-text-indexes']);
    expect(old.applied).not.toContain('011-otel-traces-full-text-indexes');
    expect(await indexes('upgraded')).toEqual(BLOOM);
    const ids = await store.query<{ id: number }>(`SELECT DISTINCT Id AS id FROM upgraded.${TABLE_SCHEMA_MIGRATIONS}`);
    expect(ids.map((r) => Number(r.id))).not.toContain(11);
    expect((await migrate(store, { database: 'upgraded', serverVersion: '25.8.4.1' })).deferred).toEqual(['011-otel-traces-full-text-indexes']);

    // Parts written with the bloom layout, then the server is "upgraded".
    await writeSpan('upgraded', 'trace-old-1', 'gpt-4o');
    await writeSpan('upgraded', 'trace-old-2', 'claude-sonnet-4');
    const upgraded = await migrate(store, { database: 'upgraded' });
    expect(upgraded.applied).toEqual(['011-otel-traces-full-text-indexes']);
    expect(await indexes('upgraded')).toEqual(FULL_TEXT);
    expect(await createQuery('upgraded')).toBe(await createQuery('fresh'));
    await writeSpan('upgraded', 'trace-new-1', 'gpt-4o');

    expect(await count('upgraded', "has(SpanAttributeItems, 'gen_ai.request.model=gpt-4o')")).toBe(2);
    expect(await count('upgraded', "has(ResourceAttributeItems, 'service.name=app')")).toBe(3);
    expect(await count('upgraded', "has(mapKeys(SpanAttributes), 'gen_ai.request.model')")).toBe(3);
    expect(await count('upgraded', "TraceId = 'trace-old-2'")).toBe(1);
    // The ALIAS indexes were materialized on the old parts: they prune them too.
    expect(await partsAfter('upgraded', "has(SpanAttributeItems, 'gen_ai.request.model=claude-sonnet-4')", 'idx_span_attr_items')).toBe('1/3');
    expect(await partsAfter('upgraded', "has(SpanAttributeItems, 'gen_ai.request.model=gpt-4o')", 'idx_span_attr_items')).toBe('2/3');
    // idx_trace_id is not materialized: the new part is pruned, the old ones wait for a merge.
    expect(await partsAfter('upgraded', "TraceId = 'trace-old-1'", 'idx_trace_id')).toBe('2/3');
  });

  it('a table the collector created first (≥ 26.2 DDL) keeps its indexes on the parts it already has', async () => {
    await store.command('CREATE DATABASE IF NOT EXISTS collector_first');
    await store.command(exporterFullTextDdl('collector_first'));
    await writeSpan('collector_first', 'trace-a', 'gpt-4o');
    await writeSpan('collector_first', 'trace-b', 'claude-sonnet-4');
    await migrate(store, { database: 'collector_first' });
    expect(await indexes('collector_first')).toEqual(FULL_TEXT);
    // Dropped and re-added, idx_trace_id would exist on neither part (2/2).
    expect(await partsAfter('collector_first', "TraceId = 'trace-a'", 'idx_trace_id')).toBe('1/2');
    expect(await partsAfter('collector_first', "has(mapKeys(SpanAttributes), 'nope')", 'idx_span_attr_key')).toBe('0/2');
  });

  it('why 011 materializes the ALIAS indexes: on ClickHouse 26.7 a part without one fails the query (if this ever passes, ClickHouse fixed it)', async () => {
    await store.command('CREATE DATABASE IF NOT EXISTS unmaterialized');
    await store.command('CREATE TABLE unmaterialized.t (k UInt32, m Map(LowCardinality(String), String), items Array(String) ALIAS arrayMap(kv -> concat(kv.1, \'=\', kv.2), CAST(m, \'Array(Tuple(String, String))\'))) ENGINE = MergeTree ORDER BY k');
    await store.command("INSERT INTO unmaterialized.t (k, m) VALUES (1, map('a', 'b'))");
    await store.command(`ALTER TABLE unmaterialized.t ADD INDEX idx_items items TYPE ${FULL_TEXT_INDEX_TYPE}`);
    await store.command("INSERT INTO unmaterialized.t (k, m) VALUES (2, map('c', 'd'))");
    await expect(store.query("SELECT count() FROM unmaterialized.t WHERE has(items, 'a=b')")).rejects.toThrow(/ILLEGAL_TYPE_OF_ARGUMENT/);
    const [row] = await store.query<{ n: string }>("SELECT count() AS n FROM unmaterialized.t WHERE has(items, 'a=b') SETTINGS query_plan_direct_read_from_text_index = 0");
    expect(Number(row?.n)).toBe(1);
  });
});
