// `llm-sidecar report`: the dashboards' key figures in the terminal, from the configured store
// (the embedded one by default, so it reads what `llm-sidecar demo` left in ./.llm-sidecar).
import type { Config } from '../shared/config/schema.ts';
import { runReport } from '../dashboards/report.ts';
import { WEEKLY_FORMATS, formatWeekly, weeklyReport, type WeeklyFormat } from '../dashboards/weekly-report.ts';
import { openStore } from '../shared/clickhouse/open-store.ts';

export async function runReportCommand(config: Config, options: { weekly?: boolean; format?: string } = {}): Promise<number> {
  if (options.format !== undefined && !options.weekly) {
    process.stderr.write('llm-sidecar: --format applies to --weekly\n');
    return 2;
  }
  const format = (options.format ?? 'text') as WeeklyFormat;
  if (!WEEKLY_FORMATS.includes(format)) {
    process.stderr.write(`llm-sidecar: --format must be one of ${WEEKLY_FORMATS.join(', ')}, not ${JSON.stringify(options.format)}\n`);
    return 2;
  }
  const store = await openStore(config.telemetry.clickhouse);
  if (!store) {
    process.stderr.write('llm-sidecar: telemetry.clickhouse.mode is "off": no store to report from\n');
    return 2;
  }
  try {
    const database = config.telemetry.clickhouse.database;
    const text = options.weekly ? formatWeekly(await weeklyReport(store, database), format) : await runReport({ store, database });
    process.stdout.write(`${text}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`llm-sidecar: report failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
