// /readyz and Redis: a sidecar whose Redis (budgets, shared cache) is not reachable at start is
// not ready; it turns ready by itself once Redis is there (no restart), and a later Redis outage
// does not take it out of service again (onUnavailable decides then, not readiness).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar } from '../../proxy/main.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { freePort, redisAvailability, startRedis } from '../support/redis.ts';
import { until } from '../support/wait.ts';

const REDIS = redisAvailability();

describe.skipIf(!REDIS.available)('readiness waits for Redis', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('not ready while Redis has never been reached; ready once it is, and it stays ready through an outage', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const sidecar = await startSidecar(
      parseConfig({
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        telemetry: { clickhouse: { mode: 'off' } },
        providers: { openai: { type: 'openai', baseUrl: `${fake.url}/v1` } },
        cache: { mode: 'all', store: { type: 'redis', url } },
        budgets: { backend: { type: 'redis', url, onUnavailable: 'fail-closed' }, tiers: { t: { userDailyTokens: 100_000 } }, defaultTier: 't' },
      }),
    );
    const readyz = async (): Promise<number> => (await fetch(`${sidecar.adminUrl}/readyz`)).status;
    try {
      expect(sidecar.proxy.ready).toBe(true); // it listens…
      expect(await readyz()).toBe(503); // …but is not ready: its budgets cannot be enforced yet
      const redis = await startRedis({ port });
      try {
        await until('/readyz turns 200 after Redis came up', async () => (await readyz()) === 200);
        const r = await fetch(`${sidecar.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ready?' }] }),
        });
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      } finally {
        await redis.kill();
      }
      // Redis gone again: still ready (fail-closed refuses budgeted calls; readiness is not the switch).
      expect(await readyz()).toBe(200);
    } finally {
      await sidecar.close(1_000);
    }
  }, 60_000);
});
