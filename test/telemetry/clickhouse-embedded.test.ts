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
    // Only the route "sampled" (selected by header) captures content.
    routes: { sampled: { targets: [{ provider: 'openai' }] } },
    evaluation: { sampleRate: 0, routes: { sampled: 1 } },
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

it.skipIf(!available)('a key and an e-mail in a sampled prompt never reach ClickHouse; the redacted content does', async () => {
  const res = await fetch(`${stack.sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-llm-sidecar-route': 'sampled' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'use sk-proj-AAAAbbbbCCCCddddEEEEffff and mail ops@acme.example' }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
  const id = res.headers.get('x-llm-sidecar-request-id')!;
  await stack.recorder.byRequestId(id);
  await stack.sidecar.flush();
  const store = stack.sidecar.telemetry.store!;
  const rows = await store.query<{ InputMessages: string; OutputMessages: string; EvalSampled: number }>(
    `SELECT InputMessages, OutputMessages, EvalSampled FROM otel.llm_calls WHERE EvalSampled = 1`,
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]!.InputMessages).toContain('[REDACTED:api_key]');
  expect(rows[0]!.InputMessages).toContain('[REDACTED:email]');
  const [raw] = await store.query<{ hits: string }>(
    `SELECT count() AS hits FROM otel.otel_traces WHERE arrayExists(v -> position(v, 'sk-proj-AAAA') > 0 OR position(v, 'ops@acme.example') > 0, mapValues(SpanAttributes))`,
  );
  expect(Number(raw!.hits)).toBe(0);
});
