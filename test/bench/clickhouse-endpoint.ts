// `node --import tsx test/bench/clickhouse-endpoint.ts`: the bench's stand-in for a ClickHouse
// server, in its own process so that the insert work is not the sidecar's: the test-only ClickHouse
// HTTP interface backed by chdb (test/clickhouse/http-endpoint.ts; no ClickHouse server can be
// installed here) on a throwaway data directory. Prints `clickhouse-endpoint listening on
// URL stats on http://127.0.0.1:PORT` when ready; any GET on that stats port answers
// `{"otelTraces": N}`, the row count of otel_traces in the default database the sidecar writes to
// (the bench's sanity check).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import { DEFAULT_DATABASE, TABLE_OTEL_TRACES, qualified } from '../../shared/clickhouse/schema.ts';
import { startHttpEndpoint } from '../clickhouse/http-endpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'llm-sidecar-bench-ch-'));
const endpoint = await startHttpEndpoint({ dataDir: join(dir, 'chdb') });
const store = createServerStore({ url: endpoint.url, database: DEFAULT_DATABASE });

// A side port for the row count, so the bench needs no ClickHouse client of its own.
const side = createServer((req, res) => {
  req.resume();
  store
    .query<{ n: string }>(`SELECT count() AS n FROM ${qualified(DEFAULT_DATABASE, TABLE_OTEL_TRACES)}`)
    .then((rows) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ otelTraces: Number(rows[0]?.n ?? 0) })))
    .catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)));
});
side.listen(0, '127.0.0.1', () => {
  const address = side.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`clickhouse-endpoint listening on ${endpoint.url} stats on http://127.0.0.1:${port}\n`);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    side.close();
    void store
      .close()
      .then(() => endpoint.close())
      .finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
  });
}
