// Cluster DDL (issue #21 item 1), statement by statement, for each layout: single node (unchanged),
// replicated + Distributed (sharded, self-managed), replicated without Distributed (one shard),
// shared (ClickHouse Cloud, named) and default (Cloud converts the engines). No ClickHouse cluster
// can run here (no server, no Keeper): every statement is parsed by real ClickHouse (formatQuery in
// chdb), and the sharded layout's whole DDL is committed in cluster-ddl/replicated-distributed.sql
// (generated = committed, so a change to it is reviewed).
import { describe, expect, it } from 'vitest';
import { clusterStatements, LOCAL_SUFFIX, SHARDING_KEYS, type ClusterLayout } from '../../shared/clickhouse/cluster-ddl.ts';
import { plannedStatements } from '../../shared/clickhouse/migrate.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chdbAvailable } from './chdb-available.ts';

const hasChdb = await chdbAvailable();
const DB = 'otel';
const base = { name: 'llm', replicationPath: '/clickhouse/tables/{shard}/{database}/{table}', replicaName: '{replica}' };
const LAYOUTS: Record<string, ClusterLayout> = {
  'replicated-distributed': { ...base, engine: 'replicated', distributed: true },
  'replicated-one-shard': { ...base, engine: 'replicated', distributed: false },
  shared: { ...base, engine: 'shared', distributed: false },
  default: { ...base, engine: 'default', distributed: false },
};

const flat = (layout: ClusterLayout | undefined) => plannedStatements(DB, { cluster: layout }).flatMap((p) => p.statements);
const HEAD = /^(CREATE DATABASE IF NOT EXISTS `\w+`|CREATE TABLE IF NOT EXISTS `\w+`\.`\w+`|CREATE MATERIALIZED VIEW IF NOT EXISTS `\w+`\.`\w+`|ALTER TABLE `\w+`\.`\w+`) ON CLUSTER `llm`(?:[\s(]|$)/;
const DATA_TABLES = Object.keys(SHARDING_KEYS);
/** The rollups' one-time backfills (migrations 012-013): INSERT … SELECT, which takes no ON CLUSTER. */
const isBackfill = (sql: string) => sql.startsWith('INSERT INTO');

describe('cluster DDL', () => {
  it('single node: every statement exactly as the migration wrote it', () => {
    const single = plannedStatements(DB);
    for (const { statements } of single) for (const sql of statements) expect(sql).not.toMatch(/ON CLUSTER|Replicated|Distributed|Shared/);
    for (const { statements } of single) for (const sql of statements) expect(clusterStatements(sql, DB, undefined)).toEqual([sql]);
  });

  describe.each(Object.entries(LAYOUTS))('%s', (mode, layout) => {
    const statements = flat(layout);

    it('puts ON CLUSTER right after the object name of every statement', () => {
      for (const sql of statements.filter((s) => !isBackfill(s))) expect(sql).toMatch(HEAD);
    });

    it('keeps each backfill as written, into a table every node has (its Distributed table when sharded), after the table and before its view', () => {
      const backfills = statements.filter(isBackfill);
      expect(backfills.length).toBe(5);
      for (const sql of backfills) {
        const table = /^INSERT INTO `otel`\.`(\w+)`\n/.exec(sql)?.[1] as string;
        expect(table in SHARDING_KEYS, table).toBe(true);
        expect(sql).not.toMatch(/ON CLUSTER/);
        expect(sql).toContain(`insert_deduplication_token = 'otel.${table}.backfill'`);
        // Reads the plain names: on a sharded cluster the Distributed tables, i.e. every shard.
        expect(sql).not.toContain(LOCAL_SUFFIX);
        const created = statements.findIndex((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS \`otel\`.\`${table}`));
        const view = statements.findIndex((s) => s.startsWith(`CREATE MATERIALIZED VIEW IF NOT EXISTS \`otel\`.\`${table}_mv\``));
        expect(created).toBeGreaterThanOrEqual(0);
        expect(statements.indexOf(sql)).toBeGreaterThan(created);
        expect(statements.indexOf(sql)).toBeLessThan(view);
      }
    });

    it('uses the layout engine on every table (the ledger replicated over the whole cluster)', () => {
      const engines = statements.flatMap((sql) => [...sql.matchAll(/ENGINE = (\w+)\(([^)]*)\)/g)].map((m) => ({ engine: m[1] as string, args: m[2] as string, sql })));
      expect(engines.length).toBeGreaterThan(0);
      for (const { engine, args, sql } of engines) {
        if (engine === 'Distributed') continue;
        if (layout.engine === 'replicated') {
          expect(engine).toMatch(/^Replicated(Replacing|Aggregating)?MergeTree$/);
          const path = sql.includes('`schema_migrations`') ? '/clickhouse/tables/{database}/{table}' : layout.replicationPath;
          expect(args.startsWith(`'${path}', '{replica}'`)).toBe(true);
        } else if (layout.engine === 'shared') {
          expect(engine).toMatch(/^Shared(Replacing|Aggregating)?MergeTree$/);
        } else {
          expect(engine).toMatch(/^(Replacing|Aggregating)?MergeTree$/);
        }
      }
      // Engine arguments of the single-node statement are kept (ReplacingMergeTree's version column).
      expect(statements.some((sql) => /ReplacingMergeTree\((?:.*, )?EvaluatedAt\)/.test(sql))).toBe(true);
    });

    if (layout.distributed) {
      it('creates each data table as <name>_local and a Distributed table under the plain name, sharded so FINAL stays per shard', () => {
        for (const table of DATA_TABLES) {
          const local = statements.filter((sql) => sql.startsWith(`CREATE TABLE IF NOT EXISTS \`${DB}\`.\`${table}${LOCAL_SUFFIX}\` ON CLUSTER`));
          const twin = statements.filter((sql) => sql.startsWith(`CREATE TABLE IF NOT EXISTS \`${DB}\`.\`${table}\` ON CLUSTER`));
          expect(local, table).toHaveLength(1);
          expect(twin, table).toEqual([
            `CREATE TABLE IF NOT EXISTS \`${DB}\`.\`${table}\` ON CLUSTER \`llm\` AS \`${DB}\`.\`${table}${LOCAL_SUFFIX}\`\nENGINE = Distributed(\`llm\`, \`${DB}\`, \`${table}${LOCAL_SUFFIX}\`, ${SHARDING_KEYS[table] as string})`,
          ]);
          // The twin comes right after its local table.
          expect(statements.indexOf(twin[0] as string)).toBe(statements.indexOf(local[0] as string) + 1);
        }
      });

      it('views read and write local tables only (each shard derives its own rows)', () => {
        const views = statements.filter((sql) => /^(CREATE MATERIALIZED VIEW|ALTER TABLE `\w+`\.`\w+_mv`)/.test(sql));
        expect(views.length).toBeGreaterThanOrEqual(4);
        for (const sql of views) for (const table of DATA_TABLES) expect(sql).not.toContain(`\`${DB}\`.\`${table}\``);
        expect(views.every((sql) => sql.includes(LOCAL_SUFFIX))).toBe(true);
      });

      it('mirrors ADD COLUMN on the Distributed table (without codec) and keeps other ALTERs local', () => {
        const alters = statements.filter((sql) => sql.startsWith('ALTER TABLE'));
        const twinAlters = alters.filter((sql) => DATA_TABLES.some((t) => sql.startsWith(`ALTER TABLE \`${DB}\`.\`${t}\` `)));
        expect(twinAlters.length).toBeGreaterThanOrEqual(2); // 009 llm_calls, 010 llm_feedback
        for (const sql of twinAlters) {
          expect(sql).toMatch(/ADD COLUMN IF NOT EXISTS/);
          expect(sql).not.toMatch(/CODEC|MODIFY|INDEX|SETTING/);
        }
        expect(alters.some((sql) => sql.startsWith(`ALTER TABLE \`${DB}\`.\`llm_calls${LOCAL_SUFFIX}\` ON CLUSTER \`llm\` ADD COLUMN IF NOT EXISTS CacheSavedUsd`))).toBe(true);
      });
    } else {
      it('keeps the plain table names (no Distributed tables)', () => {
        for (const sql of statements) expect(sql).not.toMatch(new RegExp(`${LOCAL_SUFFIX}\`|Distributed`));
      });
    }

    it.skipIf(!hasChdb)('every statement parses in ClickHouse 26 (formatQuery)', { timeout: 60_000 }, async () => {
      const dir = await mkdtemp(join(tmpdir(), `llm-sidecar-cluster-ddl-${mode}-`));
      const store = await createEmbeddedStore({ dataDir: dir });
      try {
        for (const sql of statements) {
          const [row] = await store.query<{ f: string }>('SELECT formatQuery({sql:String}) AS f', { sql });
          expect(row?.f, sql).toContain(isBackfill(sql) ? 'INSERT INTO otel.' : 'ON CLUSTER llm');
        }
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('the sharded layout as committed (review changes in cluster-ddl/replicated-distributed.sql)', async () => {
    const text = plannedStatements(DB, { cluster: LAYOUTS['replicated-distributed'] })
      .map(({ migration, statements }) => statements.map((sql) => `-- ${migration}\n${sql};\n`).join('\n'))
      .join('\n');
    await expect(text).toMatchFileSnapshot('./cluster-ddl/replicated-distributed.sql');
  });

  it('is configured under telemetry.clickhouse.cluster (server mode only), Distributed by default with replicated engines', () => {
    const url = 'http://clickhouse:8123';
    const cluster = (c: object) => parseConfig({ telemetry: { clickhouse: { url, cluster: c } } }, 'test', {}).telemetry.clickhouse.cluster;
    expect(cluster({ name: 'main' })).toEqual({ name: 'main', engine: 'replicated', distributed: true, replicationPath: '/clickhouse/tables/{shard}/{database}/{table}', replicaName: '{replica}' });
    expect(cluster({ name: 'default', engine: 'default' })?.distributed).toBe(false);
    expect(() => parseConfig({ telemetry: { clickhouse: { cluster: { name: 'main' } } } }, 'test', {})).toThrow(/cluster/);
    expect(() => cluster({ name: 'no spaces' })).toThrow(/name/);
  });

  it('refuses what it cannot put on a cluster instead of creating it on one node', () => {
    const layout = LAYOUTS['replicated-distributed'] as ClusterLayout;
    expect(() => clusterStatements('INSERT INTO `otel`.`not_distributed` SELECT 1', DB, layout)).toThrow(/cannot insert into not_distributed on one node/);
    expect(() => clusterStatements('INSERT INTO `other`.`llm_calls` SELECT 1', DB, layout)).toThrow(/cannot insert/);
    expect(() => clusterStatements('DROP TABLE `otel`.`llm_calls`', DB, layout)).toThrow(/cannot add ON CLUSTER/);
    expect(() => clusterStatements('ALTER TABLE `otel`.`llm_calls` MODIFY COLUMN CostUsd Nullable(Float64)', DB, layout)).toThrow(/not mirrored on its Distributed table/);
    expect(() => clusterStatements('CREATE TABLE IF NOT EXISTS `otel`.`x` (a UInt8) ENGINE = MergeTree() ORDER BY a', DB, { ...layout, name: 'bad name' })).toThrow();
  });
});
