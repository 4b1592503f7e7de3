// Where spans go (config `telemetry`): the ClickHouse span exporter — embedded chdb by default, a
// server with a URL — and/or OTLP/HTTP to a collector. A ClickHouse that is down at start does not
// stop the sidecar: spans spool on disk and the schema migration is retried in the background.
import { logger } from '../../shared/log.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TelemetryConfig } from '../../shared/config/schema.ts';
import { createOtlpExporter, resolveOtlp } from '../../shared/telemetry/otel-env.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { ClickHouseSpanExporter, type ExporterStats } from '../../shared/clickhouse/span-exporter.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { openStore } from '../../shared/clickhouse/open-store.ts';

export interface TelemetryExport {
  exporters: SpanExporter[];
  store: ClickHouseStore | undefined;
  stats(): ExporterStats | undefined;
  /** Resolves when the schema is in place (immediately when migration is off or there is no store). */
  migrated: Promise<void>;
  close(): Promise<void>;
}

export async function setupTelemetryExport(t: TelemetryConfig, log: (m: string) => void = (m) => logger.info({ component: 'clickhouse' }, m)): Promise<TelemetryExport> {
  const exporters: SpanExporter[] = [];
  // OTLP from the YAML and the OTEL_* environment (shared/telemetry/otel-env.ts); loaded only when configured.
  const otlp = resolveOtlp(t.otlp);
  if (otlp) exporters.push(await createOtlpExporter(otlp));
  const store = await openStore(t.clickhouse);
  let chExporter: ClickHouseSpanExporter | undefined;
  let migrated: Promise<void> = Promise.resolve();
  let stopped = false;
  if (store) {
    if (t.clickhouse.migrate) {
      migrated = (async () => {
        for (let delay = 1000; !stopped; delay = Math.min(delay * 2, 30_000)) {
          try {
            const r = await migrate(store, { database: t.clickhouse.database, ttlDays: t.clickhouse.ttlDays, contentTtlDays: t.clickhouse.contentTtlDays, cluster: t.clickhouse.cluster });
            if (r.applied.length > 0) log(`ClickHouse schema: applied ${r.applied.join(', ')}`);
            return;
          } catch (err) {
            log(`ClickHouse schema migration failed, retrying in ${delay / 1000}s (spans are spooled meanwhile): ${(err as Error).message}`);
            await new Promise((r) => setTimeout(r, delay).unref());
          }
        }
      })();
    }
    // Spans wait (journal, then spool) until the schema is in place, so that the views see every row.
    chExporter = new ClickHouseSpanExporter({ store, database: t.clickhouse.database, spoolDir: t.spool.dir, spoolMaxBytes: t.spool.maxBytes, schemaReady: migrated });
    exporters.push(chExporter);
  }
  return {
    exporters,
    store,
    stats: () => chExporter?.stats(),
    migrated,
    async close() {
      stopped = true;
      await store?.close();
    },
  };
}
