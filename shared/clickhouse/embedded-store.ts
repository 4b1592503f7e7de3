// ClickHouseStore over chdb: ClickHouse in this process, on a data directory. Only chdb's async
// calls are used (they run on the libuv pool); its synchronous ones would block the event loop.
// Opening and closing the Session are the exceptions (chdb has no async form): done once each.
//
// chdb facts this relies on (chdb 3.4 / ClickHouse 26.7): one process per data directory (a second
// one fails with "Cannot lock file …/status"); a process binds one directory at a time; queries on
// one engine run one after another; SET on a Session lasts for that Session only.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Session } from 'chdb';
import { jsonLinesBody, jsonLinesMaxBytes, type JsonLines } from './json-lines.ts';
import { DEFAULT_DATABASE, assertIdentifier, assertTableName } from './schema.ts';
import { ClickHouseStoreError, toStoreError, type StoreOperation } from './store-error.ts';
import type { ClickHouseStore, InsertOptions, QueryParams } from './store.ts';

/**
 * The engine's caches, bounded (issue #18, #16's soak). chdb starts ClickHouse with the server's
 * defaults: 5 GiB each for the mark, index-mark and primary-index caches, 100 MiB for the query
 * condition cache, 128 MiB for compiled expressions — sized for a dedicated server, and free to grow
 * inside the app's pod as dashboards read through the embedded store's endpoint. Together these
 * bound the caches to 96 MiB. The insert path does not use them (a sidecar that only writes keeps
 * them near empty); reads over more data than that re-read marks from the page cache instead.
 * Server settings, so they are given when the engine starts (the first Session in the process).
 */
export const EMBEDDED_ENGINE_ARGS: readonly string[] = [
  `--mark_cache_size=${48 * 1024 * 1024}`,
  `--index_mark_cache_size=${16 * 1024 * 1024}`,
  `--primary_index_cache_size=${16 * 1024 * 1024}`,
  `--query_condition_cache_size=${8 * 1024 * 1024}`,
  `--compiled_expression_cache_size=${8 * 1024 * 1024}`,
];

/**
 * MergeTree settings for every table of the embedded engine (issue #16's soak, #18), given as the
 * engine's configuration file (`--config-file`; MergeTree settings have no command-line form).
 * chdb removes merged-away parts with no delay (`old_parts_lifetime` 0), but only when a table's
 * cleanup runs, and with the defaults (`cleanup_delay_period` 30 s, up to 10 s random, backing off
 * to 300 s) that is every 30 s to minutes: under the exporter's inserts every 2 s into
 * `otel_traces` and the eight tables its views fill, outdated parts piled up by the hundreds (693
 * after 3 minutes at 300 calls/s), each holding its metadata, index and marks in memory (the
 * engine's tracked memory rose ~6 MB/min with them). Cleanup every 5-10 s keeps them at tens
 * (every 1-2 s did too, at no CPU difference measurable on the shared machine). A part a running
 * query still reads is never removed.
 */
export const EMBEDDED_MERGE_TREE_SETTINGS: Readonly<Record<string, number>> = {
  cleanup_delay_period: 5,
  cleanup_delay_period_random_add: 0,
  max_cleanup_delay_period: 10,
  // Vertical merges from 1,024 rows (default 131,072): a horizontal merge holds every column of a
  // block at once, and for otel_traces with its attribute maps and full-text indexes that peaked at
  // 100-160 MB (system.merges) merging 25,000-46,000 rows; vertical, 31-43 MB.
  vertical_merge_algorithm_min_rows_to_activate: 1024,
};

/** The engine's configuration file: written into the data directory at each open. */
export const EMBEDDED_ENGINE_CONFIG_FILE = 'llm-sidecar-engine.xml';

function engineConfigXml(): string {
  const mergeTree = Object.entries(EMBEDDED_MERGE_TREE_SETTINGS).map(([k, v]) => `    <${k}>${v}</${k}>`);
  return ['<clickhouse>', '  <merge_tree>', ...mergeTree, '  </merge_tree>', '</clickhouse>', ''].join('\n');
}

/** chdb's own default chunk size for stream inserts. */
const MIN_CHUNK_BYTES = 8 * 1024 * 1024;

export const DEFAULT_EMBEDDED_DATA_DIR = './.llm-sidecar/clickhouse';

export interface EmbeddedStoreOptions {
  /** Default ./.llm-sidecar/clickhouse (relative to the working directory). */
  dataDir?: string;
  /** Default database (created at open). */
  database?: string;
}

export async function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<ClickHouseStore> {
  const database = assertIdentifier(options.database ?? DEFAULT_DATABASE, 'database');
  const location = resolve(options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR);
  const fail = (err: unknown, operation: StoreOperation, extra: { table?: string; sql?: string } = {}) =>
    toStoreError(err, { store: 'embedded', location, operation, ...extra });

  let session: Session;
  let drainPending: () => Promise<void>;
  try {
    // Loaded on demand: a sidecar that writes to a ClickHouse server never loads the native engine.
    const chdb = await import('chdb');
    drainPending = chdb.drainPending;
    await mkdir(location, { recursive: true });
    const configFile = join(location, EMBEDDED_ENGINE_CONFIG_FILE);
    await writeFile(configFile, engineConfigXml());
    session = new chdb.Session(location, { connectionArgs: [...EMBEDDED_ENGINE_ARGS, `--config-file=${configFile}`] });
  } catch (err) {
    const wrapped = fail(err, 'open');
    if (/Cannot lock file/.test(wrapped.message)) {
      throw new ClickHouseStoreError(
        `embedded ClickHouse (${location}): open failed: the data directory is in use by another process (one process per data directory; point this one at a ClickHouse server or another directory)`,
        { store: 'embedded', location, operation: 'open' },
        { retryable: false, cause: err },
      );
    }
    throw wrapped;
  }

  try {
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    // Session-scoped (chdb keeps SET per Session): unqualified names, exact 64-bit ints and decimals.
    await session.queryAsync(`USE \`${database}\``);
    await session.queryAsync('SET output_format_json_quote_64bit_integers = 1, output_format_json_quote_decimals = 1');
  } catch (err) {
    session.close();
    throw fail(err, 'open');
  }

  // close() waits for these: closing a connection under a running operation aborts the engine.
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  function track<T>(operation: StoreOperation, work: () => Promise<T>, extra: { table?: string; sql?: string } = {}): Promise<T> {
    if (closed) return Promise.reject(fail(new Error('the store is closed'), operation, extra));
    const p = work().catch((err: unknown) => {
      throw fail(err, operation, extra);
    });
    inFlight.add(p);
    const done = () => inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  function insertJsonLines(table: string, lines: JsonLines, insertOptions?: InsertOptions): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return track('insert', async () => {
      assertTableName(table);
      const token = insertOptions?.dedupToken;
      // chdb defaults to async_insert=1 (ClickHouse 26's default). In-process there is no round
      // trip to amortise, and a plain insert is the case where ClickHouse documents token
      // deduplication for non-replicated tables (what the exporter's replay relies on).
      const settings: Record<string, string | number> = { async_insert: 0 };
      if (token !== undefined) settings.insert_deduplication_token = token;
      // The engine parses the JSON (no per-value work in JS); the body is built a slice at a time
      // so that the event loop keeps serving. One chunk, so one INSERT: the dedup token covers the
      // whole batch (a second chunk under the same token would be dropped as a duplicate).
      await session.insert({ table, values: jsonLinesBody(lines), format: 'JSONEachRow', settings, maxChunkBytes: Math.max(MIN_CHUNK_BYTES, jsonLinesMaxBytes(lines) + 1) });
    }, { table });
  }

  return {
    kind: 'embedded',
    database,
    location,

    command(sql) {
      return track('command', async () => {
        await session.queryAsync(sql);
      }, { sql });
    },

    query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      return track('query', async () => {
        const result = params && Object.keys(params).length > 0 ? await session.queryBindAsync(sql, params, { format: 'JSONEachRow' }) : await session.queryAsync(sql, { format: 'JSONEachRow' });
        const text = result.text();
        if (text.length === 0) return [];
        return text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as T);
      }, { sql });
    },

    insert(table: string, rows: readonly object[], insertOptions?: InsertOptions) {
      return insertJsonLines(table, rows.map((row) => JSON.stringify(row)), insertOptions);
    },

    insertJsonLines,

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      session.close();
      // The engine frees the directory only when nothing native is left; another directory (or a
      // new Session) can be opened after this.
      await drainPending();
    },
  };
}
