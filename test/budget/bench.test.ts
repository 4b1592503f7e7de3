// Prints the added latency of budgets (reserve + commit) on a local redis-server. The assertion
// is only a sanity bound: shared CI machines are too noisy to gate on the 0.3 ms p50 target; the
// figures are printed for the record (also: node --import tsx test/budget/bench-budget.ts).
import { describe, expect, it } from 'vitest';
import { benchBudgets, formatBench } from './bench-budget.ts';
import { redisServerPath } from './redis-server.ts';

describe.skipIf(redisServerPath() === undefined)('budget latency on Redis', () => {
  it('reserve + commit, 2000 sequential calls', async () => {
    const result = await benchBudgets(2_000);
    console.log(`\n${formatBench(result)}\n`);
    for (const row of result.rows) expect(row.total.p50Ms).toBeLessThan(2);
  }, 60_000);
});
