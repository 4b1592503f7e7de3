// Reading the calls an evaluator still has to score, one page at a time, in (Timestamp, SpanId)
// order with a cursor, inside a bounded time window (llm_calls is partitioned by day and ordered by
// (ServiceName, toStartOfHour(Timestamp), Timestamp): the window prunes partitions and granules, so
// no read ever scans the whole table). In SQL, not in JS, so unwanted rows never leave ClickHouse:
//   - sampled with content, not failed, not judge traffic, not embeddings;
//   - this replica's share: cityHash64(SpanId) % count = index (replicas never see the same call);
//   - the evaluator's sampling: cityHash64(TraceId) % 1e6 < rate × 1e6 (deterministic per trace,
//     independent of the proxy's trace-id sampling, the same calls for every evaluator at one rate);
//   - its filters (route, model, service, feature; `*` globs);
//   - not yet scored by this evaluator version (anti-join on llm_evaluations over the same window).
import { LLM_CALLS as C, LLM_EVALUATIONS as E, OTEL_TRACES as T, STATUS_CODE, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS, TABLE_OTEL_TRACES, qualified } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore, QueryParams } from '../shared/clickhouse/store.ts';
import { ATTR_GEN_AI_RESPONSE_ID } from '../shared/telemetry/semconv.ts';
import type { FiltersConfig } from '../shared/config/evaluators-schema.ts';
import { JUDGE_FEATURE } from './judge-client.ts';

export interface CallRow {
  tsNs: bigint;
  traceId: string;
  spanId: string;
  serviceName: string;
  route: string;
  requestModel: string;
  /** llm_calls.Feature, copied onto the score (llm_evaluations.Feature). */
  feature: string;
  inputMessages: string;
  outputMessages: string;
  systemInstructions: string;
}

export interface Partition {
  index: number;
  count: number;
}

export interface PageRequest {
  evaluator: { name: string; version: string; sampleRate: number; filters: FiltersConfig };
  partition: Partition;
  /** Window [fromNs, toNs). */
  fromNs: bigint;
  toNs: bigint;
  /** Rows strictly after this (Timestamp, SpanId). */
  after: { tsNs: bigint; spanId: string };
  limit: number;
}

/** Operations without an answer to evaluate. */
const NO_ANSWER_OPERATIONS = ['embeddings', 'count_tokens'];
const SAMPLE_BUCKETS = 1_000_000;

/** `*` glob → LIKE pattern (LIKE's own wildcards escaped). */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

function filterSql(filters: FiltersConfig, params: QueryParams): string[] {
  const columns: [keyof FiltersConfig, string][] = [
    ['routes', C.Route],
    ['models', C.RequestModel],
    ['services', C.ServiceName],
    ['features', C.Feature],
    ['cacheStatuses', C.CacheStatus],
  ];
  const clauses: string[] = [];
  for (const [key, column] of columns) {
    const values = filters[key];
    if (!values || values.length === 0) continue;
    clauses.push(
      `(${values
        .map((v, i) => {
          const p = `f_${key}_${i}`;
          params[p] = globToLike(v);
          return `c.${column} LIKE {${p}:String}`;
        })
        .join(' OR ')})`,
    );
  }
  return clauses;
}

export async function readCallsPage(store: ClickHouseStore, database: string, req: PageRequest): Promise<CallRow[]> {
  const params: QueryParams = {
    from: req.fromNs.toString(),
    to: req.toNs.toString(),
    after_ts: req.after.tsNs.toString(),
    after_span: req.after.spanId,
    replicas: req.partition.count,
    replica: req.partition.index,
    rate: Math.round(req.evaluator.sampleRate * SAMPLE_BUCKETS),
    evaluator: req.evaluator.name,
    version: req.evaluator.version,
    judge: JUDGE_FEATURE,
    limit: req.limit,
  };
  const filters = filterSql(req.evaluator.filters, params);
  // The hour bounds say nothing the time bounds do not, but both tables' keys hold
  // toStartOfHour(Timestamp) after the service (and evaluator) columns, and ClickHouse uses a
  // condition on the raw Timestamp only where a granule range shares that prefix: without them a
  // one-hour window read most of the day's granules (test/evaluator/bench-evaluator.ts).
  const window = (ts: string) =>
    `${ts} >= fromUnixTimestamp64Nano({from:Int64}) AND ${ts} < fromUnixTimestamp64Nano({to:Int64})
    AND toStartOfHour(${ts}) >= toStartOfHour(fromUnixTimestamp64Nano({from:Int64})) AND toStartOfHour(${ts}) <= toStartOfHour(fromUnixTimestamp64Nano({to:Int64}))`;
  const sql = `SELECT toString(toUnixTimestamp64Nano(c.${C.Timestamp})) AS ts, c.${C.TraceId} AS traceId, c.${C.SpanId} AS spanId,
  c.${C.ServiceName} AS serviceName, c.${C.Route} AS route, c.${C.RequestModel} AS requestModel, c.${C.Feature} AS feature,
  c.${C.InputMessages} AS inputMessages, c.${C.OutputMessages} AS outputMessages, c.${C.SystemInstructions} AS systemInstructions
FROM ${qualified(database, TABLE_LLM_CALLS)} AS c
WHERE ${window(`c.${C.Timestamp}`)}
  AND (c.${C.Timestamp}, c.${C.SpanId}) > (fromUnixTimestamp64Nano({after_ts:Int64}), {after_span:String})
  AND c.${C.EvalSampled} = 1
  AND c.${C.OutputMessages} NOT IN ('', '[]')
  AND c.${C.StatusCode} != '${STATUS_CODE.Error}'
  AND c.${C.Operation} NOT IN (${NO_ANSWER_OPERATIONS.map((o) => `'${o}'`).join(', ')})
  AND c.${C.Feature} != {judge:String}
  AND cityHash64(c.${C.SpanId}) % {replicas:UInt32} = {replica:UInt32}
  AND cityHash64(c.${C.TraceId}) % ${SAMPLE_BUCKETS} < {rate:UInt32}${filters.map((f) => `\n  AND ${f}`).join('')}
  AND (c.${C.TraceId}, c.${C.SpanId}) NOT IN (
    SELECT ${E.TraceId}, ${E.SpanId} FROM ${qualified(database, TABLE_LLM_EVALUATIONS)}
    WHERE ${E.Evaluator} = {evaluator:String} AND ${E.EvaluatorVersion} = {version:String} AND ${window(E.Timestamp)}
  )
ORDER BY c.${C.Timestamp}, c.${C.SpanId}
LIMIT {limit:UInt32}`;
  const rows = await store.query<Omit<CallRow, 'tsNs'> & { ts: string }>(sql, params);
  return rows.map(({ ts, ...rest }) => ({ ...rest, tsNs: BigInt(ts) }));
}

const HEX_ID = /^[0-9a-f]{1,32}$/i;

/**
 * gen_ai.response.id of the given calls (llm_calls does not keep it), for the semconv event.
 * Bounded by the calls' time range; ids are hex, checked before they are put in the SQL text.
 */
export async function readResponseIds(store: ClickHouseStore, database: string, calls: readonly CallRow[]): Promise<Map<string, string>> {
  const ids = calls.filter((c) => HEX_ID.test(c.spanId) && HEX_ID.test(c.traceId));
  if (ids.length === 0) return new Map();
  const min = ids.reduce((m, c) => (c.tsNs < m ? c.tsNs : m), ids[0]!.tsNs);
  const max = ids.reduce((m, c) => (c.tsNs > m ? c.tsNs : m), ids[0]!.tsNs);
  const list = (xs: string[]) => [...new Set(xs)].map((x) => `'${x}'`).join(', ');
  const rows = await store.query<{ spanId: string; id: string }>(
    `SELECT ${T.SpanId} AS spanId, ${T.SpanAttributes}['${ATTR_GEN_AI_RESPONSE_ID}'] AS id
FROM ${qualified(database, TABLE_OTEL_TRACES)}
WHERE ${T.Timestamp} >= fromUnixTimestamp64Nano({from:Int64}) AND ${T.Timestamp} <= fromUnixTimestamp64Nano({to:Int64})
  AND ${T.TraceId} IN (${list(ids.map((c) => c.traceId))}) AND ${T.SpanId} IN (${list(ids.map((c) => c.spanId))})`,
    { from: min.toString(), to: max.toString() },
  );
  return new Map(rows.filter((r) => r.id !== '').map((r) => [r.spanId, r.id]));
}
