// The same through @clickhouse/client's HTTP transport, against real ClickHouse SQL (chdb behind a
// test-only HTTP endpoint); then an outage (no request fails, every span arrives after recovery)
// and a restart with a non-empty spool (every span delivered exactly once).
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { startHttpEndpoint, type HttpEndpoint } from '../clickhouse/http-endpoint.ts';
import { startStack, type Stack } from '../stack.ts';
import { mixedTraffic, normaliseRow, totals, TOTALS_SQL } from './e2e-helpers.ts';

const available = await chdbAvailable();
let endpoint: HttpEndpoint;
let reader: ClickHouseStore;
let dir: string;
const stacks: Stack[] = [];

async function sidecar(database: string, spool: string): Promise<Stack> {
  const s = await startStack((url) => ({
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1` }, anthropic: { type: 'anthropic', baseUrl: url } },
    telemetry: { serviceName: database, clickhouse: { url: endpoint.url, database }, spool: { dir: spool } },
  }));
  stacks.push(s);
  return s;
}

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'e2e-server-'));
  endpoint = await startHttpEndpoint({ dataDir: join(dir, 'ch') });
  reader = createServerStore({ url: endpoint.url, database: 'default' });
}, 60_000);

afterAll(async () => {
  for (const s of stacks) await s.close();
  await reader?.close();
  await endpoint?.close();
});

const count = async (db: string): Promise<ReturnType<typeof normaliseRow>> => normaliseRow((await reader.query(TOTALS_SQL(db)))[0]!);

it.skipIf(!available)('HTTP transport: every call lands once with the measured tokens and cost', async () => {
  const s = await sidecar('e2e_http', join(dir, 'spool-a'));
  await s.sidecar.telemetry.migrated;
  const n = await mixedTraffic(s.sidecar.url, 2);
  await expect.poll(() => s.recorder.calls.length).toBe(n);
  await s.sidecar.flush();
  expect(await count('e2e_http')).toEqual(totals(s.recorder.calls));
});

it.skipIf(!available)('ClickHouse down: no request fails or waits, and after recovery every span is there once', async () => {
  const s = await sidecar('e2e_outage', join(dir, 'spool-b'));
  await s.sidecar.telemetry.migrated;
  await endpoint.stop();
  const t0 = Date.now();
  const n = await mixedTraffic(s.sidecar.url, 2);
  expect(Date.now() - t0).toBeLessThan(5_000);
  await expect.poll(() => s.recorder.calls.length).toBe(n);
  expect(s.recorder.calls.filter((c) => c.httpStatus === 200)).toHaveLength(n - 2);
  await s.sidecar.flush();
  expect(s.sidecar.telemetry.stats()!.spooled).toBe(n * 3);
  await endpoint.start();
  await expect.poll(async () => (await count('e2e_outage')).calls, { timeout: 20_000, interval: 250 }).toBe(n);
  expect(await count('e2e_outage')).toEqual(totals(s.recorder.calls));
  expect(s.sidecar.telemetry.stats()).toMatchObject({ replayed: n * 3, dropped: 0 });
}, 40_000);

it.skipIf(!available)('a proxy stopped with a non-empty spool delivers it after a restart, exactly once', async () => {
  const spool = join(dir, 'spool-c');
  await endpoint.start().catch(() => undefined);
  const first = await sidecar('e2e_restart', spool);
  await first.sidecar.telemetry.migrated;
  await endpoint.stop();
  const n = await mixedTraffic(first.sidecar.url, 1);
  await expect.poll(() => first.recorder.calls.length).toBe(n);
  const expected = totals(first.recorder.calls);
  await first.close();
  expect(readdirSync(spool).length).toBeGreaterThan(0);
  await endpoint.start();
  const second = await sidecar('e2e_restart', spool);
  await expect.poll(async () => (await count('e2e_restart')).calls, { timeout: 20_000, interval: 250 }).toBe(n);
  expect(await count('e2e_restart')).toEqual(expected);
  await second.sidecar.flush();
  expect(second.sidecar.telemetry.stats()!.replayed).toBe(n * 3);
}, 40_000);
