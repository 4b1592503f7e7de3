// `llm-sidecar report`: the dashboards' key figures in the terminal, from the configured store
// (the embedded one by default, so it reads what `llm-sidecar demo` left in ./.llm-sidecar).
import type { Config } from '../shared/config/schema.ts';
import { runReport } from '../dashboards/report.ts';
import { openStore } from '../proxy/telemetry/storage.ts';

export async function runReportCommand(config: Config): Promise<number> {
  const store = await openStore(config.telemetry.clickhouse);
  if (!store) {
    process.stderr.write('llm-sidecar: telemetry.clickhouse.mode is "off": no store to report from\n');
    return 2;
  }
  try {
    process.stdout.write(`${await runReport({ store, database: config.telemetry.clickhouse.database })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`llm-sidecar: report failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
