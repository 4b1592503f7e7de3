// Applies the numbered migrations (migrations/index.ts) that a database has not seen yet, and
// records each in schema_migrations. Safe to run twice, and from several processes at once (many
// sidecars starting together against one server): every statement is idempotent on its own
// (CREATE … IF NOT EXISTS, ADD … IF NOT EXISTS, MODIFY SETTING/QUERY to a fixed state), a migration
// is recorded only after all its statements ran, the ledger is read again before each migration
// (a process that arrives late sees what another applied and skips it), and a migration recorded
// twice is one row after merges (ReplacingMergeTree) and DISTINCT here. No lock: ClickHouse has no
// transactional DDL or advisory lock to take, and idempotent DDL makes one unnecessary
// (test/clickhouse/migrate-concurrent.test.ts starts several processes at once).
// A migration written for newer servers (minServerVersion, e.g. 011's full-text indexes, as the
// collector exporter does per server version) is deferred on an older one and applies after an upgrade.
import { clusterStatements, LOCAL_SUFFIX, type ClusterLayout } from './cluster-ddl.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { versionAtLeast, type Migration, type MigrationContext } from './migrations/migration.ts';
import { SCHEMA_MIGRATIONS as M, TABLE_SCHEMA_MIGRATIONS, assertIdentifier, qualified } from './schema.ts';
import type { ClickHouseStore } from './store.ts';

export interface MigrateOptions {
  /** Default: the store's database ('otel' unless configured otherwise). */
  database?: string;
  /** Row TTL of otel_traces, its lookup table and llm_calls, in days (0 = keep forever). Default 30. */
  ttlDays?: number;
  /** TTL of the message-content columns of llm_calls, in days (0 = as long as the row). Default 7. */
  contentTtlDays?: number;
  /** Row TTL of llm_calls_1m, in days (0 = keep forever). Default 400. */
  rollupTtlDays?: number;
  /** A ClickHouse cluster: every statement ON CLUSTER, its engines and Distributed tables (cluster-ddl.ts). */
  cluster?: ClusterLayout;
  /**
   * The server's version, instead of asking it (`SELECT version()`): migrations with a
   * minServerVersion above it are deferred. For tests and plans; plannedStatements assumes the
   * newest layout (every migration) unless given one.
   */
  serverVersion?: string;
}

export interface MigrateResult {
  database: string;
  /** Migrations applied by this call, as "NNN-name". */
  applied: string[];
  /** Migrations that were already recorded. */
  alreadyApplied: string[];
  /** Migrations for a newer server than this one (minServerVersion): not run, not recorded, tried again next time. */
  deferred: string[];
}

export const DEFAULT_TTL_DAYS = 30;
export const DEFAULT_CONTENT_TTL_DAYS = 7;
export const DEFAULT_ROLLUP_TTL_DAYS = 400;

function days(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a whole number of days ≥ 0 (got ${String(value)})`);
  return n;
}

export function migrationLabel(m: { id: number; name: string }): string {
  return `${String(m.id).padStart(3, '0')}-${m.name}`;
}

function contextFor(database: string, options: MigrateOptions): MigrationContext {
  const ctx: MigrationContext = {
    skipIndexType: () => undefined,
    database,
    ttlDays: days(options.ttlDays, DEFAULT_TTL_DAYS, 'ttlDays'),
    contentTtlDays: days(options.contentTtlDays, DEFAULT_CONTENT_TTL_DAYS, 'contentTtlDays'),
    rollupTtlDays: days(options.rollupTtlDays, DEFAULT_ROLLUP_TTL_DAYS, 'rollupTtlDays'),
  };
  if (ctx.ttlDays > 0 && ctx.contentTtlDays > ctx.ttlDays) {
    throw new Error(`contentTtlDays (${ctx.contentTtlDays}) must not exceed ttlDays (${ctx.ttlDays}): message content is meant to expire before the call rows`);
  }
  return ctx;
}

/** The database and the ledger, before any migration (the ledger is one table for a whole cluster). */
function bootstrapStatements(database: string, cluster: ClusterLayout | undefined): string[] {
  const ledger = qualified(database, TABLE_SCHEMA_MIGRATIONS);
  return [
    `CREATE DATABASE IF NOT EXISTS \`${database}\``,
    `CREATE TABLE IF NOT EXISTS ${ledger} (
    ${M.Id} UInt32,
    ${M.Name} String,
    ${M.AppliedAt} DateTime64(3)
) ENGINE = ReplacingMergeTree(${M.AppliedAt})
ORDER BY ${M.Id}`,
  ].flatMap((sql) => clusterStatements(sql, database, cluster, { global: true }));
}

/**
 * Every statement migrate() would run on an empty database, in order, grouped by migration
 * ('000-bootstrap' first): what `ON CLUSTER` DDL a layout produces, without a server.
 */
export function plannedStatements(database: string, options: Omit<MigrateOptions, 'database'> = {}): { migration: string; statements: string[] }[] {
  const ctx = contextFor(assertIdentifier(database, 'database'), options);
  return [
    { migration: '000-bootstrap', statements: bootstrapStatements(database, options.cluster) },
    ...MIGRATIONS.filter((m) => options.serverVersion === undefined || forServer(m, options.serverVersion)).map((m) => ({
      migration: migrationLabel(m),
      statements: m.statements(ctx).flatMap((sql) => clusterStatements(sql, database, options.cluster)),
    })),
  ];
}

const forServer = (m: Migration, version: string) => m.minServerVersion === undefined || versionAtLeast(version, m.minServerVersion);

/** The skip indexes of a database's tables, as `table.index` → type (a sharded layout's `<table>_local` under its plain name). */
async function skipIndexTypes(store: ClickHouseStore, database: string, cluster: ClusterLayout | undefined): Promise<(table: string, index: string) => string | undefined> {
  const rows = await store.query<{ table: string; name: string; type_full: string }>('SELECT table, name, type_full FROM system.data_skipping_indices WHERE database = {db:String}', { db: database });
  const types = new Map<string, string>();
  for (const r of rows) {
    const table = cluster?.distributed === true && r.table.endsWith(LOCAL_SUFFIX) ? r.table.slice(0, -LOCAL_SUFFIX.length) : r.table;
    types.set(`${table}.${r.name}`, r.type_full);
  }
  return (table, index) => types.get(`${table}.${index}`);
}

/**
 * TTLs take effect when a table is created: changing them later needs a new migration
 * (ALTER TABLE … MODIFY TTL), not a different option here.
 */
export async function migrate(store: ClickHouseStore, options: MigrateOptions = {}): Promise<MigrateResult> {
  const database = assertIdentifier(options.database ?? store.database, 'database');
  const ctx = contextFor(database, options);
  const ledger = qualified(database, TABLE_SCHEMA_MIGRATIONS);
  for (const sql of bootstrapStatements(database, options.cluster)) await store.command(sql);

  const recorded = async () => new Set((await store.query<{ id: number }>(`SELECT DISTINCT ${M.Id} AS id FROM ${ledger}`)).map((r) => Number(r.id)));
  let done = await recorded();
  const serverVersion = options.serverVersion ?? (await store.query<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '';
  const result: MigrateResult = { database, applied: [], alreadyApplied: [], deferred: [] };
  for (const migration of MIGRATIONS) {
    // Another process may have applied it meanwhile.
    if (!done.has(migration.id) && result.applied.length > 0) done = await recorded();
    if (done.has(migration.id)) {
      result.alreadyApplied.push(migrationLabel(migration));
      continue;
    }
    if (!forServer(migration, serverVersion)) {
      result.deferred.push(migrationLabel(migration));
      continue;
    }
    try {
      const current = { ...ctx, skipIndexType: await skipIndexTypes(store, database, options.cluster) };
      // Cluster form built first: a statement it cannot place ON CLUSTER fails before any runs.
      for (const sql of migration.statements(current).flatMap((statement) => clusterStatements(statement, database, options.cluster))) await store.command(sql);
    } catch (err) {
      throw new Error(`migration ${migrationLabel(migration)} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    await store.insert(`${database}.${TABLE_SCHEMA_MIGRATIONS}`, [{ [M.Id]: migration.id, [M.Name]: migration.name, [M.AppliedAt]: (Date.now() / 1000).toFixed(3) }]);
    result.applied.push(migrationLabel(migration));
  }
  return result;
}
