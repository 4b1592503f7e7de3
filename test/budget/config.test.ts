import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BudgetsSchema, budgetKeyPrefix, crossCheckBudgets, effectiveLimits } from '../../shared/config/budgets.ts';
import { toMicroUsd } from '../../proxy/budget/usd.ts';

function problems(input: unknown): string[] {
  const r = BudgetsSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const EXAMPLE = `
backend:
  type: redis
  url: redis://redis:6379
  keyPrefix: "{llm-budget}:"
  onUnavailable: fail-open
  timeoutMs: 50
identity:
  defaultTenant: default
  defaultUser: anonymous
  apiKeys:
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": { tenant: acme }
tiers:
  free: { userDailyTokens: 200000, userDailyUsd: "1.00", tenantMonthlyUsd: "50" }
  paid: { userDailyTokens: 2000000, userDailyUsd: 20, tenantMonthlyTokens: 500000000, tenantMonthlyUsd: "5000.00" }
tenants:
  acme: { tier: paid, tenantMonthlyUsd: "12000" }
  internal: { tier: paid, userDailyUsd: null }
defaultTier: free
perRequest:
  default: { maxInputTokens: 100000, maxOutputTokens: 4096, onInputOverLimit: reject }
  routes:
    chat: { maxInputTokens: 16000, onInputOverLimit: trim }
rateLimits:
  - { scope: user, requestsPerMinute: 60, tokensPerMinute: 200000 }
  - { scope: tenant, requestsPerMinute: 3000 }
  - { scope: route, tokensPerMinute: 2000000 }
alertAt: 0.8
`;

describe('BudgetsSchema', () => {
  it('parses the documented example', () => {
    const c = BudgetsSchema.parse(parseYaml(EXAMPLE));
    expect(c.backend).toEqual({ type: 'redis', url: 'redis://redis:6379', keyPrefix: '{llm-budget}:', onUnavailable: 'fail-open', timeoutMs: 50, reservationTtlSeconds: 900 });
    expect(c.tiers.paid?.userDailyUsd).toBe('20'); // numbers are normalised to decimal strings
    expect(effectiveLimits(c, 'acme')).toEqual({ tier: 'paid', userDailyTokens: 2_000_000, userDailyUsd: '20', tenantMonthlyTokens: 500_000_000, tenantMonthlyUsd: '12000' });
    expect(effectiveLimits(c, 'internal').userDailyUsd).toBeUndefined();
    expect(effectiveLimits(c, 'someone-else')).toEqual({ tier: 'free', userDailyTokens: 200_000, userDailyUsd: '1.00', tenantMonthlyUsd: '50' });
  });

  it('has defaults for everything: no budgets section means memory backend and no limits', () => {
    expect(BudgetsSchema.parse({})).toEqual({
      backend: { type: 'memory' },
      identity: { defaultTenant: 'default', defaultUser: 'anonymous', apiKeys: {} },
      tiers: {},
      tenants: {},
      perRequest: { routes: {}, default: {} },
      rateLimits: [],
      alertAt: 0.8,
    });
  });

  it('rejects negative limits with readable paths', () => {
    expect(
      problems({
        tiers: { free: { userDailyTokens: -1, tenantMonthlyUsd: -5, userDailyUsd: '-0.5' } },
        rateLimits: [{ scope: 'user', requestsPerMinute: -10 }],
        perRequest: { routes: { chat: { maxOutputTokens: -1 } } },
      }),
    ).toEqual([
      'tiers.free.userDailyTokens: a whole number of tokens ≥ 0 (0 blocks everything at this level; omit the key for no limit)',
      'tiers.free.userDailyUsd: a USD amount ≥ 0 with at most 6 decimals, as a decimal string ("12.50") or a number (12.5)',
      'tiers.free.tenantMonthlyUsd: must not be negative: a USD amount ≥ 0 with at most 6 decimals, as a decimal string ("12.50") or a number (12.5)',
      'perRequest.routes.chat.maxOutputTokens: maxOutputTokens: a whole number of tokens ≥ 1',
      'rateLimits.0.requestsPerMinute: requests per minute: a whole number ≥ 0',
    ]);
  });

  it('rejects a tenant on an unknown tier with its path, also when other parts are invalid', () => {
    expect(problems({ tiers: { free: {} }, tenants: { acme: { tier: 'gold' } }, defaultTier: 'paid' })).toEqual([
      'defaultTier: unknown tier "paid" (configured tiers: "free")',
      'tenants.acme.tier: unknown tier "gold" (configured tiers: "free")',
    ]);
    expect(problems({ tiers: { free: { userDailyTokens: -1 } }, tenants: { acme: { tier: 'gold' } } })).toEqual([
      'tiers.free.userDailyTokens: a whole number of tokens ≥ 0 (0 blocks everything at this level; omit the key for no limit)',
      'tenants.acme.tier: unknown tier "gold" (configured tiers: "free")',
    ]);
    // The loader's cross-check works on raw input with a path prefix.
    expect(crossCheckBudgets({ tenants: { acme: { tier: 'gold' } } }, ['budgets'])).toEqual([{ path: ['budgets', 'tenants', 'acme', 'tier'], message: 'unknown tier "gold" (configured tiers: none)' }]);
    expect(crossCheckBudgets('nonsense')).toEqual([]);
  });

  it('rejects USD with more than micro-dollar precision, bad backends, raw API keys (without echoing them)', () => {
    expect(problems({ tiers: { t: { userDailyUsd: '0.0000001' } } })[0]).toMatch(/^tiers\.t\.userDailyUsd: a USD amount/);
    expect(problems({ tiers: { t: { userDailyUsd: 1e-7 } } })[0]).toMatch(/^tiers\.t\.userDailyUsd: /);
    expect(problems({ backend: { type: 'redis', url: 'http://redis:6379' } })).toEqual([
      'backend.url: must be a redis:// or rediss:// URL, e.g. redis://redis:6379',
      'backend.onUnavailable: required: "fail-open" (admit requests, unmetered, while Redis is unreachable) or "fail-closed" (reject them)',
    ]);
    expect(problems({ backend: { type: 'etcd' } })).toEqual(['backend.type: backend.type is "memory" (one sidecar) or "redis" (shared by every replica)']);
    const p = problems({ identity: { apiKeys: { 'sk-live-secret-123': { tenant: 'acme' } } } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^identity\.apiKeys: entry 1 \(in file order\): API keys are listed by the lowercase hex sha256/);
    expect(p[0]).not.toContain('sk-live');
    expect(problems({ rateLimits: [{ scope: 'user' }], alertAt: 1.5, unknownKey: 1 }).sort()).toEqual([
      ': Unrecognized key: "unknownKey"',
      'alertAt: alertAt is a share of the budget: > 0 and ≤ 1',
      'rateLimits.0: a rate limit sets requestsPerMinute, tokensPerMinute or both',
    ]);
  });
});

describe('Redis backend topologies', () => {
  const base = { type: 'redis', onUnavailable: 'fail-closed' } as const;
  const problems = (backend: Record<string, unknown>): string[] => {
    const r = BudgetsSchema.safeParse({ backend });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes exactly one of url, cluster or sentinel', () => {
    expect(problems({ ...base, url: 'redis://r:6379' })).toEqual([]);
    expect(problems({ ...base, cluster: { nodes: ['redis://a:6379', 'redis://b:6379'] } })).toEqual([]);
    expect(problems({ ...base, sentinel: { name: 'mymaster', sentinels: ['s-0:26379', '[::1]:26379'] } })).toEqual([]);
    expect(problems({ ...base })[0]).toMatch(/exactly one of url .* got none/);
    expect(problems({ ...base, url: 'redis://r:6379', cluster: { nodes: ['redis://a:6379'] } })[0]).toMatch(/got url and cluster/);
    expect(problems({ ...base, sentinel: { name: 'm', sentinels: ['no-port'] } })[0]).toMatch(/host:port/);
    expect(problems({ ...base, cluster: { nodes: [] } })[0]).toMatch(/at least one node/);
  });

  it('on a cluster the key prefix carries a hash tag (one slot per script); the default has one', () => {
    const parsed = BudgetsSchema.parse({ backend: { ...base, cluster: { nodes: ['redis://a:6379'] } } });
    expect(parsed.backend).toMatchObject({ timeoutMs: 500, reservationTtlSeconds: 900 });
    expect(budgetKeyPrefix(parsed.backend as { cluster: unknown })).toBe('{llm-sidecar:budget}:');
    expect(budgetKeyPrefix({ keyPrefix: undefined })).toBe('llm-sidecar:budget:');
    expect(problems({ ...base, cluster: { nodes: ['redis://a:6379'] }, keyPrefix: 'budget:' })).toEqual([expect.stringMatching(/^backend.keyPrefix: .*hash tag.*"\{budget\}:"/)]);
    expect(problems({ ...base, cluster: { nodes: ['redis://a:6379'] }, keyPrefix: '{team-a}:budget:' })).toEqual([]);
  });
});

describe('toMicroUsd', () => {
  it('converts exactly and rounds up past the micro-dollar', () => {
    expect(toMicroUsd('12.5')).toBe(12_500_000);
    expect(toMicroUsd('0.000125')).toBe(125);
    expect(toMicroUsd('0.0000001')).toBe(1);
    expect(toMicroUsd('0.0000010000')).toBe(1);
    expect(toMicroUsd(0.3)).toBe(300_000);
    expect(toMicroUsd(0.1 + 0.2)).toBe(300_000); // float noise (0.30000000000000004) is not a spend
    expect(toMicroUsd(1e-7)).toBe(1);
    expect(toMicroUsd(-1)).toBe(0);
    expect(toMicroUsd('abc')).toBe(0);
    expect(toMicroUsd(undefined)).toBe(0);
  });
});
