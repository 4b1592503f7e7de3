// The configuration file's schema (one YAML file, validated at start). Every section is strict:
// an unknown key is a typo until proven otherwise, and it stops the start with its path.
import { z } from 'zod';
import { PriceEntrySchema } from '../pricing/price-table.ts';
import { BudgetsSchema, checkRedisConnection, RedisConnectionShape } from './budgets.ts';
import { credentialProblems } from './credentials.ts';
import { EvaluatorsSchema } from './evaluators-schema.ts';

const port = z.number().int().min(0).max(65_535);

const ListenSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(4000),
  /** Largest request body accepted on the LLM endpoints; larger → 413. */
  maxBodyBytes: z.number().int().positive().default(32 * 1024 * 1024),
  /**
   * Non-streaming JSON answers up to this size are held until complete so that the cost and
   * overhead headers can be set; larger ones are streamed through and carry them as trailers.
   */
  maxBufferedResponseBytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** Time for a client to send its request headers; slower → Node's 408 and the connection closed. */
  headersTimeoutMs: z.number().int().positive().default(10_000),
  /**
   * Time for the whole request body once the headers are in; slower (a body trickled to hold a
   * connection) → 408 LLM_SIDECAR_REQUEST_TIMEOUT and the connection closed. The app is in the same
   * pod, so a 32 MiB body takes milliseconds; 30 s leaves room for a busy node.
   */
  bodyTimeoutMs: z.number().int().positive().default(30_000),
});

/**
 * `GET /metrics` labels. Route, provider and model values come from the config and the price
 * table (anything else is `other`), so no client can grow the series count. Tenant and user ids
 * are identities and a cardinality risk: off by default; switched on, they label the
 * `llm_sidecar_identity_*` families (never the per-model ones) for the first `maxIdentities`
 * identities seen; later ones count under tenant="other", user="other".
 */
const AdminMetricsSchema = z.strictObject({
  tenantLabel: z.boolean().default(false),
  userLabel: z.boolean().default(false),
  // At most 500: rendering the largest identity family is the longest hold of a scrape, and at 500
  // it stays well under the 5 ms goal (p90 1.7 ms on a quiet host; 1,000 reached 4.9–6.3 ms).
  maxIdentities: z.number().int().positive().max(500).default(200),
});

export type AdminMetricsConfig = z.infer<typeof AdminMetricsSchema>;

/** `admin.metrics` with its defaults applied. */
export function adminMetrics(admin: { metrics?: AdminMetricsConfig }): AdminMetricsConfig {
  return admin.metrics ?? AdminMetricsSchema.parse({});
}

const AdminSchema = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(4001),
  /** Optional (not defaulted) so configs built in code need not spell it out; read through `adminMetrics()`. */
  metrics: AdminMetricsSchema.optional(),
});

const ProviderTimeoutsSchema = z.strictObject({
  connectMs: z.number().int().positive().default(10_000),
  /** Time until the provider's response headers (for streams: roughly the first token). */
  headersMs: z.number().int().positive().default(600_000),
  /**
   * Longest silence after the response headers and between two chunks of the body, streams and
   * JSON alike (a route or target may set its own). Timed with a native timer, to the millisecond.
   */
  idleMs: z.number().int().positive().default(300_000),
});

const ProviderSchema = z.strictObject({
  type: z.enum(['openai', 'anthropic']),
  /** As the provider's own SDK takes it: `https://api.openai.com/v1`, `https://api.anthropic.com`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /**
   * When set, injected on every request and the app's own key is dropped. Surrounding whitespace is
   * trimmed (a key read from a Secret file often ends in a newline, which would make every call
   * fail inside the HTTP client); a key with a space or control character inside is refused at load.
   */
  apiKey: z
    .string()
    .trim()
    .min(1)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces or control characters')
    .optional(),
  /** Keep-alive connections per provider origin. */
  connections: z.number().int().positive().max(4096).default(256),
  timeouts: ProviderTimeoutsSchema.default(() => ProviderTimeoutsSchema.parse({})),
  /**
   * OpenAI-shaped chat streams: what proves an answer complete. `done` (OpenAI's protocol, the
   * default): a finish chunk and `data: [DONE]`. `finish`: a finish chunk is enough, for
   * OpenAI-compatible servers that never send `[DONE]`. A stream without it is a cut stream.
   */
  streamEnd: z.enum(['done', 'finish']).optional(),
});

const AttemptTimeoutsSchema = z.strictObject({
  /**
   * Until the response headers (JSON) or the first content of a stream (a role-only chunk, a
   * message_start or a ping is not content), on every attempt: before anything reached the app the
   * next attempt or target follows; on a stream already committed (the last attempt commits at its
   * headers) it ends with an error event.
   */
  firstTokenMs: z.number().int().positive().optional(),
  /** Whole attempt, first byte to last. */
  totalMs: z.number().int().positive().optional(),
  /** Longest silence between two chunks of an answer; overrides the provider's (a target's wins over its route's). */
  idleMs: z.number().int().positive().optional(),
});

const RouteTargetSchema = z
  .strictObject({
    /** A provider, or `route` to splice in another route's targets (nested fallback chains). */
    provider: z.string().min(1).optional(),
    route: z.string().min(1).optional(),
    /** Model sent to the provider; omitted → the requested model is kept. */
    model: z.string().min(1).optional(),
    weight: z.number().positive('weights must be > 0').default(1),
    timeouts: AttemptTimeoutsSchema.optional(),
  })
  .refine((t) => (t.provider === undefined) !== (t.route === undefined), 'a target names exactly one of provider or route');

const RetrySchema = z.strictObject({
  /** Retries per target (0 = none); then the next target of the chain. */
  maxRetries: z.number().int().min(0).max(10).default(2),
  on: z.array(z.enum(['connect', 'timeout', '429', '5xx'])).default(['connect', 'timeout', '429', '5xx']),
  baseMs: z.number().int().positive().default(200),
  maxMs: z.number().int().positive().default(5_000),
  /** Cap on a provider's Retry-After; longer → move on to the next target instead of waiting. */
  maxRetryAfterMs: z.number().int().min(0).default(10_000),
  /** Retries may add at most this share of a target's requests over 10 s. */
  budgetRatio: z.number().min(0).max(1).default(0.2),
});

const BreakerSchema = z.strictObject({
  failureRatio: z.number().min(0).max(1).default(0.5),
  windowMs: z.number().int().positive().default(30_000),
  minRequests: z.number().int().positive().default(10),
  cooldownMs: z.number().int().positive().default(30_000),
});

const CascadeSchema = z.strictObject({
  /** Checks on a cheaper target's answer; a failure escalates to the next target. */
  validators: z.array(z.enum(['json', 'schema', 'length', 'empty', 'refusal'])).default(['json', 'schema', 'length', 'empty', 'refusal']),
  refusalPatterns: z.array(z.string()).default(["^\\s*(I'm sorry|I am sorry|I can(no|')t|I'm unable|I am unable)"]),
  /** Streams can only escalate before their first content byte is sent; `off` disables it for streams. */
  streams: z.enum(['before-first-byte', 'off']).default('before-first-byte'),
});

const MatchSchema = z.strictObject({
  models: z.array(z.string().min(1)).optional(),
  features: z.array(z.string().min(1)).optional(),
  tenants: z.array(z.string().min(1)).optional(),
  minInputTokens: z.number().int().min(0).optional(),
  maxInputTokens: z.number().int().positive().optional(),
  hasTools: z.boolean().optional(),
  hasImages: z.boolean().optional(),
});

const RouteCacheSchema = z.strictObject({
  /** `off`, `deterministic` (temperature 0, a seed, or top_k 1), or `all` requests. */
  mode: z.enum(['off', 'deterministic', 'all']).optional(),
  ttlSeconds: z.number().int().positive().optional(),
  /** Share entries across every API key of a tenant (never across tenants). */
  shared: z.boolean().optional(),
  /** Overrides cache.coalesce for this route. */
  coalesce: z.boolean().optional(),
  /**
   * Semantic cache for this route (opt-in): same context (system prompt, earlier turns, tools,
   * model), last user turn similar above the threshold, and the guard (proxy/cache/guard.ts: no
   * negation, number, unit, time, name, modality, tense or question word may differ, no content
   * word be added, dropped or replaced; attribution clauses such as "X said" are set aside). The
   * threshold only limits recall; precision comes from the guard. 0.75 (USE_DEFAULT_THRESHOLD) is
   * measured for the default embedder (figures in proxy/cache/README.md).
   */
  semantic: z.strictObject({ enabled: z.boolean().default(false), threshold: z.number().min(0).max(1).default(0.75) }).optional(),
});

const RouteSchema = z.strictObject({
  /** Requested model names or aliases that select this route; `*` matches any run of characters. */
  models: z.array(z.string().min(1)).default([]),
  /** Rules on the request; the first route (in file order) whose rules all hold is chosen. */
  match: MatchSchema.optional(),
  strategy: z.enum(['fallback', 'weighted', 'cost', 'latency', 'cascade']).default('fallback'),
  targets: z.array(RouteTargetSchema).min(1, 'a route needs at least one target'),
  timeouts: AttemptTimeoutsSchema.default({}),
  retry: RetrySchema.default(() => RetrySchema.parse({})),
  breaker: BreakerSchema.default(() => BreakerSchema.parse({})),
  cascade: CascadeSchema.default(() => CascadeSchema.parse({})),
  cache: RouteCacheSchema.optional(),
});

const PricingSchema = z.strictObject({
  /** Entries that replace or add to the shipped price table (prices in USD per million tokens, as decimal strings). */
  models: z.array(PriceEntrySchema).default([]),
  /** Price models that neither these entries nor the shipped prices.json list from the bundled genai-prices table. */
  genaiPrices: z.boolean().default(true),
});

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

const ClickHouseServeSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8123),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
  })
  .refine((s) => (s.username === undefined) === (s.password === undefined), { message: 'give both username and password, or neither (loopback only)', path: ['password'] })
  .refine((s) => LOOPBACK_HOSTS.has(s.host) || (s.username !== undefined && s.password !== undefined), {
    message: 'off loopback the endpoint needs username and password (it serves every stored prompt and answer)',
    path: ['host'],
  });

const ClickHouseClusterSchema = z
  .strictObject({
    /** The cluster's name in the servers' remote_servers (`ON CLUSTER <name>`), as the collector exporter's cluster_name. */
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier'),
    /** `replicated` (Replicated*MergeTree, self-managed), `shared` (Shared*MergeTree), `default` (engines as written: ClickHouse Cloud converts them). */
    engine: z.enum(['replicated', 'shared', 'default']).default('replicated'),
    /** Distributed tables under the plain names over <table>_local; default: with `replicated` only (a sharded cluster). */
    distributed: z.boolean().optional(),
    replicationPath: z.string().min(1).default('/clickhouse/tables/{shard}/{database}/{table}'),
    replicaName: z.string().min(1).default('{replica}'),
  })
  .transform((c) => ({ ...c, distributed: c.distributed ?? c.engine === 'replicated' }));

const ClickHouseSchema = z
  .strictObject({
    /** `embedded` (chdb in-process, the default without a url), `server` (HTTP), or `off`. */
    mode: z.enum(['embedded', 'server', 'off']).optional(),
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://clickhouse:8123' }).optional(),
    username: z.string().default('default'),
    password: z.string().default(''),
    database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier').default('otel'),
    /** Embedded store's data directory (one process per directory). */
    dataDir: z.string().min(1).default('./.llm-sidecar/clickhouse'),
    /** Apply the schema migrations at start. */
    migrate: z.boolean().default(true),
    /** Days rows are kept; message content is kept for contentTtlDays only. */
    ttlDays: z.number().int().positive().default(30),
    contentTtlDays: z.number().int().positive().default(7),
    /**
     * Opt-in read-only ClickHouse HTTP endpoint over the embedded store, for Grafana's ClickHouse
     * datasource (SELECT only, readonly settings). Loopback by default; credentials required off it.
     */
    serve: ClickHouseServeSchema.optional(),
    /** A ClickHouse cluster (server mode): DDL ON CLUSTER, replicated/shared engines, Distributed tables (shared/clickhouse/cluster-ddl.ts). */
    cluster: ClickHouseClusterSchema.optional(),
  })
  .transform((c) => ({ ...c, mode: c.mode ?? (c.url ? ('server' as const) : ('embedded' as const)) }))
  .refine((c) => c.mode !== 'server' || c.url !== undefined, { message: 'mode "server" needs a url', path: ['url'] })
  .refine((c) => c.cluster === undefined || c.mode === 'server', { message: 'a cluster needs mode "server" (a url)', path: ['cluster'] })
  .refine((c) => c.serve === undefined || c.mode === 'embedded', {
    message: 'serve exposes the embedded store; with a ClickHouse server (or mode off) point Grafana at the server instead',
    path: ['serve'],
  });

const SpoolSchema = z.strictObject({
  /** Where spans wait on disk while ClickHouse is unreachable; replayed in order, also after a restart. */
  dir: z.string().min(1).default('./.llm-sidecar/spool'),
  maxBytes: z.number().int().positive().default(256 * 1024 * 1024),
});

const OtlpSchema = z.strictObject({
  /**
   * OTLP/HTTP traces endpoint of a collector, e.g. http://otel-collector:4318/v1/traces. The OTEL_*
   * environment (OTEL_EXPORTER_OTLP_ENDPOINT, …_TRACES_ENDPOINT, headers, protocol, timeout,
   * compression) wins over these when set: see shared/telemetry/otel-env.ts.
   */
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /** `http/protobuf` (the OpenTelemetry default) or `http/json`. */
  protocol: z.enum(['http/protobuf', 'http/json']).optional(),
  timeoutMs: z.number().int().positive().optional(),
  compression: z.enum(['gzip', 'none']).optional(),
});

const CacheSchema = z.strictObject({
  /** Default for routes that set none; `off` unless configured (a cache changes what apps receive). */
  mode: z.enum(['off', 'deterministic', 'all']).default('off'),
  ttlSeconds: z.number().int().positive().default(3600),
  /** How long past its TTL an entry may still be served when every target failed (stale fallback); 0 = never. */
  staleMaxSeconds: z.number().int().min(0).default(86_400),
  /**
   * Single flight: a non-streaming request that misses while an identical one (same cache key) is
   * already on its way to the provider waits for that answer and is served from the cache, instead
   * of paying for the same answer again. Per sidecar process. Streams never wait (they would lose
   * their first token to the other request's whole generation).
   */
  coalesce: z.boolean().default(true),
  /** Embeddings for the semantic cache: the offline Universal Sentence Encoder lite, or any OpenAI-compatible endpoint. */
  embedder: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('use') }),
      z.strictObject({ type: z.literal('openai'), baseUrl: z.url({ protocol: /^https?$/ }), model: z.string().min(1), apiKey: z.string().optional() }),
    ])
    .default({ type: 'use' }),
  /** `memory` (LRU bounded by bytes, this sidecar) or `redis` (shared by every sidecar). */
  store: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('memory'), maxBytes: z.number().int().positive().default(64 * 1024 * 1024) }),
      // One server (url), Redis Cluster (cluster.nodes) or Sentinel (sentinel): exactly one.
      z
        .strictObject({
          type: z.literal('redis'),
          ...RedisConnectionShape,
          /** Per-command limit (ms); a slower Redis is a miss. Default 250 (see proxy/cache/README.md). */
          commandTimeoutMs: z.number().int().positive().max(10_000).optional(),
        })
        .superRefine(checkRedisConnection),
    ])
    .default({ type: 'memory', maxBytes: 64 * 1024 * 1024 }),
});

const TelemetrySchema = z.strictObject({
  /** `service.name` of the app this sidecar serves; env OTEL_SERVICE_NAME wins. */
  serviceName: z.string().min(1).default('llm-app'),
  /** Log level of the JSON logs on stderr (shared/log.ts); env LOG_LEVEL wins. */
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  clickhouse: ClickHouseSchema.default(() => ClickHouseSchema.parse({})),
  spool: SpoolSchema.default(() => SpoolSchema.parse({})),
  otlp: OtlpSchema.optional(),
});

const regex = z.string().refine((p) => {
  try {
    new RegExp(p, 'g');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

const EvaluationSchema = z.strictObject({
  /**
   * The evaluator service's judges and checks (shared/config/evaluators-schema.ts). Absent: no
   * evaluator runs in the proxy's process, and `llm-sidecar evaluator` idles.
   */
  evaluators: EvaluatorsSchema.optional(),
  /** Share of calls (0–1) whose content is captured for the evaluator, decided from the trace id. */
  sampleRate: z.number().min(0).max(1).default(0),
  /** Per-route overrides of sampleRate. */
  routes: z.record(z.string(), z.number().min(0).max(1)).default({}),
  /** Capture prompt and answer content on sampled calls (off: only the sampled flag is recorded). */
  captureContent: z.boolean().default(true),
  redaction: z
    .strictObject({
      /** API keys and tokens, e-mail addresses, phone numbers, payment card numbers. */
      defaults: z.boolean().default(true),
      /** Extra regular expressions; matches are replaced by [REDACTED:custom_N]. */
      patterns: z.array(regex).default([]),
    })
    .default({ defaults: true, patterns: [] }),
});

export const ConfigSchema = z
  .strictObject({
    listen: ListenSchema.default(() => ListenSchema.parse({})),
    admin: AdminSchema.default(() => AdminSchema.parse({})),
    providers: z.record(z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'provider names use letters, digits, _ . -'), ProviderSchema).default({}),
    routes: z.record(z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'route names use letters, digits, _ . -'), RouteSchema).default({}),
    pricing: PricingSchema.default(() => PricingSchema.parse({})),
    telemetry: TelemetrySchema.default(() => TelemetrySchema.parse({})),
    evaluation: EvaluationSchema.default(() => EvaluationSchema.parse({})),
    cache: CacheSchema.default(() => CacheSchema.parse({})),
    /** Budgets, rate limits and per-request limits; absent → none are enforced. */
    budgets: BudgetsSchema.optional(),
  });

/**
 * Cross-references that a schema cannot express (a route's provider must exist). Runs on the raw
 * input even when other parts failed, so one pass reports every problem.
 */
export function crossCheck(raw: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (raw === null || typeof raw !== 'object') return problems;
  const { providers, routes } = raw as { providers?: unknown; routes?: unknown };
  const names = providers !== null && typeof providers === 'object' ? Object.keys(providers) : [];
  if (routes === null || typeof routes !== 'object') return problems;
  for (const [name, route] of Object.entries(routes)) {
    const targets = (route as { targets?: unknown } | null)?.targets;
    if (!Array.isArray(targets)) continue;
    targets.forEach((target: unknown, i) => {
      const provider = (target as { provider?: unknown } | null)?.provider;
      if (typeof provider === 'string' && !names.includes(provider)) {
        problems.push({ path: ['routes', name, 'targets', i, 'provider'], message: `unknown provider "${provider}" (configured: ${names.join(', ') || 'none'})` });
      }
      const ref = (target as { route?: unknown } | null)?.route;
      if (typeof ref === 'string' && !(ref in routes)) problems.push({ path: ['routes', name, 'targets', i, 'route'], message: `unknown route "${ref}"` });
    });
  }
  problems.push(...credentialProblems(providers, routes));
  // Routes that splice in other routes must not loop.
  const refs = (r: string): string[] => {
    const t = (routes as Record<string, { targets?: unknown } | null>)[r]?.targets;
    return Array.isArray(t) ? t.map((x: unknown) => (x as { route?: unknown } | null)?.route).filter((x): x is string => typeof x === 'string') : [];
  };
  for (const start of Object.keys(routes)) {
    const stack: string[][] = [[start]];
    while (stack.length > 0) {
      const path = stack.pop() as string[];
      for (const next of refs(path[path.length - 1] as string)) {
        if (next === start) {
          problems.push({ path: ['routes', start, 'targets'], message: `route cycle: ${[...path, next].join(' → ')}` });
          stack.length = 0;
          break;
        }
        if (!path.includes(next)) stack.push([...path, next]);
      }
    }
  }
  return problems;
}

export type Config = z.infer<typeof ConfigSchema>;
export type ProviderConfig = z.infer<typeof ProviderSchema>;
export type RouteConfig = z.infer<typeof RouteSchema>;
export type RouteTarget = z.infer<typeof RouteTargetSchema>;
export type RetryConfig = z.infer<typeof RetrySchema>;
export type AttemptTimeouts = z.infer<typeof AttemptTimeoutsSchema>;
export type EvaluationConfig = z.infer<typeof EvaluationSchema>;
export type TelemetryConfig = z.infer<typeof TelemetrySchema>;
export type ClickHouseConfig = z.infer<typeof ClickHouseSchema>;
export type CacheConfig = z.infer<typeof CacheSchema>;
