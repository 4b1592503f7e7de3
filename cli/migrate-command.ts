// `llm-sidecar migrate`: apply the ClickHouse schema and report what was applied.
import type { Config } from '../shared/config/schema.ts';
import { migrate } from '../shared/clickhouse/migrate.ts';
import { openStore } from '../shared/clickhouse/open-store.ts';

export async function runMigrate(config: Config): Promise<number> {
  const c = config.telemetry.clickhouse;
  const store = await openStore(c);
  if (!store) {
    process.stderr.write('llm-sidecar: telemetry.clickhouse.mode is "off": nothing to migrate\n');
    return 2;
  }
  try {
    const r = await migrate(store, { database: c.database, ttlDays: c.ttlDays, contentTtlDays: c.contentTtlDays, cluster: c.cluster });
    const where = c.mode === 'server' ? c.url : `embedded store ${c.dataDir}`;
    process.stdout.write(`llm-sidecar: schema of database "${r.database}" at ${where}: applied ${r.applied.length ? r.applied.join(', ') : 'nothing'}; already applied ${r.alreadyApplied.length}${r.deferred.length ? `; deferred until the server is upgraded: ${r.deferred.join(', ')}` : ''}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`llm-sidecar: migration failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
