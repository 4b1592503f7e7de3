// Test-only: a small ClickHouse-HTTP-interface server whose SQL runs in chdb (real ClickHouse), so
// the server store and @clickhouse/client can be tested without a ClickHouse server (none can be
// installed here). It implements what the client uses: GET /ping; POST / with the statement in the
// body (command, query) or in ?query= with the data in the body (insert; gzip bodies accepted);
// param_* query parameters; ?database=; any other URL parameter as a ClickHouse setting for that
// request only; errors as "Code: N. DB::Exception: … (TYPE)" with X-ClickHouse-Exception-Code;
// X-ClickHouse-Summary. Requests run one at a time (chdb runs queries one after another anyway),
// which is what makes per-request settings honest: SET before, SET … = DEFAULT after.
// stop() closes the socket but keeps the engine, and start() listens again on the same port: an
// outage and a recovery, as the exporter sees them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface HttpEndpointOptions {
  /** The chdb data directory (a test shares it with its embedded store: same engine, own Session). */
  dataDir: string;
  /** Required credentials; default user "default" with an empty password. */
  username?: string;
  password?: string;
  /** 0 = any free port (kept across stop/start). */
  port?: number;
}

export interface HttpEndpoint {
  readonly url: string;
  readonly port: number;
  /** Requests served so far (inserts, queries, pings). */
  readonly requests: number;
  start(): Promise<void>;
  /** Stops accepting and drops open connections; the engine keeps its data. */
  stop(): Promise<void>;
  /** stop() and release the chdb Session. */
  close(): Promise<void>;
}

/** URL parameters that are part of the HTTP protocol, not ClickHouse settings. */
const PROTOCOL_PARAMS = new Set(['query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check', 'role', 'user', 'password', 'quota_key']);
/** Settings that only mean something to the HTTP server layer (chdb rejects some of them). */
const HTTP_ONLY_SETTINGS = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'enable_http_compression', 'http_zlib_compression_level', 'http_response_buffer_size', 'http_headers_progress_interval_ms']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A param_* value arrives in ClickHouse's escaped text form; chdb takes the plain value and escapes it itself. */
function unescapeParam(text: string): string | null {
  if (text === '\\N') return null;
  return text.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' })[c] ?? c);
}

const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function httpStatusFor(code: number | undefined): number {
  if (code === 62) return 400; // SYNTAX_ERROR
  if (code === 60 || code === 81) return 404; // UNKNOWN_TABLE, UNKNOWN_DATABASE
  if (code === 516) return 401; // AUTHENTICATION_FAILED
  return 500;
}

export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const chdb = await import('chdb'); // on demand, like the embedded store: tests can skip when it cannot load
  const session = new chdb.Session(options.dataDir);
  const engineVersion = chdb.version().libchdb.replace(/"/g, '');
  const expectedUser = options.username ?? 'default';
  const expectedPassword = options.password ?? '';
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = options.port ?? 0;
  let requests = 0;
  let chain: Promise<unknown> = Promise.resolve();

  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work);
    chain = run.catch(() => undefined);
    return run;
  };

  function authenticated(req: IncomingMessage, url: URL): boolean {
    let user = req.headers['x-clickhouse-user'] ?? url.searchParams.get('user') ?? 'default';
    let password = req.headers['x-clickhouse-key'] ?? url.searchParams.get('password') ?? '';
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    return user === expectedUser && password === expectedPassword;
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
  }

  function sendError(res: ServerResponse, code: number | undefined, message: string): void {
    const text = /^Code: \d+\./.test(message) ? message : `Code: ${code ?? 1000}. DB::Exception: ${message}`;
    res.writeHead(httpStatusFor(code), { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(code ?? 1000) });
    res.end(`${text} (version ${engineVersion})\n`);
  }

  /** Runs one statement with this request's settings and database, then restores the session. */
  async function execute(sql: string, params: URLSearchParams): Promise<{ body: Uint8Array; rowsRead: number; bytesRead: number; elapsed: number }> {
    const settings: [string, string][] = [];
    const queryParams: Record<string, string | null> = {};
    for (const [key, value] of params) {
      if (key.startsWith('param_')) queryParams[key.slice(6)] = unescapeParam(value);
      else if (!PROTOCOL_PARAMS.has(key) && !HTTP_ONLY_SETTINGS.has(key)) {
        if (!IDENTIFIER.test(key)) throw Object.assign(new Error(`Code: 115. DB::Exception: Unknown setting '${key}'. (UNKNOWN_SETTING)`), { clickhouseCode: 115 });
        settings.push([key, value]);
      }
    }
    const database = params.get('database');
    try {
      if (settings.length > 0) await session.queryAsync(`SET ${settings.map(([k, v]) => `${k} = ${sqlString(v)}`).join(', ')}`);
      if (database !== null) {
        if (!IDENTIFIER.test(database)) throw Object.assign(new Error(`Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`), { clickhouseCode: 81 });
        await session.queryAsync(`USE \`${database}\``);
      }
      const format = { format: params.get('default_format') ?? 'TabSeparated' };
      const result = Object.keys(queryParams).length > 0 ? await session.queryBindAsync(sql, queryParams, format) : await session.queryAsync(sql, format);
      return { body: result.bytes(), rowsRead: result.rowsRead, bytesRead: result.bytesRead, elapsed: result.elapsed };
    } finally {
      // Restore the session for the next request; a failure here must not hide the request's own error.
      if (database !== null) await session.queryAsync('USE default').catch(() => undefined);
      if (settings.length > 0) await session.queryAsync(`SET ${settings.map(([k]) => `${k} = DEFAULT`).join(', ')}`).catch(() => undefined);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests += 1;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    if (url.pathname !== '/') {
      res.writeHead(404).end('There is no handle ' + url.pathname + '\n');
      return;
    }
    if (!authenticated(req, url)) {
      sendError(res, 516, `Code: 516. DB::Exception: ${expectedUser}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`);
      return;
    }
    const body = await readBody(req);
    const inUrl = url.searchParams.get('query');
    // With ?query=, the body is data (an INSERT's rows); otherwise the body is the statement.
    let sql = inUrl ?? body;
    if (inUrl !== null && body.trim().length > 0) sql = `${inUrl}\n${body}`;
    else if (inUrl !== null && /^\s*INSERT\b/i.test(inUrl)) {
      // An insert without rows is a no-op for ClickHouse; chdb would answer "No data to insert".
      res.writeHead(200, { 'X-ClickHouse-Summary': JSON.stringify(summary(0, 0, 0, 0)) }).end();
      return;
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    try {
      const result = await exclusive(() => execute(sql, url.searchParams));
      const isInsert = /^\s*INSERT\b/i.test(sql);
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Summary': JSON.stringify(summary(result.rowsRead, result.bytesRead, isInsert ? result.rowsRead : 0, result.elapsed)),
      });
      res.end(Buffer.from(result.body));
    } catch (err) {
      const fields = (err ?? {}) as { clickhouseCode?: unknown; message?: unknown };
      sendError(res, typeof fields.clickhouseCode === 'number' ? fields.clickhouseCode : undefined, String(fields.message ?? err));
    }
  }

  function summary(readRows: number, readBytes: number, writtenRows: number, elapsedSeconds: number) {
    return {
      read_rows: String(readRows),
      read_bytes: String(readBytes),
      written_rows: String(writtenRows),
      written_bytes: '0',
      total_rows_to_read: '0',
      result_rows: String(readRows),
      result_bytes: String(readBytes),
      elapsed_ns: String(Math.round(elapsedSeconds * 1e9)),
    };
  }

  const endpoint = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get requests() {
      return requests;
    },
    async start() {
      if (server !== undefined) return;
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (!res.headersSent) sendError(res, undefined, err instanceof Error ? err.message : String(err));
          else res.destroy();
        });
      });
      s.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolveListen, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolveListen());
      });
      port = (s.address() as AddressInfo).port;
      server = s;
    },
    async stop() {
      const s = server;
      if (s === undefined) return;
      server = undefined;
      const closed = new Promise<void>((r) => s.close(() => r()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async close() {
      await endpoint.stop();
      await chain;
      session.close();
    },
  };
  await endpoint.start();
  return endpoint;
}
