// The daily judge spend cap of one evaluator version, shared by every replica: today's spend
// (UTC) is read from llm_evaluations (JudgeCostUsd of rows evaluated since midnight UTC; no FINAL:
// a re-run's replaced row was paid for too), re-read at page starts (at most every 5 s) and at
// midnight, plus what this process spent since. The cap can be overshot by at most the judge
// calls in flight across replicas (and a few seconds of theirs), never by a day's worth.
import { LLM_EVALUATIONS as E, TABLE_LLM_EVALUATIONS, qualified } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { parsePicoUsd } from '../shared/pricing/cost.ts';
import { utcDayStart } from './time.ts';

/** Other replicas' spend is seen within this long (a refresh per page would read llm_evaluations per page). */
const REFRESH_INTERVAL_MS = 5_000;

/**
 * An evaluator version's judge spend since `day` (epoch ms): params evaluator, version, day.
 * EvaluatedAt is in no key: the minmax skip index of migration 008 keeps this read to the day's
 * granules instead of the version's whole history.
 */
export function spendSinceSql(database: string): string {
  return `SELECT toString(sum(${E.JudgeCostUsd})) AS spent
FROM ${qualified(database, TABLE_LLM_EVALUATIONS)}
WHERE ${E.Evaluator} = {evaluator:String} AND ${E.EvaluatorVersion} = {version:String}
  AND ${E.EvaluatedAt} >= fromUnixTimestamp64Milli({day:Int64})`;
}

export class DailySpend {
  private day = -1;
  private refreshedAt = -Infinity;
  private storedPico = 0n;
  private localPico = 0n;

  constructor(
    private readonly store: ClickHouseStore,
    private readonly database: string,
    private readonly evaluator: { name: string; version: string },
    readonly capPico: bigint | undefined,
    private readonly now: () => number,
  ) {}

  /** Re-reads today's spend from ClickHouse (at a page start at most every few seconds, and when the UTC day changes). */
  async refresh(force = false): Promise<void> {
    if (this.capPico === undefined) return;
    const now = this.now();
    const day = utcDayStart(now);
    if (!force && day === this.day && now - this.refreshedAt < REFRESH_INTERVAL_MS) return;
    const [row] = await this.store.query<{ spent: string | null }>(spendSinceSql(this.database), { evaluator: this.evaluator.name, version: this.evaluator.version, day });
    this.day = day;
    this.refreshedAt = now;
    this.storedPico = parsePicoUsd(row?.spent ?? '0');
    this.localPico = 0n;
  }

  /** Today's spend as far as this process knows (exact pico-USD). */
  spentPico(): bigint {
    return this.storedPico + this.localPico;
  }

  /** True when the cap is reached for the current UTC day; a new day refreshes first. */
  async exhausted(): Promise<boolean> {
    if (this.capPico === undefined) return false;
    if (utcDayStart(this.now()) !== this.day) await this.refresh(true);
    return this.spentPico() >= this.capPico;
  }

  /** Spend of a judgement made now (written to llm_evaluations with the page, counted here meanwhile). */
  add(pico: bigint | undefined): void {
    if (pico === undefined || this.capPico === undefined) return;
    // A judgement that straddled midnight counts for the day it is recorded in (EvaluatedAt).
    if (utcDayStart(this.now()) !== this.day) return;
    this.localPico += pico;
  }
}
