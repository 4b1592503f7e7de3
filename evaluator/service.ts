// The evaluator service: every configured evaluator runs a pass (pass.ts) over the sampled calls
// it has not scored yet, then the service sleeps pollIntervalMs and goes again. State lives in
// ClickHouse only (llm_evaluations, llm_eval_checkpoints): a restarted or rescheduled process, on
// any machine, continues where the last one stopped. Replicas split the calls by
// cityHash64(SpanId) % replicas.count, so two replicas never judge the same call.
import { serviceLogger } from '../shared/log.ts';
import { setMaxListeners } from 'node:events';
import type { Tracer } from '@opentelemetry/api';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { formatPicoUsd, parsePicoUsd } from '../shared/pricing/cost.ts';
import { loadPriceTable, type PriceTable } from '../shared/pricing/price-table.ts';
import type { Partition } from './calls.ts';
import { parseEvaluatorsConfig, replicaIndex } from './config.ts';
import { resolveEvaluators, type Evaluator } from './definitions.ts';
import { createJudgeClient, type JudgeClient } from './judge-client.ts';
import { runEvaluatorPass, type EvaluatorLog, type EvaluatorPassSummary } from './pass.ts';
import { sleep } from './retry.ts';
import { DailySpend } from './spend.ts';
import { ensureEvaluatorTables } from './tables.ts';
import { utcDayStart } from './time.ts';

export type { EvaluatorLog, EvaluatorPassSummary } from './pass.ts';

export interface RunSummary {
  startedAt: string;
  durationMs: number;
  evaluators: EvaluatorPassSummary[];
  /** Evaluators whose pass failed outright (ClickHouse unreachable…), with the reason. */
  errors: { evaluator: string; version: string; message: string }[];
}

export interface EvaluatorStats {
  passes: number;
  /** Epoch ms of the last finished pass (0 before the first). */
  lastPassAt: number;
  /** Rows written per evaluator@version and outcome (scored, not_applicable, failed, budget_exhausted). */
  rows: Record<string, Record<'scored' | 'not_applicable' | 'failed' | 'budget_exhausted', number>>;
  /** Exact USD spent on judges by this process. */
  judgeCostUsd: string;
}

export interface StartEvaluatorOptions {
  store: ClickHouseStore;
  /** `evaluation.evaluators` (parsed or raw: it is validated here). */
  config: unknown;
  /** Default: the store's database. */
  database?: string;
  /** Default: the shipped price table. Pass `loadPriceTable(config.pricing.models)` to honour overrides. */
  prices?: PriceTable;
  log?: EvaluatorLog;
  /** Clock (epoch ms): call windows, the spend cap's UTC day, EvaluatedAt. */
  now?: () => number;
  /** Emit gen_ai.evaluation.result events through it (with `emitEvents: true`). */
  tracer?: Tracer;
  env?: NodeJS.ProcessEnv;
  /** Run the polling loop (default true). With false, passes run only through runOnce(). */
  loop?: boolean;
}

export interface RunningEvaluator {
  /** One pass of every evaluator (waits for a pass already running, then runs a new one). */
  runOnce(): Promise<RunSummary>;
  /** Aborts judge calls in flight (their calls stay unscored), writes what is done, stops the loop. */
  stop(): Promise<void>;
  stats(): EvaluatorStats;
  readonly partition: Partition;
  readonly evaluators: readonly Evaluator[];
}

const defaultLog: EvaluatorLog = (level, message) => serviceLogger('llm-sidecar-evaluator')[level](message);

export async function startEvaluator(options: StartEvaluatorOptions): Promise<RunningEvaluator> {
  const config = parseEvaluatorsConfig(options.config);
  const store = options.store;
  const database = options.database ?? store.database;
  const log = options.log ?? defaultLog;
  const now = options.now ?? Date.now;
  const prices = options.prices ?? loadPriceTable();
  const partition: Partition = { index: replicaIndex(config.replicas, options.env), count: config.replicas.count };
  // Disabled: the service starts (a caller may keep serving health checks) but evaluates nothing.
  const evaluators = config.enabled ? resolveEvaluators(config) : [];
  const tracer = config.emitEvents ? options.tracer : undefined;

  await ensureEvaluatorTables(store, database);

  const clients = new Map<Evaluator, JudgeClient>();
  const spends = new Map<Evaluator, DailySpend>();
  for (const ev of evaluators) {
    if (ev.kind !== 'llm') continue;
    clients.set(ev, createJudgeClient(ev.judge, options.env));
    spends.set(ev, new DailySpend(store, database, ev, ev.dailyCapPico, now));
    if (ev.dailyCapPico !== undefined && !prices.find(ev.judge.provider, ev.judge.model)) {
      log('warn', `${ev.name}@${ev.version}: judge model ${ev.judge.provider}/${ev.judge.model} has no price, so its daily spend cap cannot be enforced (add it under pricing.models)`);
    }
  }

  const stats: EvaluatorStats = { passes: 0, lastPassAt: 0, rows: {}, judgeCostUsd: '0' };
  let spentPico = 0n;
  const budgetLogged = new Map<Evaluator, number>();
  const abort = new AbortController();
  // Every judge call in flight follows this signal (one listener each, removed when it ends): up
  // to the evaluators' summed concurrency, past Node's default warning threshold of 10.
  setMaxListeners(Math.max(10, evaluators.reduce((n, e) => n + e.concurrency, 0) + 10), abort.signal);
  let stopping = false;
  let chain: Promise<unknown> = Promise.resolve();

  async function pass(): Promise<RunSummary> {
    const started = now();
    const summary: RunSummary = { startedAt: new Date(started).toISOString(), durationMs: 0, evaluators: [], errors: [] };
    // Evaluators run side by side (each with its own judge concurrency); a failing one does not stop the others.
    await Promise.all(
      evaluators.map(async (ev) => {
        try {
          const s = await runEvaluatorPass(ev, {
            store,
            database,
            settings: config,
            partition,
            prices,
            client: clients.get(ev),
            spend: spends.get(ev),
            tracer,
            now,
            log,
            signal: abort.signal,
            onBudgetExhausted: () => {
              const day = utcDayStart(now());
              if (budgetLogged.get(ev) === day) return;
              budgetLogged.set(ev, day);
              log('warn', `${ev.name}@${ev.version}: daily judge spend cap reached; judging paused until 00:00 UTC (calls meanwhile get ErrorType budget_exhausted rows)`);
            },
          });
          summary.evaluators.push(s);
          const key = `${ev.name}@${ev.version}`;
          const r = (stats.rows[key] ??= { scored: 0, not_applicable: 0, failed: 0, budget_exhausted: 0 });
          r.scored += s.scored;
          r.not_applicable += s.notApplicable;
          r.failed += s.failed;
          r.budget_exhausted += s.budgetExhausted;
          spentPico += parsePicoUsd(s.judgeCostUsd);
          if (s.stoppedEarly && s.stoppedEarly !== 'stopping') log('warn', `${key}: pass stopped at ${s.watermark}, calls from there are retried next pass: ${s.stoppedEarly}`);
        } catch (err) {
          summary.errors.push({ evaluator: ev.name, version: ev.version, message: (err as Error).message });
          log('error', `${ev.name}@${ev.version}: pass failed (retried next pass): ${(err as Error).message}`);
        }
      }),
    );
    summary.durationMs = now() - started;
    stats.passes += 1;
    stats.lastPassAt = now();
    stats.judgeCostUsd = formatPicoUsd(spentPico);
    return summary;
  }

  function runOnce(): Promise<RunSummary> {
    const run = chain.then(pass);
    chain = run.catch(() => undefined);
    return run;
  }

  let loopDone: Promise<void> = Promise.resolve();
  if (options.loop !== false && evaluators.length > 0) {
    loopDone = (async () => {
      while (!stopping) {
        const s = await runOnce();
        const written = s.evaluators.reduce((n, e) => n + e.scored + e.failed + e.notApplicable + e.budgetExhausted, 0);
        if (written > 0) log('info', `pass: ${s.evaluators.map((e) => `${e.evaluator}@${e.version} +${e.scored} scored${e.failed ? `, ${e.failed} failed` : ''}${e.budgetExhausted ? `, ${e.budgetExhausted} over budget` : ''}`).join('; ')}`);
        await sleep(config.pollIntervalMs, abort.signal).catch(() => undefined);
      }
    })();
  }

  log('info', `started: ${evaluators.map((e) => `${e.name}@${e.version}`).join(', ') || 'no evaluators'}; replica ${partition.index + 1} of ${partition.count}; store ${store.location}`);

  return {
    runOnce,
    partition,
    evaluators,
    stats: () => stats,
    async stop() {
      if (stopping) return loopDone;
      stopping = true;
      abort.abort();
      await loopDone;
      await chain;
    },
  };
}
