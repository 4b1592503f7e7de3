// A Redis Cluster primary going away mid-burst: the primary that holds every budget key (one hash
// tag, one slot) is SIGKILLed while two sidecars (one fail-closed, one fail-open) take traffic.
// During the failover each behaves as its onUnavailable says — fail-closed answers 503
// LLM_SIDECAR_BUDGET_UNAVAILABLE, fail-open admits (unmetered, counted in its metrics) — nothing
// else goes wrong, and once the replica is promoted both enforce budgets again without a restart.
// The same through Redis Sentinel: test/budget/sentinel-failover.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import { DEFAULT_CLUSTER_BUDGET_KEY_PREFIX } from '../../shared/config/budgets.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { redisClusterAvailability, startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';
import { until } from '../support/wait.ts';

const CLUSTER = redisClusterAvailability();

interface Answer {
  status: number;
  code: string | null;
}

describe.skipIf(!CLUSTER.available)('budgets through a Redis Cluster failover', () => {
  let fake: FakeProvider;
  let cluster: RedisClusterHandle;
  const sidecars: RunningSidecar[] = [];

  beforeAll(async () => {
    [fake, cluster] = await Promise.all([startFakeProvider(), startRedisCluster()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sidecars.map((s) => s.close(1_000)));
    await fake?.close();
    await cluster?.stop();
  });

  const start = async (onUnavailable: 'fail-open' | 'fail-closed'): Promise<RunningSidecar> => {
    const s = await startSidecar(
      parseConfig({
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        telemetry: { clickhouse: { mode: 'off' } },
        providers: { openai: { type: 'openai', baseUrl: `${fake.url}/v1` } },
        // The default key prefix on a cluster: "{llm-sidecar:budget}:", one slot.
        budgets: { backend: { type: 'redis', cluster: { nodes: cluster.urls }, onUnavailable }, tiers: { t: { userDailyTokens: 1_000 } }, defaultTier: 't' },
      }),
    );
    sidecars.push(s);
    return s;
  };

  const call = async (s: RunningSidecar, tenant: string, user: string, fault = 'delay=5'): Promise<Answer> => {
    const r = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', 'x-llm-sidecar-tenant': tenant, 'x-llm-sidecar-user': user, 'x-fake-fault': fault },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'failover' }] }),
    });
    await r.arrayBuffer();
    return { status: r.status, code: r.headers.get('x-llm-sidecar-error') };
  };

  it('fail-closed answers 503 BUDGET_UNAVAILABLE, fail-open admits, during the failover; both enforce again after it', async () => {
    const closed = await start('fail-closed');
    const open = await start('fail-open');
    const seen: Record<'closed' | 'open', Answer[]> = { closed: [], open: [] };
    let stop = false;
    let n = 0;
    // Ten callers per sidecar, each a fresh user (no budget is reached during the burst).
    const load = (s: RunningSidecar, kind: 'closed' | 'open'): Promise<void>[] =>
      Array.from({ length: 10 }, async () => {
        while (!stop) seen[kind].push(await call(s, kind, `u${n++}`));
      });
    const running = [...load(closed, 'closed'), ...load(open, 'open')];
    try {
      await until('fail-closed has admitted 20 calls before the failover', () => seen.closed.filter((a) => a.status === 200).length >= 20, { timeoutMs: 10_000 });
      await cluster.killPrimaryOf(`${DEFAULT_CLUSTER_BUDGET_KEY_PREFIX}x`);
      await until('fail-closed refuses during the failover', () => seen.closed.some((a) => a.status === 503), { timeoutMs: 10_000 });
      await cluster.waitHealthy(20_000);
      // Recovered without a restart: the fail-closed sidecar admits again, many times in a row.
      const mark = seen.closed.length;
      await until('fail-closed admits again (30 since the failover, the last 10 in a row)', () => seen.closed.slice(mark).filter((a) => a.status === 200).length >= 30 && seen.closed.slice(-10).every((a) => a.status === 200), { timeoutMs: 20_000 });
    } finally {
      stop = true;
      await Promise.all(running);
    }
    // Nothing but 200, and 503 with the budget-unavailable code, from fail-closed; only 200 from fail-open.
    expect(seen.closed.filter((a) => a.status !== 200 && !(a.status === 503 && a.code === 'LLM_SIDECAR_BUDGET_UNAVAILABLE'))).toEqual([]);
    expect(seen.open.filter((a) => a.status !== 200)).toEqual([]);
    const metrics = await (await fetch(`${open.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^llm_sidecar_budget_backend_errors_total\{outcome="admitted-unmetered"\} [1-9]/m);

    // Budgets are enforced again on the promoted primary, by both sidecars: 1,000 tokens a day,
    // 350 charged per call → the fourth call is refused.
    for (const [s, tenant] of [
      [closed, 'after-closed'],
      [open, 'after-open'],
    ] as const) {
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await call(s, tenant, 'bob', 'usage=300/50'));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    }
  }, 90_000);
});
