// `telemetry.clickhouse.serve`: a read-only ClickHouse-compatible HTTP endpoint over the embedded
// store, so Grafana's ClickHouse datasource (HTTP protocol) shows the three dashboards and runs the
// alert rules on laptop data. It opens its own chdb Session on the store's data directory (same
// engine, same process: the proxy keeps writing through its own Session) and makes it read-only
// for good with `readonly = 1` before serving anything: writes, DDL, table functions that reach
// files or URLs and every settings change are refused by ClickHouse itself. On top, only
// SELECT / WITH / SHOW / DESCRIBE / EXISTS statements are accepted and URL settings are refused
// (Code 164, READONLY), so a refusal is explicit rather than an engine error.
//
// What the client uses of the HTTP interface: GET /ping; GET or POST / with the statement in
// ?query= and/or the body (gzip bodies accepted); param_* query parameters; ?database=;
// ?default_format=; errors as "Code: N. DB::Exception: …" with X-ClickHouse-Exception-Code. Requests
// run one at a time (chdb runs queries one after another anyway).
import { timingSafeEqual, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ClickHouseServeOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Both or neither; neither = user `default` with an empty password (loopback only: the config refuses it elsewhere). */
  username?: string;
  password?: string;
  /** Per-query limits set before the session turns read-only. */
  maxExecutionSeconds?: number;
  maxResultBytes?: number;
}

export interface ClickHouseServe {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** URL parameters that belong to the HTTP protocol, not ClickHouse settings. */
const PROTOCOL_PARAMS = new Set(['query', 'query_id', 'database', 'default_format', 'user', 'password', 'quota_key', 'session_id', 'session_timeout', 'session_check']);
/** Settings only meaningful to an HTTP server layer: accepted and ignored (the client may send them). */
const HTTP_ONLY_SETTINGS = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'enable_http_compression', 'http_zlib_compression_level', 'http_headers_progress_interval_ms', 'http_response_buffer_size']);
const READ_STATEMENT = /^(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS)\b/i;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_BODY_BYTES = 1024 * 1024;
const ERROR_CODE = { syntax: 62, unknownTable: 60, unknownDatabase: 81, readonly: 164, auth: 516, tooLarge: 307, other: 1000 } as const;

class ServeError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The statement without leading comments and opening parentheses, for the first-keyword check. */
function leadingKeyword(sql: string): string {
  let s = sql;
  for (;;) {
    const before = s;
    s = s.replace(/^\s+/, '').replace(/^--[^\n]*(\n|$)/, '').replace(/^\/\*[\s\S]*?\*\//, '').replace(/^\(/, '');
    if (s === before) return s;
  }
}

/** True when text follows a `;` outside quotes and comments: chdb would run a second statement. */
export function hasSecondStatement(sql: string): boolean {
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"' || c === '`') {
      i += 1;
      while (i < sql.length && sql[i] !== c) i += sql[i] === '\\' ? 2 : 1;
      i += 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i += 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === ';') {
      return leadingKeyword(sql.slice(i + 1)).length > 0;
    } else i += 1;
  }
  return false;
}

function httpStatus(code: number): number {
  if (code === ERROR_CODE.auth) return 401;
  if (code === ERROR_CODE.readonly) return 403;
  if (code === ERROR_CODE.unknownTable || code === ERROR_CODE.unknownDatabase) return 404;
  if (code === ERROR_CODE.tooLarge) return 413;
  // Any other query error is the query's (bad SQL, unknown column…): a 400, never a 5xx of ours.
  return 400;
}

/** A param_* value arrives in ClickHouse's escaped text form; chdb takes the plain value. */
function unescapeParam(text: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' })[c] ?? c);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startClickHouseServe(options: ClickHouseServeOptions): Promise<ClickHouseServe> {
  const chdb = await import('chdb');
  const session = new chdb.Session(options.dataDir);
  // Limits first, then read-only: after this SET no statement of this session can change them.
  await session.queryAsync(
    `SET max_execution_time = ${Math.floor(options.maxExecutionSeconds ?? 60)}, max_result_bytes = ${Math.floor(options.maxResultBytes ?? 256 * 1024 * 1024)}, readonly = 1`,
  );
  const expectedUser = options.username ?? 'default';
  const expectedPassword = options.password ?? '';
  const sockets = new Set<Socket>();
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work);
    chain = run.catch(() => undefined);
    return run;
  };

  function authenticate(req: IncomingMessage, url: URL): void {
    let user = String(req.headers['x-clickhouse-user'] ?? url.searchParams.get('user') ?? 'default');
    let password = String(req.headers['x-clickhouse-key'] ?? url.searchParams.get('password') ?? '');
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = colon < 0 ? decoded : decoded.slice(0, colon);
      password = colon < 0 ? '' : decoded.slice(colon + 1);
    }
    if (!(sameSecret(user, expectedUser) && sameSecret(password, expectedPassword))) {
      throw new ServeError(ERROR_CODE.auth, `${user.slice(0, 64)}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`);
    }
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new ServeError(ERROR_CODE.tooLarge, `the query is larger than ${MAX_BODY_BYTES} bytes (QUERY_IS_TOO_LARGE)`);
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') {
      try {
        return gunzipSync(raw, { maxOutputLength: MAX_BODY_BYTES }).toString('utf8');
      } catch {
        throw new ServeError(ERROR_CODE.tooLarge, 'the gzip body is invalid or larger than 1 MiB once decompressed');
      }
    }
    return raw.toString('utf8');
  }

  async function run(sql: string, url: URL): Promise<{ body: Uint8Array; rowsRead: number; bytesRead: number; elapsed: number }> {
    if (hasSecondStatement(sql)) throw new ServeError(ERROR_CODE.syntax, 'Multi-statements are not allowed. (SYNTAX_ERROR)');
    // chdb is an embedded engine: INTO OUTFILE would write on this machine. Refused wherever it appears.
    if (/\bINTO\s+OUTFILE\b/i.test(sql)) throw new ServeError(ERROR_CODE.readonly, 'INTO OUTFILE is not allowed on llm-sidecar\'s read-only endpoint. (READONLY)');
    if (!READ_STATEMENT.test(leadingKeyword(sql))) {
      throw new ServeError(ERROR_CODE.readonly, 'llm-sidecar serves the embedded store read-only: SELECT, WITH, SHOW, DESCRIBE and EXISTS only. (READONLY)');
    }
    const params: Record<string, string> = {};
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) params[key.slice(6)] = unescapeParam(value);
      else if (!PROTOCOL_PARAMS.has(key) && !HTTP_ONLY_SETTINGS.has(key)) {
        throw new ServeError(ERROR_CODE.readonly, `Cannot modify '${key.slice(0, 64)}' setting in readonly mode: llm-sidecar's endpoint refuses settings changes. (READONLY)`);
      }
    }
    const database = url.searchParams.get('database') ?? 'default';
    if (!IDENTIFIER.test(database)) throw new ServeError(ERROR_CODE.unknownDatabase, `Database ${database.slice(0, 64)} does not exist. (UNKNOWN_DATABASE)`);
    return exclusive(async () => {
      await session.queryAsync(`USE \`${database}\``);
      const format = { format: url.searchParams.get('default_format') ?? 'TabSeparated' };
      const result = Object.keys(params).length > 0 ? await session.queryBindAsync(sql, params, format) : await session.queryAsync(sql, format);
      return { body: result.bytes(), rowsRead: result.rowsRead, bytesRead: result.bytesRead, elapsed: result.elapsed };
    });
  }

  function sendError(res: ServerResponse, code: number, message: string): void {
    const text = /^Code: \d+\./.test(message) ? message : `Code: ${code}. DB::Exception: ${message}`;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(httpStatus(code), { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(code) });
    res.end(`${text}\n`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    if (url.pathname !== '/' || (req.method !== 'GET' && req.method !== 'POST')) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' }).end(`There is no handle ${req.method} ${url.pathname.slice(0, 200)} (llm-sidecar's read-only endpoint: GET /ping, GET or POST /)\n`);
      return;
    }
    authenticate(req, url);
    const body = await readBody(req);
    const inUrl = url.searchParams.get('query');
    const sql = inUrl === null ? body : body.trim().length > 0 ? `${inUrl}\n${body}` : inUrl;
    if (sql.trim().length === 0) throw new ServeError(ERROR_CODE.syntax, 'Empty query. (SYNTAX_ERROR)');
    const r = await run(sql, url);
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Query-Id': url.searchParams.get('query_id') ?? randomUUID(),
      'X-ClickHouse-Summary': JSON.stringify({ read_rows: String(r.rowsRead), read_bytes: String(r.bytesRead), written_rows: '0', written_bytes: '0', total_rows_to_read: String(r.rowsRead), result_rows: '0', result_bytes: String(r.body.length), elapsed_ns: String(Math.round(r.elapsed * 1e9)) }),
    });
    res.end(r.body);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!req.complete) req.resume();
      if (err instanceof ServeError) sendError(res, err.code, err.message);
      else {
        const message = (err as Error).message ?? String(err);
        const code = /Code: (\d+)\./.exec(message)?.[1];
        sendError(res, code ? Number(code) : ERROR_CODE.other, message);
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    session.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await chain.catch(() => undefined);
      session.close();
    },
  };
}
