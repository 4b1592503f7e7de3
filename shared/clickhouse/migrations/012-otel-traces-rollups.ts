// Two rollups of otel_traces, so that dashboard panels over a week or more stop reading every span
// (29 M rows for 10 M calls; test/dashboards/bench-panels.ts):
// - otel_spans_1m: spans per minute and service ("Spans ingested per service": 1.6 s before;
//   "Seconds since the last span"). Read with `sum(Spans)`, `max(LastSpan)`, always GROUP BY.
// - llm_call_events_10m: the resilience span events (retry, fallback, target skipped, cascade
//   escalated) of gen_ai CLIENT spans per 10 minutes × service, route, provider, model, event,
//   reason and target ("Resilience events": 0.8 s before; circuit-breaker panels). `sum(Events)`.
// Each is fed by a view on otel_traces; what was stored before is copied in once by a backfill
// (backfillSql below, also used by migration 013).
import * as A from '../../telemetry/semconv.ts';
import {
  LLM_CALL_EVENTS_10M as V,
  OTEL_SPANS_1M as S,
  OTEL_TRACES as T,
  OTEL_TRACES_NESTED as N,
  SPAN_KIND_CLIENT_VALUES_SQL,
  TABLE_LLM_CALL_EVENTS_10M,
  TABLE_OTEL_SPANS_1M,
  TABLE_OTEL_TRACES,
  VIEW_LLM_CALL_EVENTS_10M_MV,
  VIEW_OTEL_SPANS_1M_MV,
  qualified,
} from '../schema.ts';
import { DEDUP_WINDOW_BLOCKS, ttl, type Migration } from './migration.ts';

/** Larger than any rollup a backfill writes: the whole result is squashed into one block. */
const ONE_BLOCK = 1_000_000_000_000;

/**
 * INSERT … SELECT that fills a new rollup from the rows stored before its view existed, once.
 * `select` must only return rows while the rollup is empty (see `whileEmpty`). Why it is safe to
 * run again and from several processes at once (migrate.ts has no lock):
 * - the rollup has no partitions and the result is squashed into one block, so the insert is one
 *   part: it lands whole or not at all;
 * - it runs before the rollup's view is created, so "the rollup is empty" means "not backfilled
 *   yet" (a re-run after the view exists inserts nothing);
 * - two processes that both saw it empty insert under the same insert_deduplication_token, and the
 *   table's deduplication window drops the second part.
 * The gap: calls written between the backfill's read and the view's creation (the migration's few
 * seconds) are in the source table but not in the rollup. On a sharded cluster (cluster-ddl.ts) it
 * reads and writes the Distributed tables, so every shard's rows are read and the rollup's rows
 * are spread over the shards (their aggregates merge at read time like the view's).
 */
export function backfillSql(database: string, rollup: string, select: string): string {
  const settings = [
    `insert_deduplication_token = '${database}.${rollup}.backfill'`,
    'max_insert_threads = 1',
    `min_insert_block_size_rows = ${ONE_BLOCK}`,
    `min_insert_block_size_bytes = ${ONE_BLOCK}`,
    `max_insert_block_size = ${ONE_BLOCK}`,
    'distributed_foreground_insert = 1',
  ].join(', ');
  return `INSERT INTO ${qualified(database, rollup)}
SETTINGS ${settings}
${select}`;
}

/** The WHERE condition of a backfill's SELECT: true only while the rollup holds no row. */
export function whileEmpty(database: string, rollup: string): string {
  return `(SELECT count() FROM ${qualified(database, rollup)}) = 0`;
}

/** The resilience events the rollup keeps (the proxy writes them on the gen_ai CLIENT span). */
export const RESILIENCE_EVENTS = [A.EVENT_LLM_SIDECAR_RETRY, A.EVENT_LLM_SIDECAR_FALLBACK, A.EVENT_LLM_SIDECAR_TARGET_SKIPPED, A.EVENT_LLM_SIDECAR_CASCADE_ESCALATED] as const;
/** Their attributes kept as columns (dashboards/sql.ts EVENT_ATTR names the same; a test holds them equal). */
export const EVENT_ATTR_REASON = 'reason';
export const EVENT_ATTR_TARGET = 'target';

export const otelTracesRollups: Migration = {
  id: 12,
  name: 'otel-traces-rollups',
  statements: ({ database, rollupTtlDays }) => {
    const traces = qualified(database, TABLE_OTEL_TRACES);
    const spans = qualified(database, TABLE_OTEL_SPANS_1M);
    const events = qualified(database, TABLE_LLM_CALL_EVENTS_10M);
    const attr = (name: string) => `t.${T.SpanAttributes}['${name}']`;
    const eventKeys = [V.ServiceName, V.Route, V.Provider, V.RequestModel, V.EventName, V.Reason, V.Target] as const;
    const selectEvents = (where: string) => `SELECT
    toStartOfTenMinutes(t.${T.Timestamp}) AS ${V.Bucket},
    t.${T.ServiceName} AS ${V.ServiceName},
    ${attr(A.ATTR_LLM_SIDECAR_ROUTE)} AS ${V.Route},
    ${attr(A.ATTR_GEN_AI_PROVIDER_NAME)} AS ${V.Provider},
    ${attr(A.ATTR_GEN_AI_REQUEST_MODEL)} AS ${V.RequestModel},
    event AS ${V.EventName},
    event_attrs['${EVENT_ATTR_REASON}'] AS ${V.Reason},
    event_attrs['${EVENT_ATTR_TARGET}'] AS ${V.Target},
    count() AS ${V.Events}
FROM ${traces} AS t
ARRAY JOIN t.\`${N.EventsName}\` AS event, t.\`${N.EventsAttributes}\` AS event_attrs
WHERE hasAny(t.\`${N.EventsName}\`, [${RESILIENCE_EVENTS.map((e) => `'${e}'`).join(', ')}])
  AND t.${T.SpanKind} IN (${SPAN_KIND_CLIENT_VALUES_SQL})
  AND has(t.${T.SpanAttributes}.keys, '${A.ATTR_GEN_AI_OPERATION_NAME}')
  AND event IN (${RESILIENCE_EVENTS.map((e) => `'${e}'`).join(', ')})${where}
GROUP BY ${V.Bucket}, ${eventKeys.join(', ')}`;
    const select = (where: string) => `SELECT
    toStartOfMinute(t.${T.Timestamp}) AS ${S.Minute},
    t.${T.ServiceName} AS ${S.ServiceName},
    count() AS ${S.Spans},
    max(t.${T.Timestamp}) AS ${S.LastSpan}
FROM ${traces} AS t${where}
GROUP BY ${S.Minute}, ${S.ServiceName}`;
    const settings = `SETTINGS index_granularity = 8192, non_replicated_deduplication_window = ${DEDUP_WINDOW_BLOCKS}`;
    return [
      `CREATE TABLE IF NOT EXISTS ${spans} (
    ${S.Minute} DateTime CODEC(Delta(4), ZSTD(1)),
    ${S.ServiceName} LowCardinality(String),
    ${S.Spans} SimpleAggregateFunction(sum, UInt64),
    ${S.LastSpan} SimpleAggregateFunction(max, DateTime64(9))
) ENGINE = AggregatingMergeTree()
ORDER BY (${S.ServiceName}, ${S.Minute})
${ttl(S.Minute, rollupTtlDays)}
${settings}`,
      `CREATE TABLE IF NOT EXISTS ${events} (
    ${V.Bucket} DateTime CODEC(Delta(4), ZSTD(1)),
${eventKeys.map((k) => `    ${k} LowCardinality(String),`).join('\n')}
    ${V.Events} SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree()
ORDER BY (${V.Bucket}, ${eventKeys.join(', ')})
${ttl(V.Bucket, rollupTtlDays)}
${settings}`,
      backfillSql(database, TABLE_OTEL_SPANS_1M, select(`\nWHERE ${whileEmpty(database, TABLE_OTEL_SPANS_1M)}`)),
      backfillSql(database, TABLE_LLM_CALL_EVENTS_10M, selectEvents(`\n  AND ${whileEmpty(database, TABLE_LLM_CALL_EVENTS_10M)}`)),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_OTEL_SPANS_1M_MV)}
TO ${spans}
AS ${select('')}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, VIEW_LLM_CALL_EVENTS_10M_MV)}
TO ${events}
AS ${selectEvents('')}`,
    ];
  },
};
