// ClickHouseStore over @clickhouse/client (HTTP) for a ClickHouse server or cluster. Inserts are
// async inserts waited for (async_insert=1, wait_for_async_insert=1): many sidecars sending small
// batches let the server merge them into few parts, and an insert that returned is durable.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { jsonLinesBody, type JsonLines } from './json-lines.ts';
import { DEFAULT_DATABASE, assertIdentifier, assertTableName } from './schema.ts';
import { toStoreError, type StoreOperation } from './store-error.ts';
import type { ClickHouseStore, InsertOptions, QueryParams } from './store.ts';

export interface ServerStoreOptions {
  /** e.g. http://clickhouse:8123 */
  url: string;
  username?: string;
  password?: string;
  /** Default database (created on first use if missing). */
  database?: string;
  /** Per request; an exporter insert that takes longer is spooled instead. */
  requestTimeoutMs?: number;
  /**
   * Inserts into Distributed tables (a sharded cluster, cluster-ddl.ts) return once the shards have
   * the rows (distributed_foreground_insert=1): an insert that returned is durable, and its dedup
   * token is applied on the shard, as the exporter's replay needs.
   */
  foregroundDistributedInserts?: boolean;
}

/** Exact 64-bit integers and decimals in query results (strings, not lossy JS numbers). */
const QUERY_SETTINGS = { output_format_json_quote_64bit_integers: 1, output_format_json_quote_decimals: 1 } as const;

/**
 * Creates the store without contacting the server: a sidecar must start (and spool) while
 * ClickHouse is down. The database is checked, and created if missing, before the first operation.
 */
export function createServerStore(options: ServerStoreOptions): ClickHouseStore {
  const database = assertIdentifier(options.database ?? DEFAULT_DATABASE, 'database');
  const url = new URL(options.url);
  const location = `${url.protocol}//${url.host}`; // no credentials, no path
  const base = {
    url: options.url,
    username: options.username ?? 'default',
    password: options.password ?? '',
    request_timeout: options.requestTimeoutMs ?? 10_000,
    application: 'llm-sidecar',
    // The client would log every failed request with a stack trace; failures surface as our errors instead.
    log: { level: ClickHouseLogLevel.OFF },
  };
  const client: ClickHouseClient = createClient({ ...base, database });
  let ready: Promise<void> | undefined;

  const fail = (err: unknown, operation: StoreOperation, extra: { table?: string; sql?: string } = {}) =>
    toStoreError(err, { store: 'server', location, operation, ...extra });

  /** The HTTP `database` parameter must name an existing database, so check (and create) it with a client without one. */
  function ensureDatabase(): Promise<void> {
    ready ??= (async () => {
      const bootstrap = createClient(base);
      try {
        const rs = await bootstrap.query({ query: 'SELECT count() AS n FROM system.databases WHERE name = {db:String}', query_params: { db: database }, format: 'JSONEachRow' });
        const [row] = await rs.json<{ n: string | number }>();
        if (Number(row?.n ?? 0) === 0) await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database}\`` });
      } finally {
        await bootstrap.close();
      }
    })().catch((err: unknown) => {
      ready = undefined; // try again on the next operation
      throw err;
    });
    return ready;
  }

  function insertSettings(insertOptions: InsertOptions | undefined): ClickHouseSettings {
    const token = insertOptions?.dedupToken;
    return {
      async_insert: 1,
      wait_for_async_insert: 1,
      ...(options.foregroundDistributedInserts === true ? { distributed_foreground_insert: 1 } : {}),
      // Async inserts deduplicate only when asked to (and, on a server, in Replicated tables).
      ...(token !== undefined ? { insert_deduplication_token: token, async_insert_deduplicate: 1 } : {}),
    };
  }

  return {
    kind: 'server',
    database,
    location,

    async command(sql) {
      try {
        await ensureDatabase();
        await client.command({ query: sql });
      } catch (err) {
        throw fail(err, 'command', { sql });
      }
    },

    async query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      try {
        await ensureDatabase();
        const rs = await client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS });
        return await rs.json<T>();
      } catch (err) {
        throw fail(err, 'query', { sql });
      }
    },

    async insert(table: string, rows: readonly object[], insertOptions?: InsertOptions) {
      assertTableName(table);
      if (rows.length === 0) return;
      try {
        await ensureDatabase();
        await client.insert({ table, values: rows as object[], format: 'JSONEachRow', clickhouse_settings: insertSettings(insertOptions) });
      } catch (err) {
        throw fail(err, 'insert', { table });
      }
    },

    async insertJsonLines(table: string, lines: JsonLines, insertOptions?: InsertOptions) {
      assertTableName(table);
      if (lines.length === 0) return;
      try {
        await ensureDatabase();
        // The rows are JSON already: the INSERT's body is their text, not serialised a second time,
        // streamed a slice at a time (the event loop keeps serving while a big batch goes out).
        const result = await client.exec({
          query: `INSERT INTO ${table} FORMAT JSONEachRow`,
          values: Readable.from(jsonLinesBody(lines), { objectMode: false }),
          clickhouse_settings: insertSettings(insertOptions),
        });
        result.stream.resume(); // an INSERT answers with an empty body; free the socket
        await finished(result.stream);
      } catch (err) {
        throw fail(err, 'insert', { table });
      }
    },

    async close() {
      try {
        await client.close();
      } catch (err) {
        throw fail(err, 'close');
      }
    },
  };
}
