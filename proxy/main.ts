// Assembles a running sidecar from a validated config: price table, metrics, proxy and admin
// listeners. `startSidecar` is what the CLI, the demo and the tests all use.
import { logger, setLogLevel } from '../shared/log.ts';
import type { AddressInfo } from 'node:net';
import type { Config } from '../shared/config/schema.ts';
import { loadPriceTable } from '../shared/pricing/price-table.ts';
import { totalCostUsd } from '../shared/pricing/cost.ts';
import { AdminServer } from '../shared/admin-server.ts';
import { CompositeRecorder, type CallRecorder } from './call-record.ts';
import { ProxyMetrics } from './metrics.ts';
import { cachingConfigured, ProxyServer } from './server.ts';
import { FeedbackEndpoint } from './feedback-endpoint.ts';
import { translation, type CrossTranslation } from './translate/index.ts';
import { loadTokenizer } from './token-estimate.ts';
import { createBudgetEnforcer, IdentityResolver } from './budget/index.ts';
import type { CacheStore } from './cache/store.ts';
import { MemoryStore } from './cache/memory-store.ts';
import { RedisStore } from './cache/redis-store.ts';
import { recordBudgetAlert } from './telemetry/span-recorder.ts';
import type { ApiDialect } from '../shared/errors.ts';
import { Redactor } from '../shared/telemetry/redact.ts';
import { SpanRecorder } from './telemetry/span-recorder.ts';
import { createTracing } from '../shared/telemetry/tracing.ts';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setupTelemetryExport, type TelemetryExport } from './telemetry/storage.ts';
import { startClickHouseServe, type ClickHouseServe } from '../shared/clickhouse-serve.ts';

export interface RunningSidecar {
  telemetry: TelemetryExport;
  /** The read-only ClickHouse HTTP endpoint over the embedded store (telemetry.clickhouse.serve). */
  clickhouseServe?: ClickHouseServe;
  proxy: ProxyServer;
  metrics: ProxyMetrics;
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  /** Base URL apps give their SDK (OpenAI: add `/v1`). */
  url: string;
  adminUrl: string;
  close(graceMs?: number): Promise<void>;
  /** Push every finished call's spans to the exporters (ClickHouse or its spool, OTLP). */
  flush(): Promise<void>;
  /** Apply a new configuration (routes, providers, evaluation) without dropping requests. */
  reload(config: Config): void;
}

export interface SidecarOptions {
  /** Extra consumers of finished calls (tests, the demo's report). */
  recorders?: CallRecorder[];
  /** Extra span processors (tests attach an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  env?: NodeJS.ProcessEnv;
  translation?: (from: ApiDialect, to: ApiDialect) => CrossTranslation | undefined;
}

export async function startSidecar(config: Config, options: SidecarOptions = {}): Promise<RunningSidecar> {
  setLogLevel(config.telemetry.logLevel);
  const prices = loadPriceTable(config.pricing.models, undefined, { genaiPrices: config.pricing.genaiPrices });
  const metrics = new ProxyMetrics({ config, prices });
  // Token counts are needed only by routes that route on them (match rules, the cost strategy).
  if (Object.values(config.routes).some((r) => r.strategy === 'cost' || r.match?.minInputTokens !== undefined || r.match?.maxInputTokens !== undefined)) await loadTokenizer();
  const telemetry = await setupTelemetryExport(config.telemetry);
  // Opt-in: Grafana reads the embedded store through a read-only ClickHouse HTTP endpoint.
  const chServe = config.telemetry.clickhouse.serve;
  let clickhouseServe: ClickHouseServe | undefined;
  if (chServe && telemetry.store?.kind === 'embedded') {
    try {
      clickhouseServe = await startClickHouseServe({ dataDir: config.telemetry.clickhouse.dataDir, ...chServe });
    } catch (err) {
      await telemetry.close();
      throw err;
    }
  }
  const tracing = createTracing({ serviceName: config.telemetry.serviceName, exporters: telemetry.exporters, processors: options.spanProcessors, env: options.env });
  const extraRecorders = options.recorders ?? [];
  const budgets = config.budgets
    ? {
        config: config.budgets,
        identity: new IdentityResolver(config.budgets.identity),
        enforcer: await createBudgetEnforcer(config.budgets, {
          onAlert: (a) => {
            metrics.budgetAlert(a.scope);
            logger.warn({ scope: a.scope, key: a.key, ratio: a.ratio, used: a.used, limit: a.limit, unit: a.unit }, `budget alert: ${a.scope} of ${a.key} at ${Math.round(a.ratio * 100)} %`);
            recordBudgetAlert(tracing.tracer, a);
          },
          onBackendError: (e) => {
            metrics.budgetBackendError(e.outcome);
            logger.error({ backend: e.backend, op: e.op, timedOut: e.timedOut, err: e.error.message, outcome: e.outcome }, 'budget backend operation failed');
          },
        }),
      }
    : undefined;
  if (budgets) metrics.budgetSnapshot = () => budgets.enforcer.snapshot();
  // The cache store exists only when some route (or the default) caches.
  const caching = cachingConfigured(config);
  const cacheStore: CacheStore | undefined = !caching
    ? undefined
    : config.cache.store.type === 'redis'
      ? new RedisStore({
          connection: config.cache.store,
          ...(config.cache.store.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: config.cache.store.commandTimeoutMs }),
          maxStalenessMs: config.cache.staleMaxSeconds * 1000,
          onError: (e) => metrics.cacheError(String((e as { op?: string }).op ?? 'redis')),
        })
      : new MemoryStore({ maxBytes: config.cache.store.maxBytes, maxStalenessMs: config.cache.staleMaxSeconds * 1000 });
  // Connect the shared cache before serving, so that the first lookup finds what other sidecars wrote.
  if (cacheStore instanceof RedisStore) await cacheStore.start();
  // The semantic cache's modules (a native vector index, the embedder) load only when a route uses it.
  const semanticSetup = cacheStore && Object.values(config.routes).some((r) => r.cache?.semantic?.enabled) ? await import('./cache/semantic-setup.ts') : undefined;
  const semantic = semanticSetup?.createSemanticCache(config, metrics);
  const semanticSync = semanticSetup && semantic ? await semanticSetup.shareSemantic(config, semantic, metrics) : undefined;
  // Feedback over HTTP goes to the telemetry store; it remembers recent request ids (a recorder) and
  // pushes pending spans out when feedback names a call not stored yet.
  const feedback = new FeedbackEndpoint({
    store: telemetry.store,
    database: config.telemetry.clickhouse.database,
    flush: async () => {
      await new Promise((r) => setImmediate(r));
      await tracing.forceFlush();
    },
  });
  const proxy = new ProxyServer({
    config,
    feedback,
    budgets,
    cacheStore,
    semanticCache: semantic?.cache,
    prices,
    translation: options.translation ?? ((from, to) => translation(from, to)),
    onBreakerChange: (target, from, to) => {
      metrics.breakerChanged(target, to);
      logger.warn({ target, from, to }, `circuit breaker for ${target}: ${from} → ${to}`);
    },
    price: (providerType, model, usage) => totalCostUsd(prices, providerType, model, usage),
    recorder: new CompositeRecorder([
      metrics,
      // With no exporter and no processor, spans would be built only to be thrown away.
      ...(telemetry.exporters.length > 0 || (options.spanProcessors?.length ?? 0) > 0
        ? [new SpanRecorder({ sink: tracing, redactor: new Redactor(config.evaluation.redaction.patterns, config.evaluation.redaction.defaults) })]
        : []),
      ...(telemetry.store ? [feedback] : []),
      ...extraRecorders,
    ]),
  });
  metrics.telemetryStats = () => telemetry.stats();
  // Ready once Redis (budgets, shared cache) has been connected — and the budget scripts loaded —
  // at least once; a later outage does not flip it (budgets.backend.onUnavailable decides then).
  const redisStarted = (): boolean => (budgets?.enforcer.started ?? true) && (!(cacheStore instanceof RedisStore) || cacheStore.started);
  const admin = new AdminServer(config.admin.host, config.admin.port, { ready: () => proxy.ready && redisStarted(), metrics: (openMetrics) => metrics.scrape(openMetrics) });
  const adminAddress = await admin.listen();
  let proxyAddress: AddressInfo;
  try {
    proxyAddress = await proxy.listen();
  } catch (err) {
    await admin.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const hostFor = (a: AddressInfo): string => (a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address);
  return {
    telemetry,
    clickhouseServe,
    proxy,
    metrics,
    proxyAddress,
    adminAddress,
    url: `http://${hostFor(proxyAddress)}:${proxyAddress.port}`,
    adminUrl: `http://${hostFor(adminAddress)}:${adminAddress.port}`,
    async flush() {
      // Calls are recorded one tick after their response.
      await new Promise((r) => setImmediate(r));
      await tracing.forceFlush();
    },
    reload(next: Config) {
      proxy.reload(next);
      metrics.setConfig(next, prices);
    },
    close(graceMs = 10_000) {
      closing ??= shutdown(graceMs);
      return closing;
    },
  };
  async function shutdown(graceMs: number): Promise<void> {
    await proxy.close(graceMs);
    // Calls are recorded one tick after their response: let the last ones reach the processors.
    await new Promise((r) => setImmediate(r));
    await tracing.shutdown();
    await budgets?.enforcer.close();
    await cacheStore?.close();
    await semanticSync?.close();
    await semantic?.embedder.close?.();
    await clickhouseServe?.close();
    await telemetry.close();
    await admin.close();
  }
}
