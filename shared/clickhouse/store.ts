// The one door to ClickHouse for the proxy, the evaluator, the report and the migrations: this
// interface. Two implementations behind it, same SQL, same schema:
//   - embedded: chdb (ClickHouse in-process) on a data directory — the default, no server needed
//     (embedded-store.ts);
//   - server:   @clickhouse/client over HTTP to a ClickHouse server or cluster, scale-out (server-store.ts).
// open-store.ts picks one from the config. Every failure is a ClickHouseStoreError (store-error.ts):
// one line, which store, which table. Types only: importing it loads neither implementation.

import type { JsonLines } from './json-lines.ts';
import type { StoreKind } from './store-error.ts';

/** Values for `{name:Type}` placeholders; bound server-side, never spliced into the SQL text. */
export type QueryParams = Record<string, string | number | bigint | boolean | null | readonly (string | number)[]>;

export interface InsertOptions {
  /**
   * insert_deduplication_token: a second insert with the same token into the same table is
   * skipped by ClickHouse (within the table's deduplication window). Used to replay safely.
   */
  dedupToken?: string;
}

export interface ClickHouseStore {
  readonly kind: StoreKind;
  /** Database for unqualified names (created on first use). Product SQL qualifies names anyway. */
  readonly database: string;
  /** Data directory or server URL, for logs and messages (never credentials). */
  readonly location: string;

  /** Runs a statement that returns nothing (DDL, ALTER, INSERT … SELECT). */
  command(sql: string): Promise<void>;
  /**
   * Runs a SELECT (without FORMAT) and returns its rows. 64-bit integers and decimals come back as
   * strings (exact: a JS number cannot hold every UInt64 or Decimal(38, 12)); use Number() where
   * precision does not matter.
   */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows (objects keyed by column name, JSONEachRow semantics) into `table` or `db.table`. */
  insert(table: string, rows: readonly object[], options?: InsertOptions): Promise<void>;
  /**
   * The same, for rows already serialised (JSONEachRow), sent as they are: a string is one row's
   * JSON text; a Buffer is the UTF-8 text of whole rows, each ending in "\n" (json-lines.ts).
   */
  insertJsonLines(table: string, lines: JsonLines, options?: InsertOptions): Promise<void>;
  /** Waits for running operations, then releases the connection or the data directory. */
  close(): Promise<void>;
}
