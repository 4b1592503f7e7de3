// End to end on the embedded ClickHouse (chdb): N calls through the proxy → exactly N rows in
// llm_calls, with token and cost sums equal to what the proxy measured from the fake provider.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startStack, type Stack } from '../stack.ts';
import { mixedTraffic, normaliseRow, totals, TOTALS_SQL } from './e2e-helpers.ts';

const available = await chdbAvailable();
let stack: Stack;

beforeAll(async () => {
  if (!available) return;
  const dir = mkdtempSync(join(tmpdir(), 'e2e-embedded-'));
  stack = await startStack((url) => ({
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1` }, anthropic: { type: 'anthropic', baseUrl: url } },
    telemetry: { serviceName: 'e2e-app', clickhouse: { mode: 'embedded', dataDir: join(dir, 'ch') }, spool: { dir: join(dir, 'spool') } },
  }));
  await stack.sidecar.telemetry.migrated;
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

it.skipIf(!available)('every call lands once in llm_calls with the tokens and cost the proxy measured', async () => {
  const n = await mixedTraffic(stack.sidecar.url, 3);
  await expect.poll(() => stack.recorder.calls.length).toBe(n);
  await stack.sidecar.flush();
  const store = stack.sidecar.telemetry.store!;
  const [row] = await store.query(TOTALS_SQL('otel'));
  expect(normaliseRow(row!)).toEqual(totals(stack.recorder.calls));
  expect(Number(row!.calls)).toBe(n);
  const [spans] = await store.query<{ c: string }>(`SELECT count() AS c FROM otel.otel_traces WHERE ServiceName = 'e2e-app'`);
  expect(Number(spans!.c)).toBe(n * 3); // SERVER + gen_ai CLIENT + one attempt each
  const errors = await store.query<{ ErrorType: string; HttpStatus: number }>(`SELECT ErrorType, HttpStatus FROM otel.llm_calls WHERE ErrorType != ''`);
  expect(errors.map((e) => [e.ErrorType, Number(e.HttpStatus)])).toEqual([
    ['500', 500],
    ['500', 500],
    ['500', 500],
  ]);
  const stats = stack.sidecar.telemetry.stats()!;
  expect(stats.exported).toBe(n * 3);
  expect(stats.dropped).toBe(0);
});
