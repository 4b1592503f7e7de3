// Attacks on `telemetry.clickhouse.serve`, the read-only ClickHouse HTTP endpoint over the embedded
// store (shared/clickhouse-serve.ts). chdb runs inside the sidecar's process, so `readonly = 1` is
// not the whole story: the scalar file() read any path (the process's /proc/self/environ, where the
// provider keys are), DESCRIBE url(...) fetched any URL, INTO OUTFILE with a comment between the two
// words wrote a file, a `#!` comment, a heredoc, Unicode quotes or a nested block comment hid a
// second statement from the multi-statement check, and no per-query memory limit was set (chdb has
// none). Every attack here was answered 200 before the fix. Real chdb, real HTTP.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseServe, tokenize, type ClickHouseServe } from '../../shared/clickhouse-serve.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { until } from '../support/wait.ts';

const hasChdb = await chdbAvailable();

describe('the read-only endpoint lexer', () => {
  it('reads comments, nested comments and quotes as ClickHouse does, and refuses what it cannot follow', () => {
    const words = (sql: string) => tokenize(sql).filter((t) => t.kind === 'word').map((t) => t.text);
    expect(words("SELECT 'a;b' -- x\n, \"c\" # y\n FROM t")).toEqual(['SELECT', 'FROM', 't']);
    expect(words("SELECT 1 /* /* */ ' */ OUTFILE")).toEqual(['SELECT', 'OUTFILE']);
    expect(words("SELECT 'it\\'s' AS a$b")).toEqual(['SELECT', 'AS', 'a$b']);
    expect(() => tokenize("SELECT $$'$$")).toThrow(/heredoc/);
    expect(() => tokenize('SELECT \u2018x\u2019')).toThrow(/Unicode quotes/);
  });
});

describe.skipIf(!hasChdb)('hostile queries on telemetry.clickhouse.serve', () => {
  let serve: ClickHouseServe;
  let dir: string;
  let target: Server;
  let targetUrl: string;
  let targetHits = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hostile-serve-'));
    const chdb = await import('chdb');
    const setup = new chdb.Session(join(dir, 'data'));
    await setup.queryAsync('CREATE DATABASE IF NOT EXISTS otel');
    await setup.queryAsync('CREATE TABLE otel.t (file String, n UInt64) ENGINE = MergeTree ORDER BY n');
    await setup.queryAsync("INSERT INTO otel.t VALUES ('a;b', 1), ('$x', 2)");
    setup.close();
    target = createServer((_req, res) => {
      targetHits += 1;
      res.end('a,b\n1,2\n');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/x.csv`;
    serve = await startClickHouseServe({ dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, maxMemoryBytes: 64 * 1024 * 1024, maxConnections: 8, headersTimeoutMs: 1_000 });
  }, 120_000);

  afterAll(async () => {
    await serve?.close();
    target?.close();
  });

  const query = async (sql: string, database = 'otel') => {
    const res = await fetch(`${serve.url}/?database=${database}`, { method: 'POST', body: sql });
    return { status: res.status, code: res.headers.get('x-clickhouse-exception-code'), body: await res.text() };
  };

  it('serves ordinary reads: `;`, `$`, `--`, `file` inside strings, comments and names', async () => {
    expect(await query("SELECT file, n FROM t WHERE file != 'file(\\'/etc/passwd\\')' ORDER BY n -- ; DROP")).toMatchObject({ status: 200, body: 'a;b\t1\n$x\t2\n' });
    expect(await query('/* c */ (SELECT count() FROM t);\n')).toMatchObject({ status: 200, body: '2\n' });
    expect(await query("SELECT n AS a$b FROM t WHERE file LIKE '$%'")).toMatchObject({ status: 200, body: '2\n' });
  });

  it('refuses file() however it is spelled: no file of the machine is read', async () => {
    const hostname = readFileSync('/etc/hostname', 'utf8').trim();
    for (const sql of [
      "SELECT file('/etc/hostname')",
      'SELECT `file`(\'/etc/hostname\')',
      "SELECT file /* x */ ('/etc/hostname')",
      "SELECT length(file('/proc/self/environ'))",
      "SELECT n FROM t WHERE file = file('/etc/hostname')",
      "DESC TABLE file('/etc/hostname', 'LineAsString')",
    ]) {
      const r = await query(sql);
      expect(r, sql).toMatchObject({ status: 403, code: '164' });
      expect(r.body, sql).not.toContain(hostname);
    }
  });

  it('refuses DESCRIBE of a url(), s3(), lake or filesystem table function: nothing is fetched', async () => {
    for (const sql of [
      `DESC url('${targetUrl}', 'CSV')`,
      `DESCRIBE TABLE url('${targetUrl}', 'CSV')`,
      `SELECT * FROM url('${targetUrl}', 'CSV')`,
      `DESC s3('${targetUrl}', 'CSV')`,
      `DESC icebergS3('${targetUrl}')`,
      `DESC paimonLocal('/tmp')`,
      "DESC filesystem('/')",
      "SELECT catboostEvaluate('/tmp/model.bin', 1)",
    ]) {
      expect(await query(sql), sql).toMatchObject({ status: 403, code: '164' });
    }
    expect(targetHits).toBe(0);
  });

  it('refuses INTO OUTFILE with comments between the words: no file is written', async () => {
    const out = (k: number) => join(dir, `out${k}.txt`);
    const shapes = [`INTO/**/OUTFILE '${out(1)}'`, `INTO\n-- c\nOUTFILE '${out(2)}'`, `INTO #!\nOUTFILE '${out(3)}'`, `INTO OUTFILE '${out(4)}'`];
    for (const [k, shape] of shapes.entries()) {
      expect(await query(`SELECT 1 ${shape}`), shape).toMatchObject({ status: 403, code: '164' });
      expect(existsSync(out(k + 1)), shape).toBe(false);
    }
  });

  it('refuses a second statement hidden by a comment, a heredoc, Unicode quotes or a nested comment', async () => {
    for (const sql of [
      "SELECT 1 #! ';\n; SELECT 2 -- '",
      "SELECT $$'$$; SELECT 2 -- '",
      "SELECT \u2018'\u2019; SELECT 2 -- '",
      "SELECT 1 /* /* */ ' */ ; SELECT 2 -- '",
    ]) {
      const r = await query(sql);
      expect(r.status, sql).toBe(400);
      expect(r.code, sql).toBe('62');
    }
  });

  it('bounds connections (more closed on accept) and the time to send a request (408)', async () => {
    const { port } = serve;
    const opened: Socket[] = [];
    try {
      const flood = Array.from({ length: 12 }, () => {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        opened.push(s);
        return s;
      });
      // Keep-alive sockets of earlier fetches may hold slots too: at least the 4 past the cap go.
      await until('the connections past the cap are closed by the server', () => flood.filter((s) => s.closed).length >= 4);
      for (const s of flood) s.destroy();
      await until('the endpoint serves again once the flood is gone', async () => (await query('SELECT 1')).status === 200);
      const trickle = connect(port, '127.0.0.1');
      opened.push(trickle);
      let received = '';
      trickle.on('data', (d: Buffer) => (received += d.toString('latin1')));
      trickle.on('error', () => undefined);
      trickle.write('POST / HTTP/1.1\r\nHost: x\r\n');
      await until('the trickling connection is closed by the server', () => trickle.closed, { timeoutMs: 8_000 });
      expect(received).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      for (const s of opened) s.destroy();
    }
    expect(await query('SELECT 1')).toMatchObject({ status: 200, body: '1\n' });
  });

  it('bounds the memory of one query (chdb sets no limit; the proxy shares the process)', async () => {
    const r = await query('SELECT length(groupArray(number)) FROM numbers(50000000)');
    expect(r.status).toBe(400);
    expect(r.code).toBe('241');
    expect(r.body).toMatch(/MEMORY_LIMIT_EXCEEDED/);
    expect(await query('SELECT 1 SETTINGS max_memory_usage = 0')).toMatchObject({ status: 403, code: '164' });
    expect(await query("SELECT getSetting('max_memory_usage')")).toMatchObject({ status: 200, body: `${64 * 1024 * 1024}\n` });
  });
});
