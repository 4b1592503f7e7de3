// One pass of one evaluator over its share of the sampled calls:
//   from   watermark − lateArrival  (first run of a version: now − backfill)
//   to     now − settle
// in windows of scanWindow, pages of batchSize in (Timestamp, SpanId) order. Each page is
// evaluated (LLM judges `concurrency` at a time), its rows are written in one insert, then the
// watermark moves past what is done. When the judge cannot be reached (after its retries), the
// pass stops there: the calls not done keep no row and the watermark stays at or below them, so the
// next pass (or a restart, or another process) picks them up — no gaps, and the anti-join plus the
// replica partition mean no call is scored twice.
import type { Tracer } from '@opentelemetry/api';
import { TABLE_LLM_EVALUATIONS } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { formatPicoUsd } from '../shared/pricing/cost.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { readCallsPage, readResponseIds, type CallRow, type Partition } from './calls.ts';
import { partitionKey, readWatermark, writeWatermark } from './checkpoint.ts';
import type { EvaluatorsConfig } from '../shared/config/evaluators-schema.ts';
import type { Evaluator } from './definitions.ts';
import { evaluateContent } from './evaluate.ts';
import { emitEvaluationEvent } from './events.ts';
import { ERROR_TYPES } from './judge.ts';
import type { JudgeClient } from './judge-client.ts';
import { parseCallContent } from './messages.ts';
import { JudgeUnavailableError, sleep } from './retry.ts';
import { NOT_APPLICABLE, evaluationRow, type EvaluationResult, type EvaluationRow } from './rows.ts';
import type { DailySpend } from './spend.ts';
import { isoFromNs, msToNs } from './time.ts';

export type LogLevel = 'info' | 'warn' | 'error';
export type EvaluatorLog = (level: LogLevel, message: string) => void;

export interface EvaluatorPassSummary {
  evaluator: string;
  version: string;
  /** This replica's share, "index/count". */
  partition: string;
  /** Calls read (not yet scored, sampled, matching the filters). */
  scanned: number;
  /** Rows with a score. */
  scored: number;
  notApplicable: number;
  /** Error rows (invalid judge output, rejected request). */
  failed: number;
  /** Rows recording that the daily spend cap stopped judging. */
  budgetExhausted: number;
  judgeRequests: number;
  /** Exact USD of this pass's judge calls (priced ones). */
  judgeCostUsd: string;
  /** Where the next pass resumes (ISO time). */
  watermark: string;
  /** Set when the pass stopped before its end: why (judge unavailable, misconfigured, stopping). */
  stoppedEarly?: string;
}

export interface PassContext {
  store: ClickHouseStore;
  database: string;
  settings: Pick<EvaluatorsConfig, 'batchSize' | 'backfillHours' | 'lateArrivalMinutes' | 'settleSeconds' | 'scanWindowMinutes'>;
  partition: Partition;
  prices: PriceTable;
  client?: JudgeClient;
  spend?: DailySpend;
  tracer?: Tracer;
  now: () => number;
  log: EvaluatorLog;
  signal: AbortSignal;
  /** Called with every budget_exhausted result (the service logs once per evaluator and day). */
  onBudgetExhausted?: () => void;
}

const INSERT_ATTEMPTS = 3;

async function insertRows(ctx: PassContext, rows: EvaluationRow[], token: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.store.insert(`${ctx.database}.${TABLE_LLM_EVALUATIONS}`, rows, { dedupToken: token });
      return;
    } catch (err) {
      if (attempt >= INSERT_ATTEMPTS) throw err;
      ctx.log('warn', `writing ${rows.length} evaluations failed (attempt ${attempt}/${INSERT_ATTEMPTS}), retrying: ${(err as Error).message}`);
      // Not aborted by stop(): these judgements are paid for, they should land.
      await sleep(500 * 2 ** attempt);
    }
  }
}

interface PageOutcome {
  done: { call: CallRow; result: EvaluationResult; requests: number }[];
  /** Calls left without a row (judge unavailable or stopping). */
  undone: CallRow[];
  haltReason?: string;
}

async function evaluatePage(ev: Evaluator, page: CallRow[], ctx: PassContext): Promise<PageOutcome> {
  const out: PageOutcome = { done: [], undone: [] };
  let next = 0;
  let halted = false;
  const worker = async () => {
    while (!halted && next < page.length) {
      const call = page[next++] as CallRow;
      if (ctx.signal.aborted) {
        halted = true;
        out.haltReason ??= 'stopping';
        out.undone.push(call);
        continue;
      }
      try {
        const content = parseCallContent(call.inputMessages, call.outputMessages, call.systemInstructions);
        const o = await evaluateContent(ev, content, { prices: ctx.prices, client: ctx.client, spend: ctx.spend, signal: ctx.signal });
        out.done.push({ call, result: o.result, requests: o.requests });
      } catch (err) {
        // Anything else (ClickHouse unreachable while checking the spend, a bug) also stops the
        // pass at this call rather than abandoning the other workers' paid-for results.
        halted = true;
        out.undone.push(call);
        if (!(err instanceof JudgeUnavailableError)) out.haltReason ??= `error: ${(err as Error).message}`;
        else out.haltReason ??= err.kind === 'aborted' ? 'stopping' : `${err.kind === 'misconfigured' ? 'judge misconfigured' : 'judge unavailable'}: ${err.message}`;
      }
    }
  };
  const workers = ev.kind === 'llm' ? Math.min(ev.concurrency, page.length) : 1;
  await Promise.all(Array.from({ length: workers }, worker));
  // Calls never started (a halt stopped the workers) are undone too.
  const seen = new Set([...out.done.map((d) => d.call), ...out.undone]);
  for (const call of page) if (!seen.has(call)) out.undone.push(call);
  return out;
}

export async function runEvaluatorPass(ev: Evaluator, ctx: PassContext): Promise<EvaluatorPassSummary> {
  const s = ctx.settings;
  const nowMs = ctx.now();
  const upper = msToNs(nowMs - s.settleSeconds * 1000);
  const stored = await readWatermark(ctx.store, ctx.database, ev, ctx.partition);
  let watermark = stored ?? msToNs(nowMs - s.backfillHours * 3_600_000);
  let persisted = stored;
  const summary: EvaluatorPassSummary = {
    evaluator: ev.name,
    version: ev.version,
    partition: partitionKey(ctx.partition),
    scanned: 0,
    scored: 0,
    notApplicable: 0,
    failed: 0,
    budgetExhausted: 0,
    judgeRequests: 0,
    judgeCostUsd: '0',
    watermark: isoFromNs(watermark),
  };
  let costPico = 0n;
  const advance = async (to: bigint) => {
    if (to > watermark) watermark = to;
    if (persisted === undefined || watermark > persisted) {
      await writeWatermark(ctx.store, ctx.database, ev, ctx.partition, watermark, ctx.now());
      persisted = watermark;
    }
  };

  const late = msToNs(s.lateArrivalMinutes * 60_000);
  const windowNs = msToNs(s.scanWindowMinutes * 60_000);
  // A version that ran before rescans lateArrival behind its watermark; a new one starts at the backfill.
  let windowFrom = stored === undefined ? watermark : watermark - late > 0n ? watermark - late : 0n;
  outer: while (windowFrom < upper) {
    const windowTo = windowFrom + windowNs < upper ? windowFrom + windowNs : upper;
    let after = { tsNs: windowFrom, spanId: '' };
    for (;;) {
      if (ctx.signal.aborted) {
        summary.stoppedEarly = 'stopping';
        break outer;
      }
      await ctx.spend?.refresh();
      const page = await readCallsPage(ctx.store, ctx.database, { evaluator: ev, partition: ctx.partition, fromNs: windowFrom, toNs: windowTo, after, limit: s.batchSize });
      summary.scanned += page.length;
      if (page.length === 0) break;
      const outcome = await evaluatePage(ev, page, ctx);
      if (outcome.done.length > 0) {
        const evaluatedAt = ctx.now();
        const rows = outcome.done.map((d) => evaluationRow(d.call, ev, d.result, evaluatedAt));
        // Same token on a retried insert: a first attempt that landed but timed out is not doubled.
        await insertRows(ctx, rows, `eval:${ev.name}@${ev.version}:${evaluatedAt}:${outcome.done.map((d) => d.call.spanId).join(',')}`);
        for (const d of outcome.done) {
          summary.judgeRequests += d.requests;
          if (d.result.costPico !== undefined) costPico += d.result.costPico;
          if (d.result.errorType === ERROR_TYPES.budgetExhausted) {
            summary.budgetExhausted += 1;
            ctx.onBudgetExhausted?.();
          } else if (d.result.errorType) summary.failed += 1;
          else if (d.result.label === NOT_APPLICABLE) summary.notApplicable += 1;
          else summary.scored += 1;
        }
        if (ctx.tracer) await emitEvents(ev, outcome.done, ctx, evaluatedAt);
      }
      if (outcome.undone.length > 0) {
        // Done calls at or after the first undone one keep their rows; the watermark stays at it.
        const first = outcome.undone.reduce((m, c) => (c.tsNs < m ? c.tsNs : m), (outcome.undone[0] as CallRow).tsNs);
        await advance(first);
        summary.stoppedEarly = outcome.haltReason ?? 'stopping';
        break outer;
      }
      if (page.length < s.batchSize) break;
      const last = page[page.length - 1] as CallRow;
      after = { tsNs: last.tsNs, spanId: last.spanId };
      // Calls at the last timestamp with a later SpanId may follow: done strictly below it.
      await advance(last.tsNs);
    }
    await advance(windowTo);
    windowFrom = windowTo;
  }
  summary.judgeCostUsd = formatPicoUsd(costPico);
  summary.watermark = isoFromNs(watermark);
  return summary;
}

async function emitEvents(ev: Evaluator, done: PageOutcome['done'], ctx: PassContext, timeMs: number): Promise<void> {
  const tracer = ctx.tracer as Tracer;
  let responseIds = new Map<string, string>();
  try {
    responseIds = await readResponseIds(ctx.store, ctx.database, done.map((d) => d.call));
  } catch (err) {
    ctx.log('warn', `reading response ids for evaluation events failed (events sent without them): ${(err as Error).message}`);
  }
  for (const { call, result } of done) {
    emitEvaluationEvent(tracer, {
      traceId: call.traceId,
      spanId: call.spanId,
      evaluator: ev.name,
      version: ev.version,
      value: result.value,
      label: result.label,
      explanation: result.explanation,
      errorType: result.errorType,
      responseId: responseIds.get(call.spanId),
      timeMs,
    });
  }
}
