// Budgets under a burst, end to end: two sidecars started cold at the same moment on one Redis (or
// one Redis Cluster), 200 concurrent requests split between them, a provider that reports three
// times more input than the sidecar estimated. What must hold (proxy/budget/README.md, "Worst
// case under a burst"):
//   - /readyz turns green only once Redis is connected and the budget scripts are loaded;
//   - no 503 while Redis is healthy, and no request admitted unmetered (fail-open or fail-closed);
//   - every admitted request is charged its actual usage, nothing else stays counted;
//   - admitted usage stays within the documented bound: n·R ≤ limit (every admission fitted),
//     so usage = n·A ≤ limit·A/R, and it is refused only when it could not fit (usage > limit − R).
import { randomUUID } from 'node:crypto';
import { Redis, Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';
import { redisClusterAvailability, startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';
import { redisAvailability, startRedis, type RedisHandle } from '../support/redis.ts';
import { until } from '../support/wait.ts';

const REDIS = redisAvailability();
const CLUSTER = redisClusterAvailability();
const topologies = [...(REDIS.available ? (['redis'] as const) : []), ...(CLUSTER.available ? (['redis-cluster'] as const) : [])];

const LIMIT = 20_000;
/** What the fake provider reports per call: 300 input (the sidecar estimates ~10) + 50 output. */
const ACTUAL = 350;

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

describe.skipIf(topologies.length === 0).each(topologies)('budgets under a burst into two cold sidecars on %s', (topology) => {
  let fake: FakeProvider;
  let single: RedisHandle | undefined;
  let cluster: RedisClusterHandle | undefined;
  let raw: Redis | Cluster;
  let connection: Record<string, unknown>;

  beforeAll(async () => {
    fake = await startFakeProvider();
    if (topology === 'redis') {
      single = await startRedis();
      connection = { url: single.url };
      raw = new Redis(single.url);
    } else {
      cluster = await startRedisCluster();
      connection = { cluster: { nodes: cluster.urls } };
      raw = new Cluster(cluster.urls.map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })));
    }
  }, 60_000);
  afterAll(async () => {
    raw?.disconnect();
    await fake?.close();
    await single?.stop();
    await cluster?.stop();
  });

  const sidecarConfig = (keyPrefix: string, onUnavailable: 'fail-open' | 'fail-closed'): ReturnType<typeof parseConfig> =>
    parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      telemetry: { clickhouse: { mode: 'off' } },
      providers: { openai: { type: 'openai', baseUrl: `${fake.url}/v1` } },
      // Default timeoutMs on purpose: the defaults must hold under a burst.
      budgets: { backend: { type: 'redis', ...connection, keyPrefix, onUnavailable }, tiers: { t: { userDailyTokens: LIMIT } }, defaultTier: 't' },
    });

  const call = (sidecar: RunningSidecar, user: string, fault: string): Promise<Response> =>
    fetch(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', 'x-llm-sidecar-tenant': 'acme', 'x-llm-sidecar-user': user, 'x-fake-fault': fault },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'Hello there, budget burst' }] }),
    });

  it.each(['fail-closed', 'fail-open'] as const)('%s: no 503, nothing unmetered, usage within the bound, every reservation settled', async (onUnavailable) => {
    const keyPrefix = `{burst-${randomUUID()}}:`;
    const key = (user: string): string => `${keyPrefix}ud.tok:acme/${user}:${today()}`;
    // Cold: both sidecars start at the same moment; readiness is waited on, as Kubernetes would.
    const sidecars = await Promise.all([startSidecar(sidecarConfig(keyPrefix, onUnavailable)), startSidecar(sidecarConfig(keyPrefix, onUnavailable))]);
    try {
      for (const s of sidecars) {
        await until('/readyz answers 200', async () => (await fetch(`${s.adminUrl}/readyz`)).status === 200);
        expect(s.proxy.ready).toBe(true);
      }
      // R, what one request reserves: read from Redis while a probe call is held by the provider.
      const probe = call(sidecars[0]!, 'probe', 'delay=500');
      const reserved = await until("the probe call's reservation is in Redis", async () => {
        const v = await raw.get(key('probe'));
        return v === null ? undefined : Number(v);
      });
      expect((await probe).status).toBe(200);
      expect(reserved).toBeGreaterThan(100); // max_tokens + an input estimate
      expect(reserved).toBeLessThan(ACTUAL); // the provider reports more than estimated

      const fault = `usage=300/50,delay=100`;
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => call(sidecars[i % 2]!, 'bob', fault)));
      const statuses = answers.map((r) => r.status);
      const codes = answers.map((r) => r.headers.get('x-llm-sidecar-error'));
      await Promise.all(answers.map((r) => r.arrayBuffer()));
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      expect(new Set(codes.filter((c) => c !== null))).toEqual(new Set(['LLM_SIDECAR_BUDGET_EXCEEDED']));
      const n = statuses.filter((s) => s === 200).length;
      // Every admitted call is charged its actual usage, and nothing else stays counted.
      const used = await until('every admitted call is charged its actual usage', async () => {
        const v = Number(await raw.get(key('bob')));
        return v === n * ACTUAL ? v : undefined;
      });
      // The documented bound: each admission fitted (n·R ≤ limit), so usage ≤ limit·A/R …
      expect(n * reserved).toBeLessThanOrEqual(LIMIT);
      expect(used).toBeLessThanOrEqual(Math.floor((LIMIT * ACTUAL) / reserved));
      // … and nothing was refused that could have fitted.
      expect(used).toBeGreaterThan(LIMIT - reserved);
      // Nothing admitted unmetered, no backend error of any kind.
      for (const s of sidecars) {
        const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
        expect(metrics.match(/^llm_sidecar_budget_backend_errors_total\{.*$/gm) ?? []).toEqual([]);
      }
      // No lease left unsettled: every reservation was committed or released.
      expect(await raw.hlen(`${keyPrefix}lease-data`)).toBe(0);
      expect(await raw.zcard(`${keyPrefix}leases`)).toBe(0);
    } finally {
      await Promise.all(sidecars.map((s) => s.close(1_000)));
    }
  }, 60_000);
});
