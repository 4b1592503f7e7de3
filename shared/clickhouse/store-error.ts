// One error type for every ClickHouse failure, whichever store raised it: a one-line message that
// says which store, which operation and which table, what ClickHouse (or the network) answered,
// and whether trying again later can help. The original error stays in `cause` for debugging;
// the message never carries a stack trace or a whole statement.

export type StoreKind = 'embedded' | 'server';
export type StoreOperation = 'open' | 'command' | 'query' | 'insert' | 'close';

/**
 * ClickHouse error codes that mean "this data or statement is wrong": retrying cannot help
 * (a spooled batch failing with one of these is dropped rather than retried forever).
 */
const PERMANENT_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  62, // SYNTAX_ERROR
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
]);

export interface StoreErrorContext {
  store: StoreKind;
  /** Where: the data directory or the server URL (never credentials). */
  location: string;
  operation: StoreOperation;
  table?: string;
  sql?: string;
}

export class ClickHouseStoreError extends Error {
  override readonly name = 'ClickHouseStoreError';
  readonly store: StoreKind;
  readonly operation: StoreOperation;
  readonly table: string | undefined;
  /** ClickHouse's error code and name when the engine answered (undefined for network errors). */
  readonly code: number | undefined;
  readonly type: string | undefined;
  /** False when retrying the same statement or data cannot succeed. */
  readonly retryable: boolean;

  constructor(message: string, context: StoreErrorContext, details: { code?: number; type?: string; retryable: boolean; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.store = context.store;
    this.operation = context.operation;
    this.table = context.table;
    this.code = details.code;
    this.type = details.type;
    this.retryable = details.retryable;
  }
}

const CODE_RE = /Code: (\d+)\./;
const TYPE_RE = /\(([A-Z][A-Z0-9_]{2,})\)/g;

/** ClickHouse's code, type and bare message out of "Code: 60. DB::Exception: … (UNKNOWN_TABLE) (version …)". */
function parseClickHouseMessage(text: string): { code?: number; type?: string; message: string } {
  const codeMatch = CODE_RE.exec(text);
  const types = [...text.matchAll(TYPE_RE)].map((m) => m[1]);
  let message = text.replace(/^.*?DB::Exception: /s, '').replace(/\s*\(version [^)]*\)\s*$/, '');
  const type = types.at(-1);
  if (type !== undefined) message = message.replace(new RegExp(`\\s*\\(${type}\\)\\s*\\.?\\s*$`), '');
  return { code: codeMatch?.[1] !== undefined ? Number(codeMatch[1]) : undefined, type, message };
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Wraps anything thrown by chdb, @clickhouse/client or the network into a ClickHouseStoreError. */
export function toStoreError(err: unknown, context: StoreErrorContext): ClickHouseStoreError {
  if (err instanceof ClickHouseStoreError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const fields = err !== null && typeof err === 'object' ? (err as Record<string, unknown>) : {};
  // chdb: .clickhouseCode; @clickhouse/client ClickHouseError: .code (string) + .type; Node: .code 'ECONNREFUSED'.
  const parsed = parseClickHouseMessage(raw);
  const numericCode = typeof fields.clickhouseCode === 'number' ? fields.clickhouseCode : typeof fields.code === 'string' && /^\d+$/.test(fields.code) ? Number(fields.code) : parsed.code;
  const type = typeof fields.type === 'string' ? fields.type : parsed.type;
  const networkCode = typeof fields.code === 'string' && !/^\d+$/.test(fields.code) && !fields.code.startsWith('CHDB_') ? fields.code : undefined;

  const label = context.store === 'embedded' ? `embedded ClickHouse (${context.location})` : `ClickHouse server ${context.location}`;
  const what = context.operation === 'insert' ? `insert into ${context.table ?? '?'}` : context.operation;
  let reason: string;
  if (numericCode !== undefined) reason = `${type ?? `code ${numericCode}`}: ${oneLine(parsed.message, 300)}`;
  else if (networkCode !== undefined) reason = `cannot reach it: ${oneLine(raw.includes(networkCode) ? raw : `${networkCode} ${raw}`, 160)}`;
  else reason = oneLine(raw || 'unknown error', 300);
  const statement = context.sql !== undefined && context.operation !== 'insert' ? ` [SQL: ${oneLine(context.sql, 100)}]` : '';

  return new ClickHouseStoreError(`${label}: ${what} failed: ${reason}${statement}`, context, {
    code: numericCode,
    type,
    retryable: numericCode === undefined || !PERMANENT_CODES.has(numericCode),
    cause: err,
  });
}
