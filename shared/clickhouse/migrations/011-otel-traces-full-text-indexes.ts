// otel_traces' skip indexes as the OpenTelemetry Collector's ClickHouse exporter creates them on a
// server with full-text search (ClickHouse ≥ 26.2): text indexes (tokenizer 'array') instead of
// bloom filters. Why: "the collector's layout" must hold on the server we actually run on, and the
// embedded engine is 26.x, so a collector writing to the same table (or created first) expects this.
//
// Matched: open-telemetry/opentelemetry-collector-contrib, exporter/clickhouseexporter, template
// internal/sqltemplates/traces_table.sql at commit 2bf6b9e1f8c8716ab54eaac1635e56b4d0649900 (the
// `{{if .HasFullTextSearch}}` branch) and exporter_traces.go's createTraceTables: HasFullTextSearch
// = server version ≥ 26.2 (versionFullTextSearch); an unreadable version means bloom filters.
// The columns are the same in both branches (the ResourceAttributeItems / SpanAttributeItems ALIAS
// columns are unconditional, already in 001); only the indexes differ:
//   idx_trace_id, idx_res_attr_key, idx_span_attr_key   bloom_filter → text(tokenizer = 'array')
//   idx_res_attr_value, idx_span_attr_value             dropped, replaced by
//   idx_res_attr_items, idx_span_attr_items             text indexes on the k=v ALIAS arrays
// On an older server the migration is deferred (minServerVersion), as the exporter keeps 001's
// bloom filters there; it applies at the first start after an upgrade.
//
// Each index is placed where the exporter's CREATE has it (FIRST / AFTER), so the table's DDL reads
// the same as a table the exporter created. All index changes are ONE ALTER: ClickHouse applies it
// as one metadata change, so a sidecar migrating at the same moment never sees idx_trace_id dropped
// and not yet re-added (an `AFTER idx_trace_id` of its own would fail). An index already in its
// target type is left alone (a table the collector created first): dropping and re-adding it would
// strip it from every existing part. Existing parts get idx_trace_id and the two key indexes when
// merged (no MATERIALIZE at start-up, as in 008: only pruning is lost meanwhile). The two *_items
// indexes, however, are materialized before the migration counts as done (mutations_sync = 2): on
// ClickHouse 26.7 a query on an ALIAS column whose text index some parts lack FAILS ("First
// argument for function arrayMap must be a function", ILLEGAL_TYPE_OF_ARGUMENT; a query can avoid
// it with query_plan_direct_read_from_text_index = 0), so an unmaterialized part would turn every
// `has(SpanAttributeItems, …)` into an error (test/clickhouse/fulltext-indexes.test.ts holds both).
// Cost: reading the two attribute maps of every part once, at the upgrade.
import { OTEL_TRACES as C, TABLE_OTEL_TRACES, qualified } from '../schema.ts';
import type { Migration, MigrationContext } from './migration.ts';

/** First ClickHouse release whose text indexes the exporter uses (its versionFullTextSearch). */
export const FULL_TEXT_MIN_SERVER_VERSION = '26.2';
/** The exporter's full-text index type (no GRANULARITY clause: the server's default for text indexes). */
export const FULL_TEXT_INDEX_TYPE = "text(tokenizer = 'array')";

interface TargetIndex {
  name: string;
  expression: string;
  /** Position in the exporter's CREATE: `FIRST` or `AFTER <index>`. */
  position: string;
  /** Built on existing parts right away (an index over an ALIAS column, see above). */
  materialize: boolean;
  /** Exists in 001's layout under the same name (as a bloom filter), so it is dropped before being re-added. */
  replacesBloom: boolean;
}

/** The exporter's full-text indexes, in its order. */
export const FULL_TEXT_INDEXES: readonly TargetIndex[] = [
  { name: 'idx_trace_id', expression: C.TraceId, position: 'FIRST', materialize: false, replacesBloom: true },
  { name: 'idx_res_attr_key', expression: `mapKeys(${C.ResourceAttributes})`, position: 'AFTER idx_trace_id', materialize: false, replacesBloom: true },
  { name: 'idx_res_attr_items', expression: 'ResourceAttributeItems', position: 'AFTER idx_res_attr_key', materialize: true, replacesBloom: false },
  { name: 'idx_span_attr_key', expression: `mapKeys(${C.SpanAttributes})`, position: 'AFTER idx_res_attr_items', materialize: false, replacesBloom: true },
  { name: 'idx_span_attr_items', expression: 'SpanAttributeItems', position: 'AFTER idx_span_attr_key', materialize: true, replacesBloom: false },
];
/** Bloom-filter indexes of the older layout that no full-text index keeps the name of. */
export const REPLACED_INDEXES: readonly string[] = ['idx_res_attr_value', 'idx_span_attr_value'];

/** Normalised for comparison: the server may print the type with other spacing or quotes. */
const sameType = (a: string | undefined, b: string) => a !== undefined && a.replace(/[\s"']/g, '') === b.replace(/[\s"']/g, '');

export const otelTracesFullTextIndexes: Migration = {
  id: 11,
  name: 'otel-traces-full-text-indexes',
  minServerVersion: FULL_TEXT_MIN_SERVER_VERSION,
  statements: (ctx: MigrationContext) => {
    const traces = qualified(ctx.database, TABLE_OTEL_TRACES);
    const commands: string[] = REPLACED_INDEXES.map((name) => `DROP INDEX IF EXISTS ${name}`);
    const added: TargetIndex[] = [];
    // In the exporter's order: each position refers to an index before it.
    for (const index of FULL_TEXT_INDEXES) {
      const existing = ctx.skipIndexType(TABLE_OTEL_TRACES, index.name);
      if (sameType(existing, FULL_TEXT_INDEX_TYPE)) continue;
      if (index.replacesBloom || existing !== undefined) commands.push(`DROP INDEX IF EXISTS ${index.name}`);
      commands.push(`ADD INDEX IF NOT EXISTS ${index.name} ${index.expression} TYPE ${FULL_TEXT_INDEX_TYPE} ${index.position}`);
      added.push(index);
    }
    return [
      `ALTER TABLE ${traces}\n    ${commands.join(',\n    ')}`,
      ...added.filter((i) => i.materialize).map((i) => `ALTER TABLE ${traces} MATERIALIZE INDEX ${i.name} SETTINGS mutations_sync = 2`),
    ];
  },
};
