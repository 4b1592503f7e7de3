// Why: the numbered migrations are written once, for one ClickHouse node. On a cluster the same
// schema needs `ON CLUSTER` on every DDL statement, replicated (or ClickHouse Cloud's shared)
// table engines, and Distributed tables so that readers and writers see every shard — the way the
// OpenTelemetry Collector's ClickHouse exporter does it with `cluster_name` and `table_engine`.
// This module turns each single-node statement into its cluster form, so that no migration is
// written twice and the single-node statements stay byte for byte what they were.
//
// Layout with `distributed: true` (sharded cluster):
//   <table>_local   the data, Replicated*MergeTree on every node (ON CLUSTER), one replica set per shard
//   <table>         Distributed(cluster, db, <table>_local, sharding key) under the plain name
// The exporter, the evaluator, the report and the dashboards keep using the plain names: inserts
// into `otel_traces` are spread over the shards by TraceId, reads fan out and merge. The
// materialized views live on every node and read and write the LOCAL tables, so each shard derives
// llm_calls and its rollups from its own spans: per-span derivations need nothing else, the
// rollup's aggregate states merge across shards at read time (countMerge, sumMerge, quantiles…),
// and ReplacingMergeTree tables are sharded by a hash of their key (TraceId, or the calibration
// key), so FINAL on each shard sees every version of a row.
// Without `distributed` (one shard with replicas, or ClickHouse Cloud), tables keep their names
// and only ON CLUSTER and the engine change.
import { TABLE_LLM_CALL_EVENTS_10M, TABLE_LLM_CALLS, TABLE_LLM_CALLS_10M, TABLE_LLM_CALLS_1M, TABLE_LLM_CALLS_FEATURE_STATUS_10M, TABLE_LLM_CALLS_USERS_1H, TABLE_LLM_EVAL_CALIBRATION, TABLE_LLM_EVALUATIONS, TABLE_LLM_FEEDBACK, TABLE_OTEL_SPANS_1M, TABLE_OTEL_TRACES, TABLE_OTEL_TRACES_TRACE_ID_TS, assertIdentifier } from './schema.ts';

export type ClusterEngine = 'replicated' | 'shared' | 'default';

export interface ClusterLayout {
  /** The cluster's name in the servers' remote_servers configuration (`ON CLUSTER <name>`). */
  name: string;
  /**
   * `replicated`: Replicated*MergeTree with replicationPath / replicaName (self-managed clusters);
   * `shared`: Shared*MergeTree (ClickHouse Cloud, named explicitly);
   * `default`: the engines as written (ClickHouse Cloud turns MergeTree into SharedMergeTree itself).
   */
  engine: ClusterEngine;
  /** Distributed tables under the plain names over `<name>_local` data tables (a sharded cluster). */
  distributed: boolean;
  /** Keeper path of a replicated table; `{shard}`, `{database}`, `{table}` are server macros. */
  replicationPath: string;
  /** Replica name; `{replica}` is a server macro. */
  replicaName: string;
}

export const DEFAULT_REPLICATION_PATH = '/clickhouse/tables/{shard}/{database}/{table}';
/** The migration ledger is one table for the whole cluster (every shard reads the same list). */
export const LEDGER_REPLICATION_PATH = '/clickhouse/tables/{database}/{table}';
export const DEFAULT_REPLICA_NAME = '{replica}';

export const LOCAL_SUFFIX = '_local';

/**
 * Tables that get a Distributed twin, with its sharding key. A ReplacingMergeTree's key must send
 * every version of a row to the same shard (its FINAL is per shard).
 */
export const SHARDING_KEYS: Readonly<Record<string, string>> = {
  [TABLE_OTEL_TRACES]: 'cityHash64(TraceId)',
  [TABLE_OTEL_TRACES_TRACE_ID_TS]: 'cityHash64(TraceId)',
  [TABLE_LLM_CALLS]: 'cityHash64(TraceId)',
  [TABLE_LLM_CALLS_1M]: 'rand()',
  // Rollups of migrations 012-013: their views write each shard's own rows; only a backfill inserts
  // through the Distributed table, and a key of the data (not rand()) spreads it the same way each time.
  [TABLE_OTEL_SPANS_1M]: 'cityHash64(ServiceName)',
  [TABLE_LLM_CALL_EVENTS_10M]: 'cityHash64(ServiceName, Route)',
  [TABLE_LLM_CALLS_10M]: 'cityHash64(ServiceName, Route)',
  [TABLE_LLM_CALLS_FEATURE_STATUS_10M]: 'cityHash64(ServiceName, Route)',
  [TABLE_LLM_CALLS_USERS_1H]: 'cityHash64(User)',
  [TABLE_LLM_EVALUATIONS]: 'cityHash64(TraceId)',
  [TABLE_LLM_FEEDBACK]: 'cityHash64(TraceId)',
  [TABLE_LLM_EVAL_CALIBRATION]: 'cityHash64(Evaluator, EvaluatorVersion, LabelsHash)',
};

const NAME = '`[A-Za-z_][A-Za-z0-9_]*`\\.`[A-Za-z_][A-Za-z0-9_]*`';
/** Statement heads that take ON CLUSTER right after the object's name. Anything else is refused. */
const HEADS = [
  new RegExp(`^(CREATE DATABASE IF NOT EXISTS \`[A-Za-z_][A-Za-z0-9_]*\`)`),
  new RegExp(`^(CREATE TABLE IF NOT EXISTS ${NAME})`),
  new RegExp(`^(CREATE MATERIALIZED VIEW IF NOT EXISTS ${NAME})`),
  new RegExp(`^(ALTER TABLE ${NAME})`),
];
const ENGINE = /ENGINE = (Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing)?MergeTree\(([^)]*)\)/;
/** ALTER commands that change the columns: a Distributed twin must follow them. */
const COLUMN_CHANGE = /^(DROP|MODIFY|RENAME|CLEAR|COMMENT) COLUMN\b/;

export interface ClusterStatementOptions {
  /** Replicated over the whole cluster instead of per shard, and never distributed (the migration ledger). */
  global?: boolean;
}

/**
 * The cluster form of one single-node DDL statement: the same statement with ON CLUSTER, the
 * layout's engine and local table names, followed by what the Distributed twin needs (its CREATE,
 * or the same ADD COLUMN). Without a layout, the statement unchanged. Throws on a statement it
 * cannot place ON CLUSTER in, or a column change it cannot mirror: a new migration must then
 * extend this module instead of silently creating a table on one node only.
 */
export function clusterStatements(statement: string, database: string, layout: ClusterLayout | undefined, options: ClusterStatementOptions = {}): string[] {
  if (layout === undefined) return [statement];
  assertIdentifier(database, 'database');
  const cluster = `\`${assertIdentifier(layout.name, 'cluster name')}\``;
  const distributed = layout.distributed && options.global !== true;
  // A backfill (INSERT … SELECT, migrations 012-013) runs on one node: on a sharded cluster it
  // reads and writes the Distributed tables under the plain names, so it stays as written; a table
  // with no Distributed twin would be filled on one shard only.
  const insert = /^INSERT INTO `([A-Za-z_][A-Za-z0-9_]*)`\.`([A-Za-z_][A-Za-z0-9_]*)`\s/.exec(statement);
  if (insert) {
    if (distributed && (insert[1] !== database || !((insert[2] as string) in SHARDING_KEYS))) throw new Error(`cluster mode: cannot insert into ${insert[2] as string} on one node of a sharded cluster (extend shared/clickhouse/cluster-ddl.ts): ${statement.slice(0, 120)}`);
    return [statement];
  }
  let sql = distributed ? toLocalNames(statement, database) : statement;

  const head = HEADS.map((re) => re.exec(sql)).find((m) => m !== null);
  if (!head) throw new Error(`cluster mode: cannot add ON CLUSTER to this statement (extend shared/clickhouse/cluster-ddl.ts): ${statement.slice(0, 120)}`);
  sql = `${head[1]} ON CLUSTER ${cluster}${sql.slice((head[1] as string).length)}`;
  sql = sql.replace(ENGINE, (_m, kind: string | undefined, args: string) => engineFor(layout, kind ?? '', args.trim(), options.global === true));

  const out = [sql];
  if (!distributed) return out;
  const table = twinOf(statement, database);
  if (table === undefined) return out;
  const local = `\`${database}\`.\`${table}${LOCAL_SUFFIX}\``;
  const twin = `\`${database}\`.\`${table}\``;
  if (statement.startsWith('CREATE TABLE')) {
    out.push(`CREATE TABLE IF NOT EXISTS ${twin} ON CLUSTER ${cluster} AS ${local}\nENGINE = Distributed(${cluster}, \`${database}\`, \`${table}${LOCAL_SUFFIX}\`, ${SHARDING_KEYS[table] as string})`);
  } else if (statement.startsWith('ALTER TABLE')) {
    const commands = splitTopLevel(statement.slice(statement.indexOf(twin) + twin.length));
    const changes = commands.filter((c) => COLUMN_CHANGE.test(c));
    if (changes.length > 0) throw new Error(`cluster mode: ${changes[0] as string} on ${table} is not mirrored on its Distributed table yet (extend shared/clickhouse/cluster-ddl.ts)`);
    // A Distributed table stores nothing: the column's name and type, without codec.
    const added = commands.filter((c) => c.startsWith('ADD COLUMN')).map((c) => c.replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/g, ''));
    if (added.length > 0) out.push(`ALTER TABLE ${twin} ON CLUSTER ${cluster}\n    ${added.join(',\n    ')}`);
  }
  return out;
}

function engineFor(layout: ClusterLayout, kind: string, args: string, global: boolean): string {
  const rest = args.length > 0 ? `, ${args}` : '';
  if (layout.engine === 'replicated') {
    const path = global ? LEDGER_REPLICATION_PATH : layout.replicationPath;
    return `ENGINE = Replicated${kind}MergeTree(${sqlString(path)}, ${sqlString(layout.replicaName)}${rest})`;
  }
  if (layout.engine === 'shared') return `ENGINE = Shared${kind}MergeTree(${args})`;
  return `ENGINE = ${kind}MergeTree(${args})`;
}

/** Every `db`.`table` with a Distributed twin becomes `db`.`table_local` (the views' bodies included). */
function toLocalNames(statement: string, database: string): string {
  let sql = statement;
  for (const table of Object.keys(SHARDING_KEYS)) sql = sql.replaceAll(`\`${database}\`.\`${table}\``, `\`${database}\`.\`${table}${LOCAL_SUFFIX}\``);
  return sql;
}

/** The table with a Distributed twin that a CREATE TABLE / ALTER TABLE statement is about, if any. */
function twinOf(statement: string, database: string): string | undefined {
  const m = /^(?:CREATE TABLE IF NOT EXISTS|ALTER TABLE) `([A-Za-z_][A-Za-z0-9_]*)`\.`([A-Za-z_][A-Za-z0-9_]*)`/.exec(statement);
  if (!m || m[1] !== database) return undefined;
  return m[2] !== undefined && m[2] in SHARDING_KEYS ? m[2] : undefined;
}

/** ALTER commands separated by top-level commas (types such as Decimal(38, 12) hold commas too). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === '(') depth += 1;
    if (!quoted && ch === ')') depth -= 1;
    if (!quoted && depth === 0 && ch === ',') {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  parts.push(current.trim());
  return parts.filter((p) => p.length > 0);
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
