// Dashboards benchmark (issue #8, item 9): with N generated LLM calls (default 10 million) over the
// last 7 days in the embedded ClickHouse (chdb), how long does every panel of the committed
// dashboards take over a 7-day range? Target: ≤ 500 ms per query.
//
//   node --import tsx test/dashboards/bench-panels.ts [calls=10000000] [--runs 5] [--keep DIR] [--reuse DIR] [--calls-only]
//
// 1. Generation (timed, row counts reported; ~7 min for 10 M calls on 2 shared cores). A fresh
//    chdb data directory (temp, removed at the end unless --keep), migrated with the product's
//    migrations. The calls are written with SQL
//    (`INSERT … SELECT … FROM numbers(…)`, one INSERT per slice of ~6 hours, in time order, as a
//    sidecar writes them) into **otel_traces**, so the materialized views fill llm_calls,
//    llm_calls_1m and otel_traces_trace_id_ts exactly as in production. Each call is the proxy's
//    span tree: a SERVER span, the gen_ai CLIENT span (the one llm_calls keeps) and one CLIENT
//    "POST" span per attempt (--calls-only writes the gen_ai spans alone). Variety: 6 services,
//    8 routes (primary and fallback target each), 8 models of 4 providers (one without a price),
//    40 tenants and ~12,000 users (skewed), 10 features, ~4 % errors of 5 kinds with their HTTP
//    status, cache statuses (hit, semantic-hit, stale, bypass, miss) with saved_usd on half the hits,
//    streams with time to first token, tokens of every kind and exact decimal costs, retries,
//    fallbacks, circuit-breaker skips and cascade escalations as span events, ~2 % sampled for
//    evaluation (with message content), and a few budget-alert INTERNAL spans.
//    Quality: the sampled calls of the week are scored by three evaluators (two LLM judges and a JSON
//    check that mostly does not apply), read back from llm_calls as the evaluator does; the week
//    before the range (which the week-over-week panel reads) has evaluation rows only — its calls
//    are not generated (no other panel reads before the range start with every variable at All).
//    Re-runs (older EvaluatedAt) and changes of mind (older feedback) are written too, so FINAL has
//    work to do. ~1 % of calls get user feedback. A few calibration rows.
//    Nothing is OPTIMIZEd: the parts are what the inserts and the background merges left (reported).
// 2. Queries. Every panel target, template-variable query and trace-link query of the committed
//    files (dashboards/generated), expanded as Grafana and the plugin do (macros.ts) with the range
//    [end − 7 days, end] (end = the newest generated call, i.e. "now" at generation), $__interval =
//    600 s (what Grafana picks for 7 days at ~1,000 px: 604.8 s rounded to 10 min) and every
//    variable at All; every alert rule query over its own window (relativeTimeRange) ending at end.
//    Each query runs --runs times (default 5) one after another: the first run is reported as
//    "cold" (the OS page cache is warm from the generation anyway; no query cache is used), the
//    verdict is on the p50 of the other runs ("warm"): PASS ≤ 500 ms, MISS above. Times are wall
//    times around the store's query call (chdb in process; includes parsing the JSON rows).
//    Exit code 1 if any query fails; a MISS is a result, not a failure. The "cpu" column is the p50
//    of the warm runs' process CPU time (every chdb thread): on a loaded machine the wall times
//    grow with the load, the CPU time much less (2 cores: a quiet wall time is about cpu / 1..2).
//
// --fine also times each panel that can read a coarse rollup (migrations 012-013) with that
// branch switched off, i.e. as it read llm_calls / llm_calls_1m / otel_traces before (rows marked
// "fine", left out of the verdict counts): before and after on the same data.
// --reuse DIR --resume-from N [calls] finishes a generation that was interrupted after N calls.
// --generate-only stops after the generation and the table report (with --keep: time the queries later with --reuse).
// --keep DIR keeps the generated data in DIR; --reuse DIR benchmarks data kept earlier (no
// generation, but the product's migrations run first, so a new rollup is created and backfilled
// from the kept data as on an upgraded installation; the range still ends at the newest call,
// month-to-date and `now()` stay real time). --days N spreads the calls over N days and queries
// that range (default 7; issue #21 reports 30M calls over 30 days), with the $__interval Grafana
// picks for it at ~1,000 px (kbn.roundInterval: 7 days → 10 min, 30 days → 30 min).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { expandGrafanaSql, type ExpandContext } from '../../dashboards/macros.ts';
import { CACHE_STATUS, EVENT, EVENT_ATTR, SERIES_ON_10M, SKIP_REASON_CIRCUIT_OPEN, TABLE_ON_COARSE } from '../../dashboards/sql.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import {
  LLM_CALLS as C,
  LLM_EVALUATIONS as E,
  LLM_EVAL_CALIBRATION as K,
  LLM_FEEDBACK as F,
  OTEL_TRACES as T,
  OTEL_TRACES_NESTED as N,
  SCORE_LABEL_NOT_APPLICABLE,
  SPAN_KIND,
  STATUS_CODE,
  TABLE_LLM_CALLS,
  TABLE_LLM_CALLS_1M,
  TABLE_LLM_CALLS_10M,
  TABLE_LLM_CALLS_FEATURE_STATUS_10M,
  TABLE_LLM_CALLS_USERS_1H,
  TABLE_LLM_EVALUATIONS,
  TABLE_LLM_EVAL_CALIBRATION,
  TABLE_LLM_FEEDBACK,
  TABLE_OTEL_SPANS_1M,
  TABLE_LLM_CALL_EVENTS_10M,
  TABLE_OTEL_TRACES,
  TABLE_OTEL_TRACES_TRACE_ID_TS,
  qualified,
} from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import * as A from '../../shared/telemetry/semconv.ts';
import { percentiles } from '../bench/open-loop.ts';
import { alertQueries, allSelected, panelQueries, readCommitted, traceLinkQuery, traceLinks, variableQueries } from './harness.ts';

const DB = 'otel';
const DAY_MS = 86_400_000;

/** Grafana's $__interval for a range drawn ~1,000 px wide: range / 1000 rounded as kbn.roundInterval does (the steps up to a day). */
function grafanaIntervalS(rangeMs: number): number {
  const raw = rangeMs / 1000;
  const steps: [number, number][] = [[15_000, 10_000], [35_000, 20_000], [75_000, 60_000], [210_000, 120_000], [450_000, 300_000], [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000], [2_700_000, 1_800_000], [5_400_000, 3_600_000], [9_000_000, 7_200_000], [16_200_000, 10_800_000], [32_400_000, 21_600_000], [86_400_000, 43_200_000]];
  const step = steps.find(([below]) => raw < below);
  return (step ? step[1] : 86_400_000) / 1000;
}
const TARGET_MS = 500;
/** Calls per INSERT (about 6 hours of traffic at 10 M calls a week). */
const SLICE_CALLS = 400_000;

// --- Traffic model -------------------------------------------------------------------------

/** Services (share of the traffic) and the routes each one calls (relative weights). */
const SERVICES: { name: string; weight: number; routes: [string, number][] }[] = [
  { name: 'checkout-api', weight: 30, routes: [['default', 6], ['smart', 2], ['classify', 2]] },
  { name: 'support-bot', weight: 25, routes: [['default', 5], ['smart', 3], ['embed', 2], ['summarize', 1]] },
  { name: 'search-api', weight: 20, routes: [['search', 6], ['embed', 3], ['default', 1]] },
  { name: 'docs-assistant', weight: 12, routes: [['summarize', 5], ['embed', 3], ['default', 2]] },
  { name: 'agent-runner', weight: 8, routes: [['agent', 5], ['reasoning', 3], ['smart', 2]] },
  { name: 'batch-worker', weight: 5, routes: [['summarize', 4], ['classify', 4], ['embed', 2]] },
];

interface Model {
  name: string;
  provider: string;
  config: string;
  /** pico-USD per token: input, cache read, cache write, output (undefined: no price). */
  price?: [number, number, number, number];
}

const MODELS: Model[] = [
  { name: 'gpt-4o-mini', provider: 'openai', config: 'openai-main', price: [150_000, 75_000, 150_000, 600_000] },
  { name: 'gpt-4o', provider: 'openai', config: 'openai-main', price: [2_500_000, 1_250_000, 2_500_000, 10_000_000] },
  { name: 'o3-mini', provider: 'openai', config: 'openai-main', price: [1_100_000, 550_000, 1_100_000, 4_400_000] },
  { name: 'claude-sonnet-4-5', provider: 'anthropic', config: 'anthropic-main', price: [3_000_000, 300_000, 3_750_000, 15_000_000] },
  { name: 'claude-haiku-4-5', provider: 'anthropic', config: 'anthropic-main', price: [1_000_000, 100_000, 1_250_000, 5_000_000] },
  { name: 'gemini-2.0-flash', provider: 'gcp.gemini', config: 'gemini-main', price: [100_000, 25_000, 100_000, 400_000] },
  { name: 'text-embedding-3-small', provider: 'openai', config: 'openai-main', price: [20_000, 20_000, 20_000, 0] },
  { name: 'local-llama', provider: 'openai', config: 'local-vllm' },
];
const model = (name: string): number => {
  const i = MODELS.findIndex((m) => m.name === name);
  if (i < 0) throw new Error(`unknown model ${name}`);
  return i + 1;
};

interface Route {
  name: string;
  primary: number;
  fallback: number;
  operation: 'chat' | 'embeddings';
  /** Typical duration of a non-cached call, ms. */
  baseMs: number;
}

const ROUTES: Route[] = [
  { name: 'default', primary: model('gpt-4o-mini'), fallback: model('claude-haiku-4-5'), operation: 'chat', baseMs: 900 },
  { name: 'smart', primary: model('claude-sonnet-4-5'), fallback: model('gpt-4o'), operation: 'chat', baseMs: 2500 },
  { name: 'search', primary: model('gpt-4o'), fallback: model('claude-sonnet-4-5'), operation: 'chat', baseMs: 1800 },
  { name: 'summarize', primary: model('gemini-2.0-flash'), fallback: model('gpt-4o-mini'), operation: 'chat', baseMs: 1200 },
  { name: 'reasoning', primary: model('o3-mini'), fallback: model('claude-sonnet-4-5'), operation: 'chat', baseMs: 6000 },
  { name: 'embed', primary: model('text-embedding-3-small'), fallback: model('text-embedding-3-small'), operation: 'embeddings', baseMs: 120 },
  { name: 'classify', primary: model('local-llama'), fallback: model('gpt-4o-mini'), operation: 'chat', baseMs: 400 },
  { name: 'agent', primary: model('claude-sonnet-4-5'), fallback: model('gemini-2.0-flash'), operation: 'chat', baseMs: 4000 },
];

const SERVICE_WEIGHTS: [string, number][] = SERVICES.map((x) => [x.name, x.weight]);

const FEATURES: [string, number][] = [
  ['support-chat', 25],
  ['search', 18],
  ['summarize', 12],
  ['autocomplete', 10],
  ['classification', 8],
  ['rag-answer', 8],
  ['translation', 6],
  ['agent-task', 5],
  ['email-draft', 5],
  ['report', 3],
];

const ERRORS: [string, number, number][] = [
  // error.type, http status (0 = no answer), weight
  ['rate_limit_exceeded', 429, 40],
  ['server_error', 500, 25],
  ['overloaded', 529, 15],
  ['timeout', 0, 10],
  ['context_length_exceeded', 400, 10],
];

const TENANTS = 40;
const USERS_PER_TENANT = 300;
const ERROR_RATE = 0.04;
const FALLBACK_RATE = 0.03;
const SAMPLE_RATE = 0.02;
const FEEDBACK_PERCENT = 1;

// --- SQL helpers ---------------------------------------------------------------------------

const str = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const arr = (xs: readonly (string | number)[]): string => `[${xs.map((x) => (typeof x === 'number' ? String(x) : str(x))).join(', ')}]`;
/** A uniform number in [0, 1) for the row `n`, independent per `k`. */
const rnd = (k: number, n = 'n'): string => `(cityHash64(${n}, ${k}) % 1000000) / 1000000.`;
/** multiIf over cumulative weights. */
function weighted(r: string, items: readonly [string, number][]): string {
  const total = items.reduce((a, [, w]) => a + w, 0);
  let acc = 0;
  const parts: string[] = [];
  items.forEach(([v, w], i) => {
    acc += w;
    if (i < items.length - 1) parts.push(`${r} < ${acc / total}`, str(v));
    else parts.push(str(v));
  });
  return `multiIf(${parts.join(', ')})`;
}
/** A 16- or 32-hex-digit id from hashes of `n`. */
const hexId = (k: number, words = 1, n = 'n'): string =>
  `lower(concat(${Array.from({ length: words }, (_, i) => `leftPad(hex(cityHash64(${n}, ${k + i})), 16, '0')`).join(', ')}))`;
/** pico-USD (UInt64) as an exact decimal string. */
const picoToUsd = (p: string): string => `concat(toString(intDiv(${p}, 1000000000000)), '.', leftPad(toString(${p} % 1000000000000), 12, '0'))`;

/**
 * One row per call: every property of the call, deterministic in `n`. `startNs` / `stepNs`: the
 * call n starts at startNs + (n + jitter) × stepNs. Unused columns are pruned by ClickHouse.
 */
function callRows(startNs: bigint, stepNs: number, from: number, count: number): string {
  const routeIdx = `multiIf(${SERVICES.map((svc) => `service = ${str(svc.name)}, indexOf(${arr(ROUTES.map((r) => r.name))}, ${weighted('r_route', svc.routes)})`).join(', ')}, 1)`;
  const price = (k: number) => arr(MODELS.map((m) => m.price?.[k] ?? 0));
  const errorIdx = `multiIf(${ERRORS.slice(0, -1)
    .map((_, i) => `r_errkind < ${ERRORS.slice(0, i + 1).reduce((a, x) => a + x[2], 0) / ERRORS.reduce((a, x) => a + x[2], 0)}, ${i + 1}`)
    .join(', ')}, ${ERRORS.length})`;
  return `SELECT *,
  input_tokens - cache_read_tokens - cache_write_tokens AS uncached_tokens,
  uncached_tokens * arrayElement(${price(0)}, model_idx) + cache_read_tokens * arrayElement(${price(1)}, model_idx)
    + cache_write_tokens * arrayElement(${price(2)}, model_idx) + output_tokens * arrayElement(${price(3)}, model_idx) AS cost_pico,
  NOT is_error AND arrayElement(${arr(MODELS.map((m) => (m.price ? 1 : 0)))}, model_idx) = 1 AS priced,
  is_hit AND priced AND ${rnd(20)} < 0.5 AS has_saved,
  (1000 * arrayElement(${price(0)}, model_idx) + 200 * arrayElement(${price(3)}, model_idx)) AS saved_pico,
  concat(route, '/', arrayElement(${arr(MODELS.map((m) => m.config))}, arrayElement(${arr(ROUTES.map((r) => r.primary))}, route_idx)), '/', arrayElement(${arr(MODELS.map((m) => m.name))}, arrayElement(${arr(ROUTES.map((r) => r.primary))}, route_idx))) AS primary_target,
  concat(route, '/', provider_config, '/', request_model) AS target
FROM (
  SELECT *,
    if(is_error OR is_hit OR operation = 'embeddings', 0, toUInt64(20 + floor(pow(${rnd(12)}, 2) * 1500))) AS output_tokens,
    if(input_tokens > 0 AND ${rnd(13)} < 0.3, intDiv(input_tokens, 2), 0) AS cache_read_tokens,
    if(input_tokens > 0 AND provider = 'anthropic' AND ${rnd(14)} < 0.2, intDiv(input_tokens, 10), 0) AS cache_write_tokens,
    multiIf(request_model = 'o3-mini', intDiv(output_tokens * 6, 10), request_model = 'gpt-4o' AND ${rnd(15)} < 0.3, intDiv(output_tokens, 5), 0) AS reasoning_tokens,
    NOT is_error AND stream AND NOT is_hit AS has_ttft,
    round(0.15 + pow(${rnd(16)}, 2) * 2.5, 3) AS ttft_s,
    if(is_hit, 3 + ${rnd(17)} * 20, arrayElement(${arr(ROUTES.map((r) => r.baseMs))}, route_idx) * (0.3 + ${rnd(17)} * 1.4 + pow(${rnd(18)}, 12) * 12)) AS duration_ms,
    round(0.3 + pow(${rnd(19)}, 3) * 6, 3) AS overhead_ms,
    if(is_error, 1 + toUInt16(floor(${rnd(21)} * 3)), if(${rnd(21)} < 0.06, 2, 1)) AS attempts,
    is_fallback AND ${rnd(22)} < 0.3 AS skipped_open,
    route = 'smart' AND NOT is_error AND NOT is_fallback AND ${rnd(23)} < 0.04 AS escalated,
    NOT is_error AND NOT is_hit AND ${rnd(24)} < ${SAMPLE_RATE} AS sampled
  FROM (
    SELECT *,
      arrayElement(${arr(ROUTES.map((r) => r.name))}, route_idx) AS route,
      arrayElement(${arr(ROUTES.map((r) => r.operation))}, route_idx) AS operation,
      if(is_fallback, arrayElement(${arr(ROUTES.map((r) => r.fallback))}, route_idx), arrayElement(${arr(ROUTES.map((r) => r.primary))}, route_idx)) AS model_idx,
      arrayElement(${arr(MODELS.map((m) => m.name))}, model_idx) AS request_model,
      arrayElement(${arr(MODELS.map((m) => m.provider))}, model_idx) AS provider,
      arrayElement(${arr(MODELS.map((m) => m.config))}, model_idx) AS provider_config,
      if(is_error, arrayElement(${arr(ERRORS.map((e) => e[0]))}, ${errorIdx}), '') AS error_type,
      multiIf(is_error, arrayElement(${arr(ERRORS.map((e) => e[1]))}, ${errorIdx}), is_hit, 0, 200) AS http_status,
      operation = 'chat' AND ${rnd(10)} < 0.55 AS stream,
      if(is_error OR is_hit, 0, toUInt64(if(operation = 'embeddings', 20 + floor(${rnd(11)} * 500), 100 + floor(pow(${rnd(11)}, 2) * 6000)))) AS input_tokens
    FROM (
      SELECT *,
        ${routeIdx} AS route_idx,
        r_error < ${ERROR_RATE} AS is_error,
        NOT is_error AND ${rnd(5)} < ${FALLBACK_RATE} AS is_fallback,
        if(is_error, ${str(CACHE_STATUS.bypass)}, multiIf(r_cache < 0.10, ${str(CACHE_STATUS.hit)}, r_cache < 0.15, ${str(CACHE_STATUS.semanticHit)}, r_cache < 0.16, ${str(CACHE_STATUS.stale)}, r_cache < 0.24, ${str(CACHE_STATUS.bypass)}, ${str(CACHE_STATUS.miss)})) AS cache_status,
        cache_status IN (${str(CACHE_STATUS.hit)}, ${str(CACHE_STATUS.semanticHit)}, ${str(CACHE_STATUS.stale)}) AS is_hit,
        toUInt32(floor(pow(${rnd(6)}, 2.2) * ${TENANTS})) AS tenant_idx,
        concat('tenant-', leftPad(toString(tenant_idx), 2, '0')) AS tenant,
        concat('user-', toString(tenant_idx), '-', toString(toUInt32(floor(pow(${rnd(7)}, 3) * ${USERS_PER_TENANT})))) AS user,
        ${weighted(rnd(8), FEATURES)} AS feature,
        ${weighted(rnd(9), SERVICE_WEIGHTS)} AS service,
        fromUnixTimestamp64Nano(toInt64(${startNs}) + toInt64((n + ${rnd(1)}) * ${stepNs})) AS ts,
        ${hexId(100, 2)} AS trace_id,
        ${hexId(102)} AS span_id,
        ${hexId(103)} AS server_span_id
      FROM (SELECT number AS n, ${rnd(2)} AS r_route, ${rnd(3)} AS r_error, ${rnd(4)} AS r_errkind, ${rnd(25)} AS r_cache FROM numbers(${from}, ${count}))
    )
  )
)`;
}

const EVENTS_TYPE = `Array(Tuple(DateTime64(9), String, Map(String, String)))`;
const SPAN_COLUMNS = [
  T.Timestamp,
  T.TraceId,
  T.SpanId,
  T.ParentSpanId,
  T.TraceState,
  T.SpanName,
  T.SpanKind,
  T.ServiceName,
  T.ResourceAttributes,
  T.ScopeName,
  T.ScopeVersion,
  T.SpanAttributes,
  T.Duration,
  T.StatusCode,
  T.StatusMessage,
  `\`${N.EventsTimestamp}\``,
  `\`${N.EventsName}\``,
  `\`${N.EventsAttributes}\``,
].join(', ');
const RESOURCE = `map('service.name', service, 'service.version', '0.1.0', 'k8s.pod.name', concat(service, '-7f9c-', toString(cityHash64(n, 50) % 4)))`;
const NO_EVENTS = `[], [], []`;

/** The gen_ai CLIENT span of each call (what llm_calls keeps). */
function genAiSpansSql(rows: string, traces: string): string {
  const ms = (x: number) => `ts + toIntervalMillisecond(${x})`;
  const attrs = `mapFilter((k, v) -> v != '', map(
    ${str(A.ATTR_GEN_AI_OPERATION_NAME)}, operation,
    ${str(A.ATTR_GEN_AI_PROVIDER_NAME)}, provider,
    ${str(A.ATTR_GEN_AI_REQUEST_MODEL)}, request_model,
    ${str(A.ATTR_GEN_AI_RESPONSE_MODEL)}, if(is_error, '', concat(request_model, '-2025')),
    ${str(A.ATTR_GEN_AI_REQUEST_STREAM)}, if(stream, 'true', 'false'),
    ${str(A.ATTR_SERVER_ADDRESS)}, concat(provider, '.example'),
    ${str(A.ATTR_LLM_SIDECAR_PROVIDER)}, provider_config,
    ${str(A.ATTR_LLM_SIDECAR_ROUTE)}, route,
    ${str(A.ATTR_LLM_SIDECAR_TENANT)}, tenant,
    ${str(A.ATTR_LLM_SIDECAR_USER)}, user,
    ${str(A.ATTR_LLM_SIDECAR_FEATURE)}, feature,
    ${str(A.ATTR_LLM_SIDECAR_ATTEMPTS)}, toString(attempts),
    ${str(A.ATTR_LLM_SIDECAR_FALLBACK_INDEX)}, if(is_fallback, '1', '0'),
    ${str(A.ATTR_LLM_SIDECAR_CACHE_STATUS)}, cache_status,
    ${str(A.ATTR_LLM_SIDECAR_OVERHEAD_MS)}, toString(overhead_ms),
    ${str(A.ATTR_LLM_SIDECAR_EVAL_SAMPLED)}, if(sampled, 'true', 'false'),
    ${str(A.ATTR_HTTP_RESPONSE_STATUS_CODE)}, if(http_status = 0, '', toString(http_status)),
    ${str(A.ATTR_ERROR_TYPE)}, error_type,
    ${str(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS)}, if(is_error, '', toString(input_tokens)),
    ${str(A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS)}, if(is_error, '', toString(output_tokens)),
    ${str(A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)}, if(is_error, '', toString(cache_read_tokens)),
    ${str(A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)}, if(is_error, '', toString(cache_write_tokens)),
    ${str(A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)}, if(is_error, '', toString(reasoning_tokens)),
    ${str(A.ATTR_LLM_SIDECAR_COST_USD)}, if(priced, ${picoToUsd('cost_pico')}, ''),
    ${str(A.ATTR_LLM_SIDECAR_CACHE_SAVED_USD)}, if(has_saved, ${picoToUsd('saved_pico')}, ''),
    ${str(A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)}, if(has_ttft, toString(ttft_s), ''),
    ${str(A.ATTR_GEN_AI_INPUT_MESSAGES)}, if(sampled, concat('[{"role":"user","parts":[{"type":"text","content":"question ', toString(n), '"}]}]'), ''),
    ${str(A.ATTR_GEN_AI_OUTPUT_MESSAGES)}, if(sampled, '[{"role":"assistant","parts":[{"type":"text","content":"an answer"}],"finish_reason":"stop"}]', ''),
    ${str(A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS)}, if(sampled, '[{"type":"text","content":"Be brief."}]', '')
  ))`;
  const events = `arrayConcat(
    if(skipped_open, [(${ms(1)}, ${str(EVENT.targetSkipped)}, map(${str(EVENT_ATTR.target)}, primary_target, ${str(EVENT_ATTR.reason)}, ${str(SKIP_REASON_CIRCUIT_OPEN)}))], CAST([], '${EVENTS_TYPE}')),
    if(is_fallback, [(${ms(2)}, ${str(EVENT.fallback)}, map(${str(EVENT_ATTR.target)}, target, 'index', '1'))], CAST([], '${EVENTS_TYPE}')),
    arrayMap(a -> (ts + toIntervalMillisecond(200 * a), ${str(EVENT.retry)}, map(${str(EVENT_ATTR.target)}, target, 'attempt', toString(a), 'delay_ms', toString(200 * a))), range(1, attempts)),
    if(escalated, [(${ms(3)}, ${str(EVENT.cascadeEscalated)}, map(${str(EVENT_ATTR.target)}, target, ${str(EVENT_ATTR.reason)}, 'short_answer'))], CAST([], '${EVENTS_TYPE}'))
  )`;
  return `INSERT INTO ${traces} (${SPAN_COLUMNS})
SELECT ts, trace_id, span_id, server_span_id, '', concat(operation, ' ', request_model), ${str(SPAN_KIND.Client)}, service, ${RESOURCE}, 'llm-sidecar', '0.1.0',
  ${attrs}, toUInt64(duration_ms * 1e6), if(is_error, ${str(STATUS_CODE.Error)}, ${str(STATUS_CODE.Unset)}), error_type,
  arrayMap(e -> e.1, ev), arrayMap(e -> e.2, ev), arrayMap(e -> CAST(e.3, 'Map(LowCardinality(String), String)'), ev)
FROM (SELECT *, ${events} AS ev FROM (${rows}))`;
}

/** The SERVER span around each call and one CLIENT "POST" span per attempt (otel_traces only). */
function otherSpansSql(rows: string, traces: string): string {
  return `INSERT INTO ${traces} (${SPAN_COLUMNS})
SELECT ts, trace_id, server_span_id, '', '', if(operation = 'embeddings', 'POST /v1/embeddings', 'POST /v1/chat/completions'), ${str(SPAN_KIND.Server)}, service, ${RESOURCE}, 'llm-sidecar', '0.1.0',
  map(${str(A.ATTR_HTTP_REQUEST_METHOD)}, 'POST', ${str(A.ATTR_HTTP_RESPONSE_STATUS_CODE)}, if(is_error, toString(if(http_status = 0, 504, http_status)), '200'), ${str(A.ATTR_HTTP_ROUTE)}, if(operation = 'embeddings', '/v1/embeddings', '/v1/chat/completions')),
  toUInt64((duration_ms + overhead_ms) * 1e6), if(is_error, ${str(STATUS_CODE.Error)}, ${str(STATUS_CODE.Unset)}), '', ${NO_EVENTS}
FROM (${rows})
UNION ALL
SELECT ts + toIntervalMillisecond(200 * a), trace_id, ${hexId(200, 1, 'n * 8 + a')}, span_id, '', 'POST', ${str(SPAN_KIND.Client)}, service, ${RESOURCE}, 'llm-sidecar', '0.1.0',
  mapFilter((k, v) -> v != '', map(${str(A.ATTR_HTTP_REQUEST_METHOD)}, 'POST', ${str(A.ATTR_HTTP_REQUEST_RESEND_COUNT)}, if(a = 0, '', toString(a)), ${str(A.ATTR_SERVER_ADDRESS)}, concat(provider, '.example'))),
  toUInt64(duration_ms / attempts * 1e6), if(is_error, ${str(STATUS_CODE.Error)}, ${str(STATUS_CODE.Unset)}), '', ${NO_EVENTS}
FROM (${rows}) ARRAY JOIN range(attempts) AS a
WHERE NOT is_hit`;
}

/** Budget alerts: INTERNAL spans with a llm_sidecar.budget.alert event (no panel reads them; they are spans like any other). */
function budgetAlertSpansSql(traces: string, startNs: bigint, rangeNs: number, count: number): string {
  return `INSERT INTO ${traces} (${SPAN_COLUMNS})
SELECT ts, ${hexId(300, 2)}, ${hexId(302)}, '', '', ${str(A.EVENT_LLM_SIDECAR_BUDGET_ALERT)}, ${str(SPAN_KIND.Internal)}, service, ${RESOURCE}, 'llm-sidecar', '0.1.0',
  attrs, 0, ${str(STATUS_CODE.Unset)}, '', [ts], [${str(A.EVENT_LLM_SIDECAR_BUDGET_ALERT)}], [attrs]
FROM (
  SELECT n, ${weighted(rnd(9), SERVICE_WEIGHTS)} AS service, fromUnixTimestamp64Nano(toInt64(${startNs}) + toInt64(${rnd(1)} * ${rangeNs})) AS ts,
    map(${str(A.ATTR_LLM_SIDECAR_BUDGET_SCOPE)}, 'tenant-monthly-usd', ${str(A.ATTR_LLM_SIDECAR_BUDGET_KEY)}, concat('tenant-', leftPad(toString(n % ${TENANTS}), 2, '0')),
      ${str(A.ATTR_LLM_SIDECAR_BUDGET_USED)}, '850', ${str(A.ATTR_LLM_SIDECAR_BUDGET_LIMIT)}, '1000', ${str(A.ATTR_LLM_SIDECAR_BUDGET_RATIO)}, '0.85', ${str(A.ATTR_LLM_SIDECAR_BUDGET_UNIT)}, 'usd') AS attrs
  FROM (SELECT number AS n FROM numbers(${count}))
)`;
}

const EVAL_COLUMNS = [E.Timestamp, E.EvaluatedAt, E.TraceId, E.SpanId, E.ServiceName, E.Route, E.RequestModel, E.Evaluator, E.EvaluatorVersion, E.ScoreValue, E.ScoreLabel, E.Explanation, E.ErrorType, E.JudgeModel, E.JudgeInputTokens, E.JudgeOutputTokens, E.JudgeCostUsd, E.Feature].join(', ');

/**
 * Evaluations of the calls in `source` (columns ts, trace_id, span_id, service, route, request_model, feature):
 * relevance (judge gpt-4o-mini; v2 this week, v1 before), faithfulness (judge claude-haiku-4-5) and
 * valid_json (no judge; applies to the classify route only). `superseded`: an earlier run of 3 % of
 * them (older EvaluatedAt, another score) that FINAL must hide.
 */
function evaluationsSql(evaluations: string, source: string, version: (ts: string) => string, superseded: boolean): string {
  return `INSERT INTO ${evaluations} (${EVAL_COLUMNS})
SELECT ts, evaluated_at, trace_id, span_id, service, route, request_model, evaluator, ${version('ts')}, score, label,
  multiIf(label = ${str(SCORE_LABEL_NOT_APPLICABLE)}, 'the call did not ask for JSON', failed, '', concat(evaluator, ' judged ', if(score >= 0.5, 'adequate', 'poor'), ': ', toString(score))),
  if(failed, 'judge_timeout', ''), judge_model, if(judge_model = '', 0, judge_in), if(judge_model = '' OR failed, 0, judge_out),
  if(judge_model = '' OR failed, NULL, toDecimal128(judge_in * if(judge_model = 'gpt-4o-mini', 150000, 1000000) + judge_out * if(judge_model = 'gpt-4o-mini', 600000, 5000000), 12) / 1000000000000),
  feature
FROM (
  SELECT *,
    multiIf(evaluator = 'valid_json' AND route != 'classify', ${str(SCORE_LABEL_NOT_APPLICABLE)}, failed, '', score >= 0.5, 'pass', 'fail') AS label
  FROM (
    SELECT *,
      evaluator != 'valid_json' AND ${rnd(2, 'h')} < 0.03 AS failed,
      multiIf(failed OR (evaluator = 'valid_json' AND route != 'classify'), NULL,
        evaluator = 'valid_json', if(${rnd(3, 'h')} < 0.92, 1., 0.),
        ${superseded ? '0.01' : `least(1., greatest(0., round(0.78 + if(startsWith(request_model, 'claude'), 0.05, if(request_model = 'gpt-4o-mini', -0.08, 0.)) + if(evaluator = 'relevance' AND route = 'default' AND ts > now64(9) - INTERVAL 3 DAY, -0.15, 0.) + (${rnd(4, 'h')} - 0.5) * 0.5, 3)))`}) AS score,
      multiIf(evaluator = 'relevance', 'gpt-4o-mini', evaluator = 'faithfulness', 'claude-haiku-4-5', '') AS judge_model,
      toUInt64(400 + ${rnd(5, 'h')} * 2000) AS judge_in, toUInt64(30 + ${rnd(6, 'h')} * 200) AS judge_out,
      toDateTime64(ts + toIntervalSecond(${superseded ? '10' : '70'} + toUInt32(${rnd(7, 'h')} * 600)), 3) AS evaluated_at
    FROM (
      SELECT *, evaluator, cityHash64(span_id, evaluator) AS h
      FROM (${source}) ARRAY JOIN ['relevance', 'faithfulness', 'valid_json'] AS evaluator
    )
    ${superseded ? `WHERE ${rnd(8, 'h')} < 0.03` : ''}
  )
)`;
}

const FEEDBACK_COLUMNS = [F.Timestamp, F.TraceId, F.SpanId, F.ServiceName, F.User, F.Score, F.Comment, F.Source].join(', ');

/** Thumbs from users on ~1 % of the calls (80 % up), plus an earlier opposite rating on 10 % of them. */
function feedbackSql(feedback: string, calls: string, changedMind: boolean): string {
  return `INSERT INTO ${feedback} (${FEEDBACK_COLUMNS})
SELECT toDateTime64(${C.Timestamp} + toIntervalSecond(${changedMind ? 30 : 120} + toUInt32(${rnd(1, 'h')} * 600)), 3), ${C.TraceId}, ${C.SpanId}, ${C.ServiceName}, ${C.User},
  toInt8(if((${rnd(2, 'h')} < 0.8) != ${changedMind ? 1 : 0}, 1, -1)), if((${rnd(2, 'h')} < 0.8) != ${changedMind ? 1 : 0}, 'thanks', 'wrong answer'), 'app'
FROM (SELECT *, cityHash64(${C.SpanId}, 'feedback') AS h FROM ${calls} WHERE ${C.StatusCode} != ${str(STATUS_CODE.Error)})
WHERE h % 100 < ${FEEDBACK_PERCENT}${changedMind ? ` AND ${rnd(3, 'h')} < 0.1` : ''}`;
}

function calibrationSql(calibration: string, nowMs: number): string {
  const rows = [
    ['relevance', 'v1', 'h-support', 120, 0.86, 0.71, 20],
    ['relevance', 'v2', 'h-support', 120, 0.91, 0.8, 6],
    ['relevance', 'v2', 'h-rag', 200, 0.88, 0.74, 5],
    ['faithfulness', 'v1', 'h-rag', 80, 0.78, 0.55, 20],
    ['faithfulness', 'v1', 'h-rag', 80, 0.7, 0.4, 25],
  ] as const;
  const values = rows
    .map(([ev, v, h, ex, acc, kappa, daysAgo]) => `(fromUnixTimestamp64Milli(${nowMs - daysAgo * DAY_MS}), ${str(ev)}, ${str(v)}, 'gpt-4o-mini', ${str(`${h}.jsonl`)}, ${str(h)}, 'scale', ${ex}, ${ex}, 0, ${acc}, ${kappa}, NULL, NULL, 0.01, '{}')`)
    .join(',\n');
  return `INSERT INTO ${calibration} (${[K.RunAt, K.Evaluator, K.EvaluatorVersion, K.JudgeModel, K.LabelsFile, K.LabelsHash, K.OutputType, K.Examples, K.Judged, K.Errors, K.Accuracy, K.Kappa, K.Spearman, K.Mae, K.JudgeCostUsd, K.Details].join(', ')}) VALUES\n${values}`;
}

// --- Generation ----------------------------------------------------------------------------

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** A progress line, rewritten in place on a terminal (nothing when the output is a file); '' ends it. */
function progress(line: string): void {
  if (!process.stdout.isTTY) return;
  process.stdout.write(line === '' ? '\n' : `\r  ${line}   `);
}

/**
 * `resumeFrom`: calls already written by an interrupted generation into a kept directory (the
 * range start is then recovered from call 0's timestamp, so the rest lands where it would have).
 */
async function generate(store: ClickHouseStore, calls: number, callsOnly: boolean, rangeMs: number, resumeFrom = 0): Promise<void> {
  const traces = qualified(DB, TABLE_OTEL_TRACES);
  const rangeNs = rangeMs * 1e6;
  const stepNs = rangeNs / calls;
  let startNs = BigInt(Date.now() - rangeMs) * 1_000_000n;
  if (resumeFrom > 0) {
    const [first] = await store.query<{ ns: string }>(`SELECT toString(toUnixTimestamp64Nano(min(${C.Timestamp})) - toInt64(${rnd(1, '0')} * ${stepNs})) AS ns FROM ${qualified(DB, TABLE_LLM_CALLS)}`);
    startNs = BigInt(first?.ns ?? '0');
  }
  const nowMs = Number(startNs / 1_000_000n) + rangeMs;
  const t0 = performance.now();
  for (let from = resumeFrom; from < calls; from += SLICE_CALLS) {
    const count = Math.min(SLICE_CALLS, calls - from);
    const rows = callRows(startNs, stepNs, from, count);
    const s0 = performance.now();
    await store.command(genAiSpansSql(rows, traces));
    const s1 = performance.now();
    if (!callsOnly) await store.command(otherSpansSql(rows, traces));
    const s2 = performance.now();
    console.log(`  calls ${(from + count).toLocaleString('en-US')} / ${calls.toLocaleString('en-US')} at ${seconds(s2 - t0)} (this slice: gen_ai spans ${seconds(s1 - s0)}${callsOnly ? '' : `, other spans ${seconds(s2 - s1)}`})`);
  }
  await store.command(budgetAlertSpansSql(traces, startNs, rangeNs, 40 * Math.round(rangeMs / DAY_MS) * 3));
  const tCalls = performance.now();

  // Quality: this week's sampled calls, read from llm_calls as the evaluator does.
  const evaluations = qualified(DB, TABLE_LLM_EVALUATIONS);
  const sampledCalls = `SELECT ${C.Timestamp} AS ts, ${C.TraceId} AS trace_id, ${C.SpanId} AS span_id, ${C.ServiceName} AS service, ${C.Route} AS route, ${C.RequestModel} AS request_model, ${C.Feature} AS feature
FROM ${qualified(DB, TABLE_LLM_CALLS)} WHERE ${C.EvalSampled} = 1`;
  // The period before (a week with the default range): the same traffic model shifted back by the range, evaluation rows only.
  const previousWeek = `SELECT ts, trace_id, span_id, service, route, request_model, feature FROM (${callRows(startNs - BigInt(rangeNs), stepNs, 0, calls)}) WHERE sampled`;
  const version = (ts: string) => `if(evaluator = 'relevance' AND ${ts} > now64(9) - INTERVAL 7 DAY, 'v2', 'v1')`;
  await store.command(evaluationsSql(evaluations, previousWeek, version, true));
  await store.command(evaluationsSql(evaluations, previousWeek, version, false));
  await store.command(evaluationsSql(evaluations, sampledCalls, version, true));
  await store.command(evaluationsSql(evaluations, sampledCalls, version, false));
  const feedback = qualified(DB, TABLE_LLM_FEEDBACK);
  await store.command(feedbackSql(feedback, qualified(DB, TABLE_LLM_CALLS), true));
  await store.command(feedbackSql(feedback, qualified(DB, TABLE_LLM_CALLS), false));
  await store.command(calibrationSql(qualified(DB, TABLE_LLM_EVAL_CALIBRATION), nowMs));
  const tEnd = performance.now();
  console.log(`generated in ${seconds(tEnd - t0)} (spans ${seconds(tCalls - t0)}, evaluations and feedback ${seconds(tEnd - tCalls)})`);
}

/** Prints row counts, parts and sizes; returns the number of calls in llm_calls. */
async function reportTables(store: ClickHouseStore): Promise<number> {
  const tables = [TABLE_OTEL_TRACES, TABLE_OTEL_TRACES_TRACE_ID_TS, TABLE_OTEL_SPANS_1M, TABLE_LLM_CALL_EVENTS_10M, TABLE_LLM_CALLS, TABLE_LLM_CALLS_1M, TABLE_LLM_CALLS_10M, TABLE_LLM_CALLS_FEATURE_STATUS_10M, TABLE_LLM_CALLS_USERS_1H, TABLE_LLM_EVALUATIONS, TABLE_LLM_FEEDBACK, TABLE_LLM_EVAL_CALIBRATION];
  const parts = await store.query<{ table: string; rows: string; parts: string; bytes: string }>(
    `SELECT table, sum(rows) AS rows, count() AS parts, formatReadableSize(sum(bytes_on_disk)) AS bytes FROM system.parts WHERE database = ${str(DB)} AND active GROUP BY table`,
  );
  console.log('\ntable                      rows (active parts)      parts  on disk');
  for (const t of tables) {
    const p = parts.find((x) => x.table === t);
    console.log(`${t.padEnd(26)} ${Number(p?.rows ?? 0).toLocaleString('en-US').padStart(14)}  ${String(p?.parts ?? 0).padStart(12)}  ${p?.bytes ?? '-'}`);
  }
  const [span] = await store.query<{ calls: string; from: string; to: string }>(`SELECT count() AS calls, min(${C.Timestamp}) AS from, max(${C.Timestamp}) AS to FROM ${qualified(DB, TABLE_LLM_CALLS)}`);
  console.log(`llm_calls: ${Number(span?.calls ?? 0).toLocaleString('en-US')} calls from ${span?.from} to ${span?.to} (UTC)`);
  return Number(span?.calls ?? 0);
}

// --- Queries -------------------------------------------------------------------------------

interface Job {
  dashboard: string;
  title: string;
  refId: string;
  sql: string;
}

interface Measured extends Job {
  cold: number;
  p50: number;
  /** p50 of the warm runs' process CPU time (user + system, every chdb thread): robust to a loaded machine, unlike wall time. */
  cpuP50: number;
  max: number;
  rows: number;
  error?: string;
}


async function measure(store: ClickHouseStore, job: Job, runs: number): Promise<Measured> {
  const times: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const c = process.cpuUsage();
      const t = performance.now();
      const result = await store.query(job.sql);
      times.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
      rows = result.length;
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ...job, cold: NaN, p50: NaN, cpuP50: NaN, max: NaN, rows: 0, error: message.split('\n')[0] ?? message };
  }
  const warm = times.length > 1 ? times.slice(1) : times;
  const warmCpu = cpu.length > 1 ? cpu.slice(1) : cpu;
  return { ...job, cold: times[0] as number, p50: percentiles(Float64Array.from(warm)).p50, cpuP50: percentiles(Float64Array.from(warmCpu)).p50, max: Math.max(...times), rows };
}

/** The query with its coarse-rollup branch switched off (what the panel read before migrations 012-013), or undefined if it has none. */
function fineBranch(sql: string): string | undefined {
  if (!sql.includes(SERIES_ON_10M) && !sql.includes(TABLE_ON_COARSE)) return undefined;
  return sql.replaceAll(SERIES_ON_10M, '0').replaceAll(TABLE_ON_COARSE, '0');
}

function jobs(end: Date, rangeMs: number, fine: boolean): Job[] {
  const committed = readCommitted();
  const ctx: ExpandContext = { from: new Date(end.getTime() - rangeMs), to: end, intervalSeconds: grafanaIntervalS(rangeMs), variables: allSelected() };
  const list: Job[] = [];
  for (const q of panelQueries(committed)) {
    list.push({ dashboard: q.dashboard, title: q.title, refId: q.refId, sql: expandGrafanaSql(q.sql, ctx) });
    const before = fine ? fineBranch(q.sql) : undefined;
    if (before !== undefined) list.push({ dashboard: q.dashboard, title: q.title, refId: 'fine', sql: expandGrafanaSql(before, ctx) });
  }
  for (const v of variableQueries(committed)) list.push({ dashboard: v.dashboard, title: `variable ${v.name}`, refId: '-', sql: expandGrafanaSql(v.sql, ctx) });
  for (const a of alertQueries(committed)) {
    const alertCtx: ExpandContext = { from: new Date(end.getTime() - a.window * 1000), to: end, intervalSeconds: 60 };
    list.push({ dashboard: 'alerts', title: a.uid, refId: 'A', sql: expandGrafanaSql(a.sql, alertCtx) });
  }
  return list;
}

async function traceLinkJobs(store: ClickHouseStore, end: Date): Promise<Job[]> {
  const links = traceLinks(readCommitted());
  const [latest] = await store.query<{ id: string }>(
    `SELECT ${C.TraceId} AS id FROM ${qualified(DB, TABLE_LLM_CALLS)} WHERE ${C.Timestamp} >= fromUnixTimestamp64Milli(${end.getTime() - 3_600_000}) AND ${C.StatusCode} = ${str(STATUS_CODE.Error)} ORDER BY ${C.Timestamp} DESC LIMIT 1`,
  );
  if (!latest) return [];
  return links.map((l) => ({ dashboard: l.dashboard, title: `trace link of "${l.title}"`, refId: 'trace', sql: traceLinkQuery(l.url, latest.id).queries[0]?.rawSql ?? '' }));
}

const fmtMs = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');

function printTable(results: readonly Measured[]): void {
  const titleWidth = Math.min(70, Math.max(...results.map((r) => r.title.length)));
  console.log(`\n${'dashboard'.padEnd(9)} ${'panel'.padEnd(titleWidth)} ${'ref'.padEnd(5)} ${'cold'.padStart(6)} ${'p50'.padStart(6)} ${'max'.padStart(6)} ${'cpu'.padStart(6)} ${'rows'.padStart(6)}  verdict`);
  for (const r of results) {
    const verdict = r.error ? `ERROR ${r.error}` : r.p50 <= TARGET_MS ? 'PASS' : 'MISS';
    const title = r.title.length > titleWidth ? `${r.title.slice(0, titleWidth - 1)}…` : r.title;
    console.log(`${r.dashboard.padEnd(9)} ${title.padEnd(titleWidth)} ${r.refId.padEnd(5)} ${fmtMs(r.cold).padStart(6)} ${fmtMs(r.p50).padStart(6)} ${fmtMs(r.max).padStart(6)} ${fmtMs(r.cpuP50).padStart(6)} ${String(r.rows).padStart(6)}  ${verdict}`);
  }
}

// --- Main ----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '5' },
      keep: { type: 'string' },
      reuse: { type: 'string' },
      'calls-only': { type: 'boolean', default: false },
      'resume-from': { type: 'string' },
      days: { type: 'string', default: '7' },
      fine: { type: 'boolean', default: false },
      'generate-only': { type: 'boolean', default: false },
    },
  });
  const calls = Number(positionals[0] ?? 10_000_000);
  const runs = Number(values.runs);
  if (!Number.isInteger(calls) || calls < 1000) throw new Error(`calls must be a whole number ≥ 1000 (got ${positionals[0]})`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1 (got ${values.runs})`);
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < 1) throw new Error(`--days must be a whole number ≥ 1 (got ${values.days})`);
  const rangeMs = days * DAY_MS;

  const dataDir = values.reuse ? resolve(values.reuse) : values.keep ? resolve(values.keep) : await mkdtemp(join(tmpdir(), 'dash-bench-'));
  const removeAtEnd = !values.reuse && !values.keep;
  const store = await createEmbeddedStore({ dataDir, database: DB });
  try {
    if (values.reuse && values['resume-from'] !== undefined) {
      const from = Number(values['resume-from']);
      await migrate(store);
      console.log(`resuming the generation in ${dataDir} at call ${from.toLocaleString('en-US')} of ${calls.toLocaleString('en-US')} over ${days} days`);
      await generate(store, calls, values['calls-only'], rangeMs, from);
    } else if (values.reuse) {
      const t0 = performance.now();
      const { applied } = await migrate(store);
      console.log(`reusing the data in ${dataDir}${applied.length > 0 ? `; applied ${applied.join(', ')} (with their backfills) in ${seconds(performance.now() - t0)}` : ''}`);
    } else {
      await migrate(store);
      console.log(`generating ${calls.toLocaleString('en-US')} calls over ${days} days in ${dataDir}${values['calls-only'] ? ' (gen_ai spans only)' : ' (SERVER + gen_ai CLIENT + attempt spans)'}`);
      await generate(store, calls, values['calls-only'], rangeMs);
    }
    const callsStored = await reportTables(store);
    if (values['generate-only']) return 0;

    const [newest] = await store.query<{ ms: string }>(`SELECT toUnixTimestamp64Milli(max(${C.Timestamp})) AS ms FROM ${qualified(DB, TABLE_LLM_CALLS)}`);
    const end = new Date(Math.ceil(Number(newest?.ms ?? Date.now()) / 1000) * 1000);
    console.log(`\nrange ${new Date(end.getTime() - rangeMs).toISOString()} → ${end.toISOString()}, $__interval ${grafanaIntervalS(rangeMs)} s, every variable at All; ${runs} runs per query (cold = first; verdict on the p50 of the others), times in ms`);

    const all = [...jobs(end, rangeMs, values.fine), ...(await traceLinkJobs(store, end))];
    const results: Measured[] = [];
    for (const job of all) {
      const m = await measure(store, job, runs);
      results.push(m);
      progress(`${results.length} / ${all.length} queries`);
    }
    progress('');
    printTable(results);

    const fineRuns = results.filter((r) => r.refId === 'fine');
    if (fineRuns.length > 0) {
      console.log(`\nbefore → after (warm p50, ms): ${fineRuns.map((f) => `${f.dashboard}/${f.title} ${fmtMs(f.p50)} → ${fmtMs(results.find((r) => r !== f && r.dashboard === f.dashboard && r.title === f.title)?.p50 ?? NaN)}`).join('; ')}`);
    }
    const verdicts = results.filter((r) => r.refId !== 'fine');
    const ok = verdicts.filter((r) => !r.error);
    const pass = ok.filter((r) => r.p50 <= TARGET_MS);
    const errors = verdicts.filter((r) => r.error);
    const slowest = [...ok].sort((a, b) => b.p50 - a.p50).slice(0, 10);
    console.log(`\nslowest (warm p50): ${slowest.map((r) => `${r.dashboard}/${r.title}${r.refId === 'A' || r.refId === '-' ? '' : ` (${r.refId})`} ${fmtMs(r.p50)} ms (cpu ${fmtMs(r.cpuP50)})`).join('; ')}`);
    console.log(
      `summary: ${verdicts.length} queries, ${pass.length} PASS, ${ok.length - pass.length} MISS (warm p50 > ${TARGET_MS} ms), ${errors.length} errors; ` +
        `sum of warm p50s ${fmtMs(ok.reduce((a, r) => a + r.p50, 0))} ms (cpu ${fmtMs(ok.reduce((a, r) => a + r.cpuP50, 0))} ms); ${ok.filter((r) => r.cpuP50 > TARGET_MS).length} over ${TARGET_MS} ms of cpu; ${callsStored.toLocaleString('en-US')} calls in llm_calls`,
    );
    return errors.length > 0 || fineRuns.some((r) => r.error) ? 1 : 0;
  } finally {
    await store.close();
    if (removeAtEnd) await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
