// `llm-sidecar evaluator` as the CLI runs it: runEvaluatorCommand(config) opens the configured
// store (embedded here), applies the schema, serves the admin port, scores, and stops cleanly when
// told to (here: once its own /metrics shows the seeded calls scored).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvaluatorCommand } from '../../evaluator/main.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { until } from '../support/wait.ts';
import { embeddedStore, evaluations, seedCalls, type EmbeddedFixture, type SeededCall } from './seed.ts';

/** Sum of llm_sidecar_evaluator_rows_total over its labels. */
function rowsWritten(metrics: string): number {
  return [...metrics.matchAll(/^llm_sidecar_evaluator_rows_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

const hasChdb = await chdbAvailable();

describe.skipIf(!hasChdb)('runEvaluatorCommand (chdb)', () => {
  let fx: EmbeddedFixture;
  let calls: SeededCall[];

  beforeAll(async () => {
    fx = await embeddedStore('eval-command');
    calls = await seedCalls(fx.store, [
      { startMs: Date.now() - 60_000, output: 'It ships today.' },
      { startMs: Date.now() - 50_000, output: 'Once upon', finishReason: 'length' },
    ]);
    await fx.store.close();
  });

  afterAll(async () => {
    if (fx) await rm(fx.dir, { recursive: true, force: true });
  });

  it('scores with the configured evaluators until told to stop, then exits 0', async () => {
    const config = parseConfig({ admin: { host: '127.0.0.1', port: 0 }, telemetry: { clickhouse: { dataDir: join(fx.dir, 'chdb') } } });
    (config.evaluation as unknown as { evaluators: unknown }).evaluators = { settleSeconds: 0, list: [{ builtin: 'completeness' }] };
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
    let code: number;
    try {
      // Stopped once its own /metrics says both seeded calls were scored, not after a guessed delay.
      let stop!: () => void;
      const command = runEvaluatorCommand(config, { stop: new Promise<void>((r) => (stop = r)) });
      const admin = await until('the evaluator prints its admin address', () => /admin on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr.join(''))?.[1], { timeoutMs: 15_000 });
      await until('/metrics counts a row for each seeded call', async () => rowsWritten(await (await fetch(`${admin}/metrics`)).text()) >= calls.length, { timeoutMs: 15_000 });
      stop();
      code = await command;
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(0);
    expect(stderr.join('')).toMatch(/admin on http:\/\/127\.0\.0\.1:\d+/);
    expect(stderr.join('')).toMatch(/stopped/);

    const store = await createEmbeddedStore({ dataDir: join(fx.dir, 'chdb') });
    try {
      const rows = await evaluations(store);
      expect(rows.map((r) => [r.spanId, r.label])).toEqual(
        expect.arrayContaining([
          [calls[0]?.spanId, 'complete'],
          [calls[1]?.spanId, 'truncated'],
        ]),
      );
    } finally {
      await store.close();
    }
  });
});
