// Test helper process for migrate-concurrent.test.ts: one "sidecar starting" that runs the
// migrations against a ClickHouse server. Prints `ready` once loaded, waits for `go` on stdin (so
// that every process starts migrating at the same moment), then prints its MigrateResult as JSON.
// `node --import tsx test/clickhouse/migrate-child.ts <url> <database>`
import { createInterface } from 'node:readline';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';

const [url, database] = process.argv.slice(2);
if (url === undefined || database === undefined) throw new Error('usage: migrate-child.ts <url> <database>');
const store = createServerStore({ url, database, requestTimeoutMs: 120_000 });
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  try {
    const result = await migrate(store);
    process.stdout.write(`result ${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stdout.write(`error ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
  break;
}
lines.close();
await store.close();
