// Evaluator benchmark (issue #7, item 8): "with a 0 ms judge, ≥ 200 scores/s on this machine;
// polling stays cheap as llm_calls grows to millions of rows".
//
//   node --import tsx test/evaluator/bench-evaluator.ts [--calls 10000] [--evaluators 3]
//        [--concurrency 4] [--batch 50] [--sizes 1000000,5000000] [--per-day 1000000] [--runs 7]
//        [--explain]   (also print EXPLAIN indexes = 1 of the idle page read and the spend read)
//
// One temporary chdb data directory (embedded ClickHouse, schema from the migrations), removed at
// the end. Two parts:
//
// 1. Throughput. `--calls` sampled calls with content are seeded as real gen_ai spans into
//    otel_traces (seed.ts: the materialized view fills llm_calls, as in production), spread over
//    the last 55 minutes. The judge is a 0 ms OpenAI-compatible HTTP server in its own process
//    (this file with --judge): it answers every request at once with a valid structured verdict
//    for the schema it was sent. The evaluator runs exactly as `llm-sidecar evaluator` does,
//    in this process: runEvaluatorCommand(config) opens the store, migrates, serves the admin
//    port and polls, with `--evaluators` built-in LLM judges (helpfulness, safety,
//    instruction_following) through the official OpenAI SDK, `--concurrency` judge calls in flight
//    per evaluator, pages of `--batch` (both the shipped defaults), a daily spend cap set (so the
//    cap's reads are on the path).
//    Measured from the call to runEvaluatorCommand until its /metrics says every call × evaluator
//    has its row (rows are counted after their insert): scores/s end to end, and this process's
//    CPU per score (evaluator + embedded ClickHouse; the judge's CPU is reported apart). Then the
//    store is reopened and checked: exactly one row per call × evaluator (without FINAL), every
//    one a score, none missing.
//
// 2. Polling cost. llm_calls is grown to each of `--sizes` rows with INSERT … SELECT FROM numbers()
//    at a constant rate (`--per-day` calls a day, ending now: the table grows by holding more
//    days, as a deployment's does): 4 services, 5 % sampled with content, 1 % errors, 3 %
//    embeddings; every eligible generated call already has its llm_evaluations rows (the
//    evaluator is caught up). At each size, p50 of `--runs` runs of:
//      - a whole idle pass (startEvaluator → runOnce, nothing to do: the steady-state poll);
//      - its page read on the last hour (readCallsPage over the pass's first window → 0 rows);
//      - the page read when a page is due (2 × batch unscored calls added in the last 30 min →
//        `--batch` rows), then those calls are marked scored again;
//      - the checkpoint read and the spend cap's read of today's spend (DailySpend.refresh).
//    ClickHouse's query condition cache is dropped before every measured run (see
//    DROP_CONDITION_CACHE): the evaluator's windows move, so in production its reads run cold.
//    Rows and bytes each query read come from replaying its exact SQL once with FORMAT JSON on a
//    second chdb Session (chdb has no system.query_log; the JSON format's statistics have them).
//    Flat numbers across sizes = polling cost does not grow with the table.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Session } from 'chdb';
import { readCallsPage, type Partition } from '../../evaluator/calls.ts';
import { readWatermark } from '../../evaluator/checkpoint.ts';
import { resolveEvaluators, type Evaluator } from '../../evaluator/definitions.ts';
import { runEvaluatorCommand } from '../../evaluator/main.ts';
import { startEvaluator } from '../../evaluator/service.ts';
import { DailySpend } from '../../evaluator/spend.ts';
import { parseEvaluatorsConfig } from '../../evaluator/config.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS } from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore, QueryParams } from '../../shared/clickhouse/store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { freePort, killAllChildren, spawnNode } from '../bench/children.ts';
import { percentiles } from '../bench/open-loop.ts';
import { cpuMicros } from '../bench/procstat.ts';
import { seedCalls, type SeedCall } from './seed.ts';

const { values: opts } = parseArgs({
  options: {
    judge: { type: 'boolean', default: false },
    calls: { type: 'string', default: '10000' },
    evaluators: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    batch: { type: 'string', default: '50' },
    sizes: { type: 'string', default: '1000000,5000000' },
    'per-day': { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    explain: { type: 'boolean', default: false },
  },
});

const TARGET_SCORES_PER_S = 200;
const JUDGES = ['helpfulness', 'safety', 'instruction_following'] as const;

// ---------------------------------------------------------------------------------------------
// The 0 ms judge (child process): a valid verdict for whatever schema the request carries.

interface JsonSchemaProperty {
  type?: string;
  enum?: (string | number)[];
}

function verdictFor(schema: { properties?: Record<string, JsonSchemaProperty> } | undefined): Record<string, unknown> {
  const verdict: Record<string, unknown> = { explanation: 'Answers the question directly and correctly.' };
  for (const [key, p] of Object.entries(schema?.properties ?? {})) {
    if (key === 'explanation') continue;
    // Scales: the top point; labels and pass/fail: the first (best) one.
    verdict[key] = p.enum ? (p.type === 'integer' ? p.enum.at(-1) : p.enum[0]) : 'ok';
  }
  return verdict;
}

function runJudge(): void {
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; response_format?: { json_schema?: { schema?: { properties?: Record<string, JsonSchemaProperty> } } } };
      const content = JSON.stringify(verdictFor(body.response_format?.json_schema?.schema));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-judge-${++n}`,
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 600, completion_tokens: 40, total_tokens: 640 },
        }),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(`judge listening on http://127.0.0.1:${port}/v1\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const num = (name: keyof typeof opts): number => {
  const v = Number(String(opts[name]).replace(/_/g, ''));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: a positive number, not ${String(opts[name])}`);
  return v;
};

const p50 = (xs: readonly number[]): number => percentiles(Float64Array.from(xs)).p50;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

const fmt = (x: number, digits = 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const int = (x: number) => Math.round(x).toLocaleString('en-US');

/**
 * ClickHouse's query condition cache remembers, per part and WHERE condition, the granules where
 * it matched nothing: a query repeated with the same constants skips them. The evaluator's page
 * reads never repeat (every pass has a new window), so every measured run starts without it.
 */
const DROP_CONDITION_CACHE = 'SYSTEM DROP QUERY CONDITION CACHE';

/** A store that remembers the SQL and parameters of its last query (to replay it for read statistics). */
function recording(store: ClickHouseStore): { store: ClickHouseStore; last(): { sql: string; params: QueryParams } } {
  let last = { sql: '', params: {} as QueryParams };
  return {
    store: {
      ...store,
      query: <T,>(sql: string, params?: QueryParams) => {
        last = { sql, params: params ?? {} };
        return store.query<T>(sql, params);
      },
    },
    last: () => last,
  };
}

interface ReadStats {
  rows: number;
  bytes: number;
}

/** Rows and bytes a SELECT reads: its statistics in FORMAT JSON, on a second Session of the same engine. */
async function readStats(session: Session, q: { sql: string; params: QueryParams }): Promise<ReadStats> {
  await session.queryAsync(DROP_CONDITION_CACHE);
  const sql = `${q.sql}\nFORMAT JSON`;
  const result = Object.keys(q.params).length > 0 ? await session.queryBindAsync(sql, q.params, { format: 'JSON' }) : await session.queryAsync(sql, { format: 'JSON' });
  const { statistics } = JSON.parse(result.text()) as { statistics: { rows_read: number; bytes_read: number } };
  return { rows: statistics.rows_read, bytes: statistics.bytes_read };
}

async function explain(session: Session, what: string, q: { sql: string; params: QueryParams }): Promise<void> {
  const plan = await session.queryBindAsync(`EXPLAIN indexes = 1 ${q.sql}`, q.params, { format: 'TSVRaw' });
  console.log(`EXPLAIN indexes = 1 of ${what}:\n${plan.text()}`);
}

// ---------------------------------------------------------------------------------------------
// Part 1: throughput.

function seedContent(i: number): SeedCall {
  const topics = ['my order', 'a refund', 'the invoice', 'my password', 'shipping to Canada', 'the API rate limit'];
  const topic = topics[i % topics.length] as string;
  return {
    startMs: 0,
    service: ['checkout-api', 'support-bot'][i % 2],
    route: i % 3 === 0 ? 'support' : 'default',
    system: i % 4 === 0 ? 'You are a support agent for Acme. Be concise, polite and accurate. Never promise refunds you cannot grant.' : undefined,
    input: `Hello, I have a question about ${topic} (ticket ${i}). I tried the help page but it did not answer it: what should I do next, and how long will it take?`,
    output: `Thanks for reaching out about ${topic}. Here is what to do: open Settings → Orders, pick ticket ${i}, and choose "Request help". Our team answers within one business day; you will get an email as soon as it is resolved. Anything else I can help with?`,
  };
}

interface ThroughputResult {
  calls: number;
  evaluators: string[];
  rows: number;
  seconds: number;
  scoresPerS: number;
  cpuUsPerScore: number;
  judgeCpuUsPerScore: number;
  problems: string[];
}

async function throughput(dir: string, dataDir: string): Promise<ThroughputResult> {
  const calls = num('calls');
  const names = JUDGES.slice(0, num('evaluators'));
  const concurrency = num('concurrency');
  const batchSize = num('batch');

  // Seed through otel_traces (→ llm_calls by the view), then release the directory for the command.
  let store = await createEmbeddedStore({ dataDir });
  await migrate(store);
  const now = Date.now();
  const t0 = now - 55 * 60_000;
  for (let from = 0; from < calls; from += 2_000) {
    const chunk = Array.from({ length: Math.min(2_000, calls - from) }, (_, k) => ({ ...seedContent(from + k), startMs: t0 + Math.floor(((from + k) * 50 * 60_000) / calls) }));
    await seedCalls(store, chunk);
  }
  const [seeded] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${store.database}.${TABLE_LLM_CALLS} WHERE ${C.EvalSampled} = 1`);
  if (Number(seeded?.n) !== calls) throw new Error(`seeded ${calls} calls but llm_calls holds ${seeded?.n} sampled rows`);
  await store.close();
  console.log(`seeded ${int(calls)} sampled calls (spans → otel_traces → llm_calls)`);

  const judge = spawnNode('judge', ['--import', 'tsx', fileURLToPath(import.meta.url), '--judge']);
  const judgeUrl = (await judge.waitForOutput(/judge listening on (http:\/\/\S+)/, 15_000))[1] as string;
  const adminPort = await freePort();
  const config = parseConfig({ admin: { host: '127.0.0.1', port: adminPort }, telemetry: { clickhouse: { dataDir }, spool: { dir: join(dir, 'spool') } } }, 'bench');
  (config.evaluation as unknown as { evaluators: unknown }).evaluators = {
    backfillHours: 1,
    concurrency,
    batchSize,
    dailySpendCapUsd: 1_000,
    judge: { provider: 'openai', baseUrl: judgeUrl, apiKey: 'sk-bench', model: 'gpt-4o-mini' },
    list: names.map((builtin) => ({ builtin })),
  };
  const expected = calls * names.length;

  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  const judgeCpu0 = cpuMicros(judge.pid);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const command = runEvaluatorCommand(config, { stop: stopped });
  let written = 0;
  let failed = false;
  void command.then(() => (failed = written < expected), () => (failed = true));
  while (written < expected && !failed) {
    await new Promise((r) => setTimeout(r, 100));
    const metrics = await fetch(`http://127.0.0.1:${adminPort}/metrics`).then((r) => r.text(), () => '');
    written = [...metrics.matchAll(/^llm_sidecar_evaluator_rows_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const judgeCpu = cpuMicros(judge.pid) - judgeCpu0;
  stop();
  const code = await command;
  await judge.stop();
  if (failed || code !== 0) throw new Error(`the evaluator command ended early (exit code ${code}) with ${written}/${expected} rows`);

  // Correctness: one row per call × evaluator (every row written, no FINAL), each a score, none missing.
  store = await createEmbeddedStore({ dataDir });
  const problems: string[] = [];
  try {
    const db = store.database;
    const perEvaluator = await store.query<{ evaluator: string; rows: string; calls: string; scored: string }>(
      `SELECT ${E.Evaluator} AS evaluator, count() AS rows, uniqExact(${E.SpanId}) AS calls, countIf(${E.ScoreValue} IS NOT NULL AND ${E.ErrorType} = '') AS scored
FROM ${db}.${TABLE_LLM_EVALUATIONS} GROUP BY evaluator ORDER BY evaluator`,
    );
    for (const name of names) {
      const r = perEvaluator.find((x) => x.evaluator === name);
      if (!r) problems.push(`${name}: no rows`);
      else if (Number(r.rows) !== calls || Number(r.calls) !== calls || Number(r.scored) !== calls) problems.push(`${name}: ${r.rows} rows for ${r.calls} calls, ${r.scored} scores (expected ${calls} of each)`);
      const [missing] = await store.query<{ n: string }>(
        `SELECT count() AS n FROM ${db}.${TABLE_LLM_CALLS} WHERE ${C.EvalSampled} = 1 AND ${C.SpanId} NOT IN (SELECT ${E.SpanId} FROM ${db}.${TABLE_LLM_EVALUATIONS} WHERE ${E.Evaluator} = {name:String})`,
        { name },
      );
      if (Number(missing?.n) !== 0) problems.push(`${name}: ${missing?.n} calls without a row`);
    }
    const others = perEvaluator.filter((r) => !(names as readonly string[]).includes(r.evaluator));
    if (others.length > 0) problems.push(`unexpected evaluators: ${others.map((r) => r.evaluator).join(', ')}`);
  } finally {
    await store.close();
  }
  const cpuUs = cpu.user + cpu.system;
  return { calls, evaluators: [...names], rows: written, seconds, scoresPerS: written / seconds, cpuUsPerScore: cpuUs / written, judgeCpuUsPerScore: judgeCpu / written, problems };
}

// ---------------------------------------------------------------------------------------------
// Part 2: polling cost as llm_calls grows.

const DAY_NS = 86_400_000_000_000n;
const MIN_NS = 60_000_000_000n;

/**
 * Generated calls n ∈ [first, first + count): the k-th is `anchor − k × step` (minus a jitter
 * inside its step), so the rows run back from the anchor at a constant rate. Every column as the
 * view writes it; ids are hex from cityHash64(n) (distinct ranges of n never collide).
 */
function generatedCalls(g: { first: bigint; count: number; anchorNs: bigint; stepNs: bigint; tenant: string; sampledPct: number }): string {
  const pick = (values: string[], salt: number) => `arrayElement([${values.map((v) => `'${v}'`).join(', ')}], cityHash64(n, ${salt}) % ${values.length} + 1)`;
  return `SELECT
    fromUnixTimestamp64Nano(toInt64(${g.anchorNs}) - toInt64(n - ${g.first}) * ${g.stepNs} - toInt64(cityHash64(n, 1) % ${g.stepNs})) AS ${C.Timestamp},
    concat(leftPad(lower(hex(cityHash64(n, 2))), 16, '0'), leftPad(lower(hex(cityHash64(n, 3))), 16, '0')) AS ${C.TraceId},
    leftPad(lower(hex(cityHash64(n, 4))), 16, '0') AS ${C.SpanId},
    leftPad(lower(hex(cityHash64(n, 5))), 16, '0') AS ${C.ParentSpanId},
    ${pick(['checkout-api', 'support-bot', 'search', 'billing'], 6)} AS ${C.ServiceName},
    ${pick(['default', 'support', 'internal'], 7)} AS ${C.Route},
    '${g.tenant}' AS ${C.Tenant},
    concat('user-', toString(cityHash64(n, 8) % 5000)) AS ${C.User},
    ${pick(['support-chat', 'search', 'summaries'], 9)} AS ${C.Feature},
    'openai' AS ${C.Provider},
    'openai-main' AS ${C.ProviderConfigName},
    ${pick(['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini'], 10)} AS ${C.RequestModel},
    concat(${C.RequestModel}, '-2024-07-18') AS ${C.ResponseModel},
    if(cityHash64(n, 11) % 100 < 3, 'embeddings', 'chat') AS ${C.Operation},
    toUInt8(cityHash64(n, 12) % 2) AS ${C.Stream},
    if(cityHash64(n, 13) % 100 = 0, 'Error', 'Ok') AS ${C.StatusCode},
    if(${C.StatusCode} = 'Error', 'server_error', '') AS ${C.ErrorType},
    toUInt16(if(${C.StatusCode} = 'Error', 500, 200)) AS ${C.HttpStatus},
    toFloat64(200 + cityHash64(n, 14) % 3000) AS ${C.DurationMs},
    toFloat64(cityHash64(n, 15) % 100) / 100 AS ${C.OverheadMs},
    toUInt64(50 + cityHash64(n, 16) % 2000) AS ${C.InputTokens},
    toUInt64(cityHash64(n, 17) % 800) AS ${C.OutputTokens},
    toDecimal128('0.000042', 12) AS ${C.CostUsd},
    'miss' AS ${C.CacheStatus},
    toUInt16(1) AS ${C.Attempts},
    toUInt16(0) AS ${C.FallbackIndex},
    toUInt8(cityHash64(n, 18) % 100 < ${g.sampledPct}) AS ${C.EvalSampled},
    if(${C.EvalSampled} = 1, concat('[{"role":"user","parts":[{"type":"text","content":"Where is order ', toString(n), '? It was due yesterday and the tracking page shows nothing new."}]}]'), '') AS ${C.InputMessages},
    if(${C.EvalSampled} = 1 AND ${C.StatusCode} != 'Error', if(${C.Operation} = 'embeddings', '[]', concat('[{"role":"assistant","parts":[{"type":"text","content":"Order ', toString(n), ' left our warehouse this morning; the tracking page updates within 24 hours. You will get an email when it is out for delivery."}],"finish_reason":"stop"}]')), '') AS ${C.OutputMessages},
    '' AS ${C.SystemInstructions}
FROM (SELECT number + ${g.first} AS n FROM numbers(${g.count}))`;
}

const CALL_COLUMNS = [C.Timestamp, C.TraceId, C.SpanId, C.ParentSpanId, C.ServiceName, C.Route, C.Tenant, C.User, C.Feature, C.Provider, C.ProviderConfigName, C.RequestModel, C.ResponseModel, C.Operation, C.Stream, C.StatusCode, C.ErrorType, C.HttpStatus, C.DurationMs, C.OverheadMs, C.InputTokens, C.OutputTokens, C.CostUsd, C.CacheStatus, C.Attempts, C.FallbackIndex, C.EvalSampled, C.InputMessages, C.OutputMessages, C.SystemInstructions];

async function insertCalls(store: ClickHouseStore, generated: string): Promise<void> {
  await store.command(`INSERT INTO ${store.database}.${TABLE_LLM_CALLS} (${CALL_COLUMNS.join(', ')}) ${generated}`);
}

/** The evaluator's rows for the eligible generated calls (scored ~30 s after the call, like a caught-up evaluator). */
async function insertScores(store: ClickHouseStore, generated: string, evaluators: readonly Evaluator[]): Promise<void> {
  await store.command(`INSERT INTO ${store.database}.${TABLE_LLM_EVALUATIONS}
  (${E.Timestamp}, ${E.EvaluatedAt}, ${E.TraceId}, ${E.SpanId}, ${E.ServiceName}, ${E.Route}, ${E.RequestModel}, ${E.Evaluator}, ${E.EvaluatorVersion},
   ${E.ScoreValue}, ${E.ScoreLabel}, ${E.Explanation}, ${E.ErrorType}, ${E.JudgeModel}, ${E.JudgeInputTokens}, ${E.JudgeOutputTokens}, ${E.JudgeCostUsd})
SELECT g.${C.Timestamp}, toDateTime64(g.${C.Timestamp}, 3) + INTERVAL 30 SECOND, g.${C.TraceId}, g.${C.SpanId}, g.${C.ServiceName}, g.${C.Route}, g.${C.RequestModel}, ev.1, ev.2,
  1, '5/5', 'Answers the question directly and correctly.', '', 'gpt-4o-mini', 600, 40, toDecimal128('0.000114', 12)
FROM (${generated}) AS g
ARRAY JOIN [${evaluators.map((e) => `('${e.name}', '${e.version}')`).join(', ')}] AS ev
WHERE g.${C.EvalSampled} = 1 AND g.${C.StatusCode} != 'Error' AND g.${C.Operation} = 'chat'`);
}

interface SizeResult {
  rows: number;
  parts: number;
  /** llm_evaluations rows (all evaluators). */
  scores: number;
  idlePassMs: number;
  idleReadMs: number;
  idleRead: ReadStats;
  pageReadMs: number;
  pageRead: ReadStats;
  watermarkMs: number;
  spendMs: number;
  spend: ReadStats;
  notIdle: number;
}

async function pollingCost(dataDir: string, names: readonly string[]): Promise<SizeResult[]> {
  const sizes = String(opts.sizes).split(',').map((s) => Number(s.replace(/_/g, '')));
  const perDay = BigInt(num('per-day'));
  const runs = num('runs');
  const batchSize = num('batch');
  const store = await createEmbeddedStore({ dataDir });
  // A second Session on the same engine, only to replay queries with FORMAT JSON (read statistics).
  const session = new Session(dataDir);
  const results: SizeResult[] = [];
  try {
    const db = store.database;
    // The same evaluators as part 1 (same names and versions: their checkpoints are caught up).
    const config = parseEvaluatorsConfig({ backfillHours: 1, batchSize, dailySpendCapUsd: 1_000, judge: { provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-bench', model: 'gpt-4o-mini' }, list: names.map((builtin) => ({ builtin })) });
    const evaluators = resolveEvaluators(config);
    const ev = evaluators[0] as Evaluator;
    const partition: Partition = { index: 0, count: 1 };
    const anchorNs = BigInt(Date.now()) * 1_000_000n;
    const stepNs = DAY_NS / perDay;
    const cold = async <T,>(fn: () => Promise<T>) => {
      await store.command(DROP_CONDITION_CACHE);
      return timed(fn);
    };
    const countRows = async () => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLE_LLM_CALLS}`))[0]?.n);
    let generatedSoFar = 0n;
    let pendingBatch = 0n;

    for (const size of sizes) {
      const have = await countRows();
      const add = size - have;
      if (add > 0) {
        const grow = timed(async () => {
          // In slices of 1M rows (memory), each one INSERT … SELECT, with its scores.
          for (let done = 0; done < add; done += 1_000_000) {
            const g = generatedCalls({ first: generatedSoFar, count: Math.min(1_000_000, add - done), anchorNs: anchorNs - generatedSoFar * stepNs, stepNs, tenant: 'bench-bulk', sampledPct: 5 });
            await insertCalls(store, g);
            await insertScores(store, g, evaluators);
            generatedSoFar += BigInt(Math.min(1_000_000, add - done));
          }
        });
        console.log(`grew llm_calls by ${int(add)} rows in ${fmt((await grow).ms / 1000)} s`);
      }
      const rows = await countRows();
      const [parts] = await store.query<{ n: string }>(`SELECT count() AS n FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active`, { db, t: TABLE_LLM_CALLS });
      const [scores] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${TABLE_LLM_EVALUATIONS}`);

      // The steady-state poll: a whole pass of every evaluator with nothing new to do.
      const service = await startEvaluator({ store, config, loop: false, log: () => undefined });
      const passMs: number[] = [];
      let notIdle = 0;
      for (let i = 0; i < runs; i++) {
        const { ms, value } = await cold(() => service.runOnce());
        passMs.push(ms);
        notIdle += value.evaluators.reduce((n, e) => n + e.scanned, 0) + value.errors.length;
      }
      await service.stop();

      // Its parts, one evaluator, as the pass runs them: checkpoint read, spend read, page read.
      const rec = recording(store);
      const watermarkMs: number[] = [];
      let watermark = 0n;
      for (let i = 0; i < runs; i++) {
        const r = await cold(() => readWatermark(rec.store, db, ev, partition));
        watermarkMs.push(r.ms);
        watermark = r.value ?? 0n;
      }
      const spend = new DailySpend(rec.store, db, ev, ev.kind === 'llm' ? ev.dailyCapPico : undefined, Date.now);
      const spendMs: number[] = [];
      for (let i = 0; i < runs; i++) spendMs.push((await cold(() => spend.refresh(true))).ms);
      const spendStats = await readStats(session, rec.last());
      if (opts.explain) await explain(session, 'the spend read', rec.last());

      // First window of a pass: [watermark − lateArrival, + scanWindow) — the last hour of calls.
      const fromNs = watermark - BigInt(config.lateArrivalMinutes) * MIN_NS;
      const window = { evaluator: ev, partition, fromNs, toNs: fromNs + BigInt(config.scanWindowMinutes) * MIN_NS, after: { tsNs: fromNs, spanId: '' }, limit: batchSize };
      const idleMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await cold(() => readCallsPage(rec.store, db, window));
        if (r.value.length !== 0) notIdle += r.value.length;
        idleMs.push(r.ms);
      }
      const idleStats = await readStats(session, rec.last());
      if (opts.explain) await explain(session, 'the idle page read', rec.last());

      // A page due: 2 × batch unscored calls, one every 10 s over the last ~30 minutes of that window.
      const pending = generatedCalls({ first: 1_000_000_000_000n + pendingBatch * 10_000n, count: 2 * batchSize, anchorNs: watermark - 5n * MIN_NS, stepNs: 10_000_000_000n, tenant: 'bench-pending', sampledPct: 100 });
      pendingBatch += 1n;
      await insertCalls(store, pending);
      const pageMs: number[] = [];
      let pageRows = 0;
      for (let i = 0; i < runs; i++) {
        const r = await cold(() => readCallsPage(rec.store, db, window));
        pageRows = r.value.length;
        pageMs.push(r.ms);
      }
      const pageStats = await readStats(session, rec.last());
      if (pageRows !== batchSize) console.log(`warning: the page read returned ${pageRows} rows, expected ${batchSize}`);
      await insertScores(store, pending, evaluators);

      const r: SizeResult = {
        rows,
        parts: Number(parts?.n),
        scores: Number(scores?.n),
        idlePassMs: p50(passMs),
        idleReadMs: p50(idleMs),
        idleRead: idleStats,
        pageReadMs: p50(pageMs),
        pageRead: pageStats,
        watermarkMs: p50(watermarkMs),
        spendMs: p50(spendMs),
        spend: spendStats,
        notIdle,
      };
      results.push(r);
      console.log(
        `llm_calls ${int(rows)} rows (${r.parts} parts), llm_evaluations ${int(r.scores)} rows: idle pass ${fmt(r.idlePassMs)} ms (${evaluators.length} evaluators); page read idle ${fmt(r.idleReadMs)} ms / ${int(r.idleRead.rows)} rows; page due ${fmt(r.pageReadMs)} ms / ${int(r.pageRead.rows)} rows; checkpoint ${fmt(r.watermarkMs)} ms; spend ${fmt(r.spendMs)} ms / ${int(r.spend.rows)} rows${notIdle ? `; NOT IDLE: ${notIdle} calls found` : ''}`,
      );
    }
  } finally {
    session.close();
    await store.close();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  process.on('exit', () => killAllChildren());
  const dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-bench-evaluator-'));
  const dataDir = join(dir, 'chdb');
  try {
    const t = await throughput(dir, dataDir);
    const pass = t.scoresPerS >= TARGET_SCORES_PER_S && t.problems.length === 0;
    console.log(
      `throughput: ${int(t.rows)} scores (${int(t.calls)} calls × ${t.evaluators.join(', ')}, concurrency ${num('concurrency')}, batch ${num('batch')}) in ${fmt(t.seconds)} s = ${fmt(t.scoresPerS)} scores/s (target ≥ ${TARGET_SCORES_PER_S}: ${pass ? 'met' : 'MISSED'}); CPU ${int(t.cpuUsPerScore)} µs/score in the evaluator process (embedded ClickHouse included), judge ${int(t.judgeCpuUsPerScore)} µs/score`,
    );
    console.log(t.problems.length === 0 ? 'correctness: one score per call × evaluator, none missing' : `correctness FAILED:\n  ${t.problems.join('\n  ')}`);

    const sizes = await pollingCost(dataDir, t.evaluators);
    console.log('\npolling cost (p50 of runs; rows/bytes read from ClickHouse statistics):');
    console.log('| llm_calls rows | llm_evaluations rows | idle pass (all evaluators) | idle page read | page due read | checkpoint read | spend read |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const rb = (s: ReadStats) => `${int(s.rows)} rows, ${fmt(s.bytes / 1e6)} MB`;
    for (const s of sizes) {
      console.log(`| ${int(s.rows)} | ${int(s.scores)} | ${fmt(s.idlePassMs)} ms | ${fmt(s.idleReadMs)} ms (${rb(s.idleRead)}) | ${fmt(s.pageReadMs)} ms (${rb(s.pageRead)}) | ${fmt(s.watermarkMs)} ms | ${fmt(s.spendMs)} ms (${rb(s.spend)}) |`);
    }
    if (!pass || sizes.some((s) => s.notIdle > 0)) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (opts.judge) runJudge();
else await main();
