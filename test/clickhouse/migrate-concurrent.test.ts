// Many sidecars starting at once against one ClickHouse server (issue #21 item 2): several
// processes run the migrations at the same moment (a start barrier on stdin), and every one must
// succeed, the schema must be exactly the one a single process creates, each migration must be in
// the ledger, and the views must not be doubled (one llm_calls row per CLIENT span). The server is
// the test stand-in (chdb behind the HTTP interface); the embedded store is one process per data
// directory by design, so it cannot be shared.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, migrationLabel, type MigrateResult } from '../../shared/clickhouse/migrate.ts';
import { MIGRATIONS } from '../../shared/clickhouse/migrations/index.ts';
import { TABLE_LLM_CALLS, TABLE_OTEL_TRACES, TABLE_SCHEMA_MIGRATIONS, qualified } from '../../shared/clickhouse/schema.ts';
import { spanToRow } from '../../shared/clickhouse/span-rows.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from './chdb-available.ts';
import { CALLS, emitScenario, tracerProvider } from './genai-spans.ts';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.ts';

const hasChdb = await chdbAvailable();
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROCESSES = 5;

interface Migrator {
  proc: ChildProcess;
  output: string;
  /** Resolves with the child's stdout once it has printed `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function startMigrator(url: string, database: string): Migrator {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/clickhouse/migrate-child.ts', url, database], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const m: Migrator = {
    proc,
    output: '',
    exited: new Promise((r) => proc.once('exit', (code) => r(code))),
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(m.output);
          if (match) {
            proc.stdout?.off('data', check);
            resolve(match);
          }
        };
        proc.stdout?.on('data', check);
        void m.exited.then((code) => reject(new Error(`migrator exited (${String(code)}) before printing ${pattern}:\n${m.output}`)));
        check();
      });
    },
  };
  proc.stdout?.on('data', (chunk: Buffer) => {
    m.output += chunk.toString('utf8');
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    m.output += chunk.toString('utf8');
  });
  return m;
}

/** Every table and view of a database as its CREATE statement, with the database name taken out. */
async function schemaOf(store: ClickHouseStore, database: string): Promise<Record<string, string>> {
  const rows = await store.query<{ name: string; sql: string }>('SELECT name, create_table_query AS sql FROM system.tables WHERE database = {db:String} ORDER BY name', { db: database });
  return Object.fromEntries(rows.map((r) => [r.name, r.sql.replaceAll(database, '<db>')]));
}

describe.skipIf(!hasChdb)(`migrations: ${PROCESSES} processes starting at once against one server`, () => {
  let root: string;
  let endpoint: HttpEndpoint;
  let store: ClickHouseStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'llm-sidecar-migrate-'));
    endpoint = await startHttpEndpoint({ dataDir: join(root, 'chdb') });
    store = createServerStore({ url: endpoint.url, database: 'reference' });
  });

  afterAll(async () => {
    await store?.close();
    await endpoint?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('all succeed, and the schema, ledger and views are those of a single migration', { timeout: 180_000 }, async () => {
    const database = 'concurrent';
    const migrators = Array.from({ length: PROCESSES }, () => startMigrator(endpoint.url, database));
    try {
      await Promise.all(migrators.map((m) => m.waitFor(/^ready$/m)));
      for (const m of migrators) m.proc.stdin?.write('go\n');
      const results = await Promise.all(migrators.map(async (m) => JSON.parse((await m.waitFor(/^result (.*)$/m))[1] as string) as MigrateResult));
      expect(await Promise.all(migrators.map((m) => m.exited))).toEqual(Array(PROCESSES).fill(0));

      // Each migration was applied by at least one process, and each process ended with all of them.
      const labels = MIGRATIONS.map(migrationLabel);
      expect(new Set(results.flatMap((r) => r.applied))).toEqual(new Set(labels));
      for (const r of results) expect(new Set([...r.applied, ...r.alreadyApplied])).toEqual(new Set(labels));

      // The same schema as one process alone creates.
      await migrate(store, { database: 'reference' });
      expect(await schemaOf(store, database)).toEqual(await schemaOf(store, 'reference'));
      const ledger = await store.query<{ id: number }>(`SELECT DISTINCT Id AS id FROM ${qualified(database, TABLE_SCHEMA_MIGRATIONS)} ORDER BY id`);
      expect(ledger.map((r) => Number(r.id))).toEqual(MIGRATIONS.map((m) => m.id));

      // One view, not several: each gen_ai CLIENT span becomes exactly one llm_calls row.
      const { provider, memory } = tracerProvider(new InMemorySpanExporter());
      emitScenario(provider);
      await store.insert(`${database}.${TABLE_OTEL_TRACES}`, memory.getFinishedSpans().map(spanToRow));
      const [calls] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${qualified(database, TABLE_LLM_CALLS)}`);
      expect(Number(calls?.n)).toBe(CALLS.length);

      // A late starter sees everything applied and changes nothing.
      const late = await migrate(createServerStore({ url: endpoint.url, database }));
      expect(late.applied).toEqual([]);
    } finally {
      for (const m of migrators) m.proc.kill('SIGKILL');
    }
  });
});
