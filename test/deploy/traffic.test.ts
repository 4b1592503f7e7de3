// The compose demo path without Docker: a sidecar started from deploy/config/sidecar.compose.yaml
// (addresses pointed at this machine), the fake provider, and the traffic generator through the
// demo routes. ClickHouse and Redis are unreachable here: spans go to the spool, and budgets fail
// open, as they would in compose while those start.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallRecord } from '../../proxy/call-record.ts';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import { parseConfigText } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { runTraffic } from './traffic.ts';

let fake: FakeProvider;
let sidecar: RunningSidecar;
let spool: string;
const calls: CallRecord[] = [];

beforeAll(async () => {
  fake = await startFakeProvider();
  spool = mkdtempSync(join(tmpdir(), 'llm-sidecar-traffic-'));
  const file = fileURLToPath(new URL('../../deploy/config/sidecar.compose.yaml', import.meta.url));
  const config = parseConfigText(readFileSync(file, 'utf8'), file, { FAKE_PROVIDER_URL: fake.url, CLICKHOUSE_URL: 'http://127.0.0.1:9', CLICKHOUSE_PASSWORD: 'unused', REDIS_URL: 'redis://127.0.0.1:9' });
  config.listen = { ...config.listen, host: '127.0.0.1', port: 0 };
  config.admin = { host: '127.0.0.1', port: 0 };
  config.telemetry.spool = { ...config.telemetry.spool, dir: spool };
  sidecar = await startSidecar(config, { recorders: [{ record: (c) => calls.push(c) }] });
});

afterAll(async () => {
  await sidecar?.close(1_000);
  await fake?.close();
  rmSync(spool, { recursive: true, force: true });
});

it('sends every kind of demo call through the demo routes to the simulated provider', async () => {
  const lines: string[] = [];
  const r = await runTraffic({ url: sidecar.url, rounds: 5, pauseMs: 0, log: (l) => lines.push(l) });
  // 6 calls a round, plus the rate-limited one in round 5.
  expect(r).toEqual({ ok: 30, failed: 1 });
  expect(lines).toEqual(['traffic: 5/5 rounds, 30 calls ok, 1 failed']);
  // A call is recorded as its response ends, which can be just after the client has read it.
  await expect.poll(() => calls.length).toBeGreaterThanOrEqual(r.ok + r.failed);
  expect(new Set(calls.map((c) => c.route))).toEqual(new Set(['demo-openai', 'demo-anthropic']));
  // Every request reached the fake provider (none went to the real APIs); the route's default
  // retry policy tries the 429 three times.
  expect(fake.stats.received).toBe(30 + 3);
});
