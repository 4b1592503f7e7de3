// The configuration file's schema (one YAML file, validated at start). Every section is strict:
// an unknown key is a typo until proven otherwise, and it stops the start with its path.
import { z } from 'zod';
import { PriceEntrySchema } from '../pricing/price-table.ts';

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
});

const AdminSchema = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(4001),
});

const ProviderTimeoutsSchema = z.strictObject({
  connectMs: z.number().int().positive().default(10_000),
  /** Time until the provider's response headers (for streams: roughly the first token). */
  headersMs: z.number().int().positive().default(600_000),
  /** Longest silence between two body chunks. */
  idleMs: z.number().int().positive().default(300_000),
});

const ProviderSchema = z.strictObject({
  type: z.enum(['openai', 'anthropic']),
  /** As the provider's own SDK takes it: `https://api.openai.com/v1`, `https://api.anthropic.com`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** When set, injected on every request and the app's own key is dropped. */
  apiKey: z.string().min(1).optional(),
  /** Keep-alive connections per provider origin. */
  connections: z.number().int().positive().max(4096).default(256),
  timeouts: ProviderTimeoutsSchema.default(() => ProviderTimeoutsSchema.parse({})),
});

const RouteTargetSchema = z.strictObject({
  provider: z.string().min(1),
  /** Model sent to the provider; omitted → the requested model is kept. */
  model: z.string().min(1).optional(),
});

const RouteSchema = z.strictObject({
  /** Requested model names or aliases that select this route; `*` matches any run of characters. */
  models: z.array(z.string().min(1)).default([]),
  targets: z.array(RouteTargetSchema).min(1, 'a route needs at least one target'),
});

const PricingSchema = z.strictObject({
  /** Entries that replace or add to the shipped price table (prices in USD per million tokens, as decimal strings). */
  models: z.array(PriceEntrySchema).default([]),
});

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
  })
  .transform((c) => ({ ...c, mode: c.mode ?? (c.url ? ('server' as const) : ('embedded' as const)) }))
  .refine((c) => c.mode !== 'server' || c.url !== undefined, { message: 'mode "server" needs a url', path: ['url'] });

const SpoolSchema = z.strictObject({
  /** Where spans wait on disk while ClickHouse is unreachable; replayed in order, also after a restart. */
  dir: z.string().min(1).default('./.llm-sidecar/spool'),
  maxBytes: z.number().int().positive().default(256 * 1024 * 1024),
});

const OtlpSchema = z.strictObject({
  /** OTLP/HTTP traces endpoint of a collector, e.g. http://otel-collector:4318/v1/traces. */
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  headers: z.record(z.string(), z.string()).default({}),
});

const TelemetrySchema = z.strictObject({
  /** `service.name` of the app this sidecar serves; env OTEL_SERVICE_NAME wins. */
  serviceName: z.string().min(1).default('llm-app'),
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
    });
  }
  return problems;
}

export type Config = z.infer<typeof ConfigSchema>;
export type ProviderConfig = z.infer<typeof ProviderSchema>;
export type RouteConfig = z.infer<typeof RouteSchema>;
export type RouteTarget = z.infer<typeof RouteTargetSchema>;
export type EvaluationConfig = z.infer<typeof EvaluationSchema>;
export type TelemetryConfig = z.infer<typeof TelemetrySchema>;
export type ClickHouseConfig = z.infer<typeof ClickHouseSchema>;
