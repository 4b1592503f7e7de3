// The `budgets` section of the configuration file: who is who (identity), how much each may spend
// (tiers, tenants, per-request caps, rate limits) and where the shared counters live (backend).
//
// Units and conventions (also in proxy/budget/README.md):
// - Token limits are whole numbers ≥ 0. A limit of 0 blocks everything at that level; a key that
//   is absent means "no limit at that level".
// - USD limits are written as decimal strings ("12.50", exact) or as numbers (12.5); either way
//   at most 6 decimals (micro-dollar precision) and never negative. After parsing they are
//   normalised to decimal STRINGS, and the enforcer counts integer micro-dollars.
// - Windows: user budgets per calendar day in UTC, tenant budgets per calendar month in UTC, rate
//   limits per fixed UTC minute. Each resets exactly at its boundary.
// - A tenant takes its tier's limits (`tier`, else `defaultTier`, else none) and may override any
//   of them; an override of `null` removes that limit for the tenant.
import { z } from 'zod';

const TOKENS_HELP = 'a whole number of tokens ≥ 0 (0 blocks everything at this level; omit the key for no limit)';
const Tokens = z.number({ error: TOKENS_HELP }).int(TOKENS_HELP).min(0, TOKENS_HELP);

const USD_HELP = 'a USD amount ≥ 0 with at most 6 decimals, as a decimal string ("12.50") or a number (12.5)';
const USD_TEXT = /^\d+(\.\d{1,6})?$/;
/** Accepts a decimal string or a number; outputs the decimal string. */
const Usd = z.union([z.string(), z.number()], { error: USD_HELP }).transform((v, ctx) => {
  const text = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v.trim();
  if (!USD_TEXT.test(text)) {
    ctx.addIssue({ code: 'custom', message: typeof v === 'number' && v < 0 ? `must not be negative: ${USD_HELP}` : USD_HELP });
    return z.NEVER;
  }
  return text;
});

const PerMinute = (what: string): z.ZodNumber => z.number({ error: `${what} per minute: a whole number ≥ 0` }).int(`${what} per minute: a whole number ≥ 0`).min(0, `${what} per minute: a whole number ≥ 0`);
const PositiveTokens = (what: string): z.ZodNumber => z.number({ error: `${what}: a whole number of tokens ≥ 1` }).int(`${what}: a whole number of tokens ≥ 1`).min(1, `${what}: a whole number of tokens ≥ 1`);

const LIMIT_KEYS = ['userDailyTokens', 'userDailyUsd', 'tenantMonthlyTokens', 'tenantMonthlyUsd'] as const;

const TierSchema = z.strictObject({
  /** Tokens (input + output) one user of the tenant may use per UTC day. */
  userDailyTokens: Tokens.optional(),
  /** USD one user of the tenant may spend per UTC day. */
  userDailyUsd: Usd.optional(),
  /** Tokens the whole tenant may use per UTC calendar month. */
  tenantMonthlyTokens: Tokens.optional(),
  /** USD the whole tenant may spend per UTC calendar month. */
  tenantMonthlyUsd: Usd.optional(),
});

const TenantSchema = z.strictObject({
  /** The tier whose limits apply; absent → `defaultTier`. */
  tier: z.string().min(1).optional(),
  // Overrides of the tier's limits; null removes that limit for this tenant.
  userDailyTokens: Tokens.nullable().optional(),
  userDailyUsd: Usd.nullable().optional(),
  tenantMonthlyTokens: Tokens.nullable().optional(),
  tenantMonthlyUsd: Usd.nullable().optional(),
});

const MemoryBackendSchema = z.strictObject({ type: z.literal('memory') });

const REDIS_URL_HELP = 'must be a redis:// or rediss:// URL, e.g. redis://redis:6379';
const RedisUrl = z.url({ protocol: /^rediss?$/, error: REDIS_URL_HELP });
const HOST_PORT_HELP = 'a sentinel is "host:port", e.g. "sentinel-0.sentinel:26379"';
const HostPort = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, HOST_PORT_HELP);

/** Redis Cluster: seed nodes (any of its masters or replicas); the rest of the topology is discovered. */
export const RedisClusterSchema = z.strictObject({
  /** redis://[user:password@]host:port (rediss:// for TLS); the credentials of the first node apply to all. */
  nodes: z.array(RedisUrl).min(1, 'cluster.nodes lists at least one node (redis://host:port)'),
});

/** Redis Sentinel: the sentinels to ask, and the name of the master group they watch. */
export const RedisSentinelSchema = z.strictObject({
  /** The master group name (`sentinel monitor <name> …`). */
  name: z.string().min(1),
  sentinels: z.array(HostPort).min(1, 'sentinel.sentinels lists at least one "host:port"'),
  /** Credentials of the data nodes (use ${ENV} interpolation). */
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** Password of the sentinels themselves, when they require one. */
  sentinelPassword: z.string().min(1).optional(),
  db: z.number().int().min(0).default(0),
  tls: z.boolean().default(false),
});

/**
 * Where a Redis is: exactly one of `url` (one server), `cluster` (Redis Cluster) or `sentinel`
 * (a primary found through Sentinel). Spread into every schema that talks to Redis (budgets, the
 * shared cache) together with `checkRedisConnection`.
 */
export const RedisConnectionShape = {
  /** redis://[:password@]host:port[/db] or rediss:// (TLS). Use ${ENV} interpolation for the password. */
  url: RedisUrl.optional(),
  cluster: RedisClusterSchema.optional(),
  sentinel: RedisSentinelSchema.optional(),
};

export interface RedisConnectionConfig {
  url?: string | undefined;
  cluster?: z.infer<typeof RedisClusterSchema> | undefined;
  sentinel?: z.infer<typeof RedisSentinelSchema> | undefined;
}

/** Exactly one way to reach Redis. */
export function checkRedisConnection(v: RedisConnectionConfig, ctx: z.RefinementCtx): void {
  const given = (['url', 'cluster', 'sentinel'] as const).filter((k) => v[k] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({ code: 'custom', path: [], message: `give exactly one of url (one Redis), cluster (Redis Cluster) or sentinel (Redis Sentinel); got ${given.length === 0 ? 'none' : given.join(' and ')}` });
  }
}

/** A hash tag: the part of a key between the first `{` and the next `}`, when not empty. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** Budget keys when none is configured; on Redis Cluster one hash tag keeps every budget key in one slot. */
export const DEFAULT_BUDGET_KEY_PREFIX = 'llm-sidecar:budget:';
export const DEFAULT_CLUSTER_BUDGET_KEY_PREFIX = '{llm-sidecar:budget}:';

const RedisBackendSchema = z
  .strictObject({
    type: z.literal('redis'),
    ...RedisConnectionShape,
    /**
     * Prefix of every key. Default "llm-sidecar:budget:", on Redis Cluster "{llm-sidecar:budget}:":
     * a script's keys (every counter of one request, the alert keys and the reservation leases)
     * must share one hash slot, so on Cluster the prefix must carry a hash tag.
     */
    keyPrefix: z.string().min(1).regex(/^[^\s]+$/, 'keyPrefix has no spaces or control characters').optional(),
    /** No default on purpose: while Redis is unreachable, admit unmetered (`fail-open`) or reject with 503 (`fail-closed`)? */
    onUnavailable: z.enum(['fail-open', 'fail-closed'], {
      error: 'required: "fail-open" (admit requests, unmetered, while Redis is unreachable) or "fail-closed" (reject them)',
    }),
    /**
     * A Redis call slower than this counts as Redis being unavailable for that request. Default
     * 500 ms: a round trip is ~0.1–2 ms in one region, but the answer is read by a sidecar whose
     * event loop may be busy with a burst or a GC pause; too short a limit turns a healthy Redis
     * into 503s (fail-closed) or unmetered admissions (fail-open). 500 ms still bounds what a hung
     * Redis adds to an LLM call (seconds). See proxy/budget/README.md.
     */
    timeoutMs: z.number().int().positive().max(10_000).default(500),
    /**
     * How long a reservation is held when neither its commit nor its release reaches Redis (the
     * sidecar was killed, Redis was unreachable at the end of the call). After that the reservation
     * is given back; a late commit then charges the whole actual usage. Longer than your longest call.
     */
    reservationTtlSeconds: z.number().int().min(10).max(86_400).default(900),
  })
  .superRefine((b, ctx) => {
    checkRedisConnection(b, ctx);
    if (b.cluster !== undefined && b.keyPrefix !== undefined && hashTagOf(b.keyPrefix) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['keyPrefix'], message: `on Redis Cluster the keyPrefix needs a hash tag so that one script's keys share a slot, e.g. "{${b.keyPrefix.replace(/[:{}]+$/, '')}}:"` });
    }
  });

/** The key prefix of a Redis budget backend after defaults. */
export function budgetKeyPrefix(b: { keyPrefix?: string | undefined; cluster?: unknown }): string {
  return b.keyPrefix ?? (b.cluster !== undefined ? DEFAULT_CLUSTER_BUDGET_KEY_PREFIX : DEFAULT_BUDGET_KEY_PREFIX);
}

const BackendSchema = z.discriminatedUnion('type', [MemoryBackendSchema, RedisBackendSchema], {
  error: 'backend.type is "memory" (one sidecar) or "redis" (shared by every replica)',
});

const SHA256 = /^[0-9a-fA-F]{64}$/;
const SHA256_HELP = 'API keys are listed by the lowercase hex sha256 of the key (`printf %s "$KEY" | sha256sum`), never the key itself';

const IdentitySchema = z.strictObject({
  defaultTenant: z.string().min(1).default('default'),
  defaultUser: z.string().min(1).default('anonymous'),
  /** sha256(API key) in hex → tenant. The key is read from `authorization: Bearer …`, `x-api-key` or `api-key`. */
  apiKeys: z
    .record(z.string(), z.strictObject({ tenant: z.string().min(1) }))
    .superRefine((keys, ctx) => {
      // The offending key is not echoed: it may be a real API key pasted by mistake.
      Object.keys(keys).forEach((hash, i) => {
        if (!SHA256.test(hash)) ctx.addIssue({ code: 'custom', path: [], message: `entry ${i + 1} (in file order): ${SHA256_HELP}` });
      });
    })
    .default({}),
});

const RequestLimitsSchema = z.strictObject({
  /** Largest estimated input (system prompt, tools and conversation). */
  maxInputTokens: PositiveTokens('maxInputTokens').optional(),
  /** Cap on the answer: max_tokens / max_completion_tokens / max_output_tokens are lowered to it, and set to it when absent. */
  maxOutputTokens: PositiveTokens('maxOutputTokens').optional(),
  /** Over maxInputTokens: reject (400), or drop the oldest turns until it fits (system prompt and tool pairs kept). Default reject. */
  onInputOverLimit: z.enum(['reject', 'trim']).optional(),
});

const PerRequestSchema = z.strictObject({
  /** Per route name (as in `routes`, or `default`); each field overrides the same field of `default`. */
  routes: z.record(z.string().min(1), RequestLimitsSchema).default({}),
  default: RequestLimitsSchema.default({}),
});

const RateLimitSchema = z
  .strictObject({
    /** Each user (of a tenant), each tenant, or each route gets this allowance. */
    scope: z.enum(['user', 'tenant', 'route'], { error: 'scope is "user", "tenant" or "route"' }),
    requestsPerMinute: PerMinute('requests').optional(),
    /** Estimated input + max output at admission, trued up to the actual usage. */
    tokensPerMinute: PerMinute('tokens').optional(),
  })
  .refine((r) => r.requestsPerMinute !== undefined || r.tokensPerMinute !== undefined, 'a rate limit sets requestsPerMinute, tokensPerMinute or both');

const tierName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'tier names use letters, digits, _ . -');

export interface BudgetConfigProblem {
  path: (string | number)[];
  message: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Cross-references a schema cannot express: a tenant's `tier` and `defaultTier` must name a
 * configured tier. Works on the raw (unparsed) `budgets` value too, so the configuration loader
 * can report these problems even when other parts of the file failed; paths start at `basePath`
 * (pass `['budgets']` from the loader's crossCheck). The schema runs the same check.
 */
export function crossCheckBudgets(rawBudgets: unknown, basePath: (string | number)[] = []): BudgetConfigProblem[] {
  const problems: BudgetConfigProblem[] = [];
  if (!isRecord(rawBudgets)) return problems;
  const tiers = isRecord(rawBudgets.tiers) ? Object.keys(rawBudgets.tiers) : [];
  const known = tiers.length > 0 ? tiers.map((t) => `"${t}"`).join(', ') : 'none';
  const { defaultTier, tenants } = rawBudgets;
  if (typeof defaultTier === 'string' && !tiers.includes(defaultTier)) {
    problems.push({ path: [...basePath, 'defaultTier'], message: `unknown tier "${defaultTier}" (configured tiers: ${known})` });
  }
  if (isRecord(tenants)) {
    for (const [name, tenant] of Object.entries(tenants)) {
      const tier = isRecord(tenant) ? tenant.tier : undefined;
      if (typeof tier === 'string' && !tiers.includes(tier)) {
        problems.push({ path: [...basePath, 'tenants', name, 'tier'], message: `unknown tier "${tier}" (configured tiers: ${known})` });
      }
    }
  }
  return problems;
}

export const BudgetsSchema = z
  .strictObject({
    /** Where the counters live: `memory` (this sidecar only) or `redis` (one set of limits for every replica). */
    backend: BackendSchema.default({ type: 'memory' }),
    identity: IdentitySchema.default(() => IdentitySchema.parse({})),
    tiers: z.record(tierName, TierSchema).default({}),
    tenants: z.record(z.string().min(1), TenantSchema).default({}),
    /** Tier of tenants that name none (and of unlisted tenants); absent → such tenants have no tier limits. */
    defaultTier: z.string().min(1).optional(),
    perRequest: PerRequestSchema.default(() => PerRequestSchema.parse({})),
    rateLimits: z.array(RateLimitSchema).default([]),
    /** Share of a budget (user-day, tenant-month) at which the alert callback fires, once per window and key. */
    alertAt: z.number().gt(0, 'alertAt is a share of the budget: > 0 and ≤ 1').max(1, 'alertAt is a share of the budget: > 0 and ≤ 1').default(0.8),
  })
  .superRefine(
    (budgets, ctx) => {
      for (const p of crossCheckBudgets(budgets)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    },
    // Also when other parts failed, so one pass reports every problem (the check reads defensively).
    { when: () => true },
  );

export type BudgetsConfig = z.infer<typeof BudgetsSchema>;
/** The schema's input (what a YAML file or a test may write). */
export type BudgetsConfigInput = z.input<typeof BudgetsSchema>;
export type BudgetBackendConfig = BudgetsConfig['backend'];
export type RedisBackendConfig = z.infer<typeof RedisBackendSchema>;
export type IdentityConfig = BudgetsConfig['identity'];
export type TierLimits = z.infer<typeof TierSchema>;
export type TenantConfig = z.infer<typeof TenantSchema>;
export type PerRequestConfig = BudgetsConfig['perRequest'];
export type RequestLimitsConfig = z.infer<typeof RequestLimitsSchema>;
export type RateLimitConfig = z.infer<typeof RateLimitSchema>;

/** The four budget limits of one tenant after tier and overrides: tokens as numbers, USD as decimal strings. */
export interface EffectiveLimits {
  tier: string | undefined;
  userDailyTokens?: number;
  userDailyUsd?: string;
  tenantMonthlyTokens?: number;
  tenantMonthlyUsd?: string;
}

/** The limits that apply to `tenant`: its tier's (or the default tier's), then its own overrides. */
export function effectiveLimits(config: BudgetsConfig, tenant: string): EffectiveLimits {
  const own = Object.hasOwn(config.tenants, tenant) ? config.tenants[tenant] : undefined;
  const tierName = own?.tier ?? config.defaultTier;
  const tier = tierName !== undefined && Object.hasOwn(config.tiers, tierName) ? config.tiers[tierName] : undefined;
  const out: EffectiveLimits = { tier: tierName };
  for (const key of LIMIT_KEYS) {
    const override = own?.[key];
    const value = override === null ? undefined : (override ?? tier?.[key]);
    if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}
