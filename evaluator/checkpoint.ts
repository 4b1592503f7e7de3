// Where an evaluator resumes: the watermark of its (name, version, replica partition) in
// llm_eval_checkpoints (tables.ts). Invariant: every eligible call with Timestamp < watermark has
// its llm_evaluations row. A pass starts lateArrival before it (late spans; rows already scored
// are excluded by the anti-join) and moves it forward only past calls that are done.
import { qualified } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import type { Partition } from './calls.ts';
import { CHECKPOINTS as K, TABLE_LLM_EVAL_CHECKPOINTS } from './tables.ts';
import { msToDateTime64, nsToDateTime64 } from './time.ts';

export function partitionKey(p: Partition): string {
  return `${p.index}/${p.count}`;
}

/**
 * This partition's watermark; for a partition seen for the first time (replica count changed),
 * the lowest watermark among the version's other partitions, so no call is skipped (the anti-join
 * keeps the overlap from being scored twice). Undefined when the version never ran.
 */
export async function readWatermark(store: ClickHouseStore, database: string, evaluator: { name: string; version: string }, partition: Partition): Promise<bigint | undefined> {
  const rows = await store.query<{ partition: string; w: string }>(
    `SELECT ${K.Partition} AS partition, toString(toUnixTimestamp64Nano(max(${K.Watermark}))) AS w
FROM ${qualified(database, TABLE_LLM_EVAL_CHECKPOINTS)}
WHERE ${K.Evaluator} = {evaluator:String} AND ${K.EvaluatorVersion} = {version:String}
GROUP BY ${K.Partition}`,
    { evaluator: evaluator.name, version: evaluator.version },
  );
  const own = rows.find((r) => r.partition === partitionKey(partition));
  if (own) return BigInt(own.w);
  if (rows.length === 0) return undefined;
  return rows.map((r) => BigInt(r.w)).reduce((a, b) => (b < a ? b : a));
}

export async function writeWatermark(store: ClickHouseStore, database: string, evaluator: { name: string; version: string }, partition: Partition, watermarkNs: bigint, nowMs: number): Promise<void> {
  await store.insert(`${database}.${TABLE_LLM_EVAL_CHECKPOINTS}`, [
    {
      [K.Evaluator]: evaluator.name,
      [K.EvaluatorVersion]: evaluator.version,
      [K.Partition]: partitionKey(partition),
      [K.Watermark]: nsToDateTime64(watermarkNs),
      [K.UpdatedAt]: msToDateTime64(nowMs),
    },
  ]);
}
