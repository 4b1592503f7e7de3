// `telemetry.clickhouse.serve`: a read-only ClickHouse-compatible HTTP endpoint over the embedded
// store, so Grafana's ClickHouse datasource (HTTP protocol) shows the three dashboards and runs the
// alert rules on laptop data. It opens its own chdb Session on the store's data directory (same
// engine, same process: the proxy keeps writing through its own Session) and makes it read-only
// for good with `readonly = 1` (and a per-query memory limit) before serving anything: writes, DDL,
// table functions in a SELECT and every settings change are refused by ClickHouse itself. readonly
// does not cover everything an embedded engine can reach, so on top the statement is lexed as
// ClickHouse lexes it (tokenize) and only one SELECT / WITH / SHOW / DESCRIBE / EXISTS statement
// is accepted, with no INTO OUTFILE (a file written on this machine) and no call of a function
// that reads files or URLs (the scalar file() reads any path, /proc/self/environ and its keys
// included; DESCRIBE url(...) fetches the URL); URL settings are refused (Code 164, READONLY).
//
// What the client uses of the HTTP interface: GET /ping; GET or POST / with the statement in
// ?query= and/or the body (gzip bodies accepted); param_* query parameters; ?database=;
// ?default_format=; errors as "Code: N. DB::Exception: …" with X-ClickHouse-Exception-Code. Requests
// run one at a time (chdb runs queries one after another anyway).
import { createHash, timingSafeEqual, randomUUID } from 'node:crypto';
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
  /** Per-query memory limit (chdb's default is none: one query could take the memory of the process that runs the proxy). */
  maxMemoryBytes?: number;
  /** Connections at once (more are closed on accept; Grafana uses a handful). Default 64. */
  maxConnections?: number;
  /** Request headers must arrive within this (408 otherwise). Default 10 s. */
  headersTimeoutMs?: number;
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
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const ERROR_CODE = { syntax: 62, unknownTable: 60, unknownDatabase: 81, readonly: 164, auth: 516, tooLarge: 307, other: 1000 } as const;

class ServeError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Token {
  kind: 'word' | 'number' | 'string' | 'quoted' | 'punct';
  text: string;
}

/**
 * Table and scalar functions that reach this machine's files, URLs or other servers. `readonly = 1`
 * refuses most of them in a SELECT, but not the scalar `file()` (it reads any path, the process's
 * /proc/self/environ and the provider keys in it included) nor DESCRIBE's schema inference (which
 * fetches a url() or reads a file()): they are refused here by name, wherever they are called.
 */
const REACHING_FUNCTION =
  /^(file|fileCluster|filesystem|url|urlCluster|s3|s3Cluster|gcs|oss|cosn|hdfs|hdfsCluster|azure\w*|remote|remoteSecure|cluster|clusterAllReplicas|mysql|postgresql|sqlite|mongodb|redis|jdbc|odbc|executable|input|eval|ytsaurus|arrowFlight|arrowStream|prometheus\w*|iceberg\w*|deltaLake\w*|hudi\w*|paimon\w*|catboost\w*)$/i;
const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESC', 'DESCRIBE', 'EXISTS']);
const UNICODE_QUOTES = new Set(['\u2018', '\u2019', '\u201C', '\u201D']);

function refuse(code: number, message: string): never {
  throw new ServeError(code, message);
}

/**
 * Splits a statement into tokens the way ClickHouse's lexer does, so the checks below see what the
 * engine will run: `--` and `#` comments, nested block comments, '…' strings and "…" / `…`
 * identifiers with backslash escapes. What this lexer cannot follow exactly — a heredoc (`$$…$$`,
 * any `$` outside a word or a string) and Unicode quotes (‘…’, “…”, which ClickHouse also reads as
 * quotes) — is refused rather than guessed: a guess that puts text inside a string the engine
 * reads as code would hide a second statement or an INTO OUTFILE.
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (q: string): number => {
    let j = i + 1;
    while (j < sql.length && sql[j] !== q) j += sql[j] === '\\' ? 2 : 1;
    return Math.min(j + 1, sql.length);
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) i += 1;
    else if ((c === '-' && sql[i + 1] === '-') || c === '#') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        const pair = sql.slice(i, i + 2);
        depth += pair === '/*' ? 1 : pair === '*/' ? -1 : 0;
        i += pair === '/*' || pair === '*/' ? 2 : 1;
      }
    } else if (c === "'" || c === '"' || c === '`') {
      const end = quoted(c);
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i, end) });
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      // ClickHouse reads `$` inside a name as part of it (a$b is one identifier).
      let end = i + 1;
      while (end < sql.length && /[A-Za-z0-9_$]/.test(sql[end] as string)) end += 1;
      tokens.push({ kind: 'word', text: sql.slice(i, end) });
      i = end;
    } else if (/[0-9]/.test(c)) {
      let end = i + 1;
      while (end < sql.length && /[A-Za-z0-9_.]/.test(sql[end] as string)) end += 1;
      tokens.push({ kind: 'number', text: sql.slice(i, end) });
      i = end;
    } else if (c === '$') {
      refuse(ERROR_CODE.syntax, "'$' outside a string or a name (a heredoc) is not accepted by llm-sidecar's read-only endpoint. (SYNTAX_ERROR)");
    } else if (UNICODE_QUOTES.has(c)) {
      refuse(ERROR_CODE.syntax, "Unicode quotes are not accepted by llm-sidecar's read-only endpoint: use ' or \". (SYNTAX_ERROR)");
    } else {
      tokens.push({ kind: 'punct', text: c });
      i += 1;
    }
  }
  return tokens;
}

/** Throws the endpoint's refusal unless `sql` is one read statement that reaches nothing outside the store. */
export function checkReadStatement(sql: string): void {
  const tokens = tokenize(sql);
  const semicolon = tokens.findIndex((t) => t.kind === 'punct' && t.text === ';');
  if (semicolon >= 0 && semicolon < tokens.length - 1) refuse(ERROR_CODE.syntax, 'Multi-statements are not allowed. (SYNTAX_ERROR)');
  const first = tokens.find((t) => !(t.kind === 'punct' && t.text === '('));
  if (!(first?.kind === 'word' && READ_KEYWORDS.has(first.text.toUpperCase()))) {
    refuse(ERROR_CODE.readonly, 'llm-sidecar serves the embedded store read-only: SELECT, WITH, SHOW, DESCRIBE and EXISTS only. (READONLY)');
  }
  tokens.forEach((t, k) => {
    // chdb is an embedded engine: INTO OUTFILE would write on this machine.
    if (t.kind === 'word' && t.text.toUpperCase() === 'OUTFILE') refuse(ERROR_CODE.readonly, "INTO OUTFILE is not allowed on llm-sidecar's read-only endpoint. (READONLY)");
    const next = tokens[k + 1];
    if (next?.kind !== 'punct' || next.text !== '(') return;
    if (t.kind === 'quoted') refuse(ERROR_CODE.readonly, "A quoted function name is not accepted by llm-sidecar's read-only endpoint. (READONLY)");
    if (t.kind === 'word' && REACHING_FUNCTION.test(t.text)) {
      refuse(ERROR_CODE.readonly, `${t.text.slice(0, 64)}() reaches files, URLs or other servers: cannot call it in readonly mode on llm-sidecar's endpoint. (READONLY)`);
    }
  });
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

/** Constant time in the secret's length too: both sides are compared as sha256 digests (equal length). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export async function startClickHouseServe(options: ClickHouseServeOptions): Promise<ClickHouseServe> {
  const chdb = await import('chdb');
  const session = new chdb.Session(options.dataDir);
  // Limits first, then read-only: after this SET no statement of this session can change them.
  await session.queryAsync(
    `SET max_execution_time = ${Math.floor(options.maxExecutionSeconds ?? 60)}, max_result_bytes = ${Math.floor(options.maxResultBytes ?? 256 * 1024 * 1024)}, max_memory_usage = ${Math.floor(options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES)}, readonly = 1`,
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
    checkReadStatement(sql);
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

  // Unauthenticated connections are file descriptors of the proxy's process too: bounded in number
  // and in how long they may take to send their request (Node's defaults: unbounded, 60 s / 300 s).
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server: Server = createServer({ headersTimeout, requestTimeout: headersTimeout + 30_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
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
      server.maxConnections = options.maxConnections ?? 64;
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
