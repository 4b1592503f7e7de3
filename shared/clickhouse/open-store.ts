// Opening the store `telemetry.clickhouse` names — embedded chdb (the default), a ClickHouse server,
// or none — for every service and command (proxy, evaluator, report, migrate).
import type { TelemetryConfig } from '../config/schema.ts';
import { createEmbeddedStore } from './embedded-store.ts';
import { createServerStore } from './server-store.ts';
import type { ClickHouseStore } from './store.ts';

export async function openStore(c: TelemetryConfig['clickhouse']): Promise<ClickHouseStore | undefined> {
  if (c.mode === 'off') return undefined;
  if (c.mode === 'server') {
    return createServerStore({ url: c.url as string, username: c.username, password: c.password, database: c.database, foregroundDistributedInserts: c.cluster?.distributed === true });
  }
  try {
    return await createEmbeddedStore({ dataDir: c.dataDir, database: c.database });
  } catch (err) {
    // The production image leaves the embedded engine out: say what to configure instead.
    throw new Error(
      `the embedded ClickHouse (chdb) cannot start here: ${(err as Error).message}. Set telemetry.clickhouse.url to a ClickHouse server, or telemetry.clickhouse.mode to "off" (and telemetry.otlp for a collector).`,
      { cause: err },
    );
  }
}
