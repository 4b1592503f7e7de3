// telemetry.clickhouse.serve: Grafana's view of the embedded store. A real sidecar (embedded chdb)
// serves its store read-only over the ClickHouse HTTP interface; @clickhouse/client — the client
// the server store uses — runs every committed dashboard panel, variable, trace-link and alert
// query through it over two weeks of seeded traffic and gets what the store itself returns.
// Writes, DDL, settings changes, table functions, other statements and wrong credentials are
// refused with ClickHouse's own error shape; a config exposing it off loopback without
// credentials is refused at load.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrafanaSql, type ExpandContext } from '../../dashboards/macros.ts';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { ConfigError, parseConfig } from '../../shared/config/load.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { alertQueries, allSelected, panelQueries, readCommitted, traceLinkQuery, traceLinks, variableQueries } from './harness.ts';
import { seed, type Seed } from './seed.ts';

const hasChdb = await chdbAvailable();
const DAY_MS = 86_400_000;
const base = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };

describe('telemetry.clickhouse.serve configuration', () => {
  const serveConfig = (serve: unknown, extra: Record<string, unknown> = {}) => () => parseConfig({ ...base, telemetry: { clickhouse: { serve, ...extra } } });

  it('is loopback on port 8123 by default', () => {
    expect(serveConfig({})().telemetry.clickhouse.serve).toEqual({ host: '127.0.0.1', port: 8123 });
  });

  it('refuses a non-loopback address without credentials, half credentials, and a ClickHouse server', () => {
    expect(serveConfig({ host: '0.0.0.0' })).toThrow(ConfigError);
    expect(serveConfig({ host: '0.0.0.0' })).toThrow(/telemetry\.clickhouse\.serve\.host: off loopback the endpoint needs username and password/);
    expect(serveConfig({ username: 'grafana' })).toThrow(/give both username and password/);
    expect(serveConfig({ host: '0.0.0.0', username: 'grafana', password: 's3cret' })().telemetry.clickhouse.serve?.host).toBe('0.0.0.0');
    expect(serveConfig({}, { url: 'http://clickhouse:8123' })).toThrow(/telemetry\.clickhouse\.serve: serve exposes the embedded store/);
  });
});

describe.skipIf(!hasChdb)('read-only ClickHouse HTTP endpoint over the embedded store', () => {
  let sidecar: RunningSidecar;
  let store: ClickHouseStore;
  let client: ClickHouseClient;
  let s: Seed;
  let ctx: ExpandContext;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-'));
    const config = parseConfig({
      ...base,
      telemetry: { clickhouse: { dataDir: join(dir, 'clickhouse'), serve: { port: 0, username: 'grafana', password: 'pa55word' } }, spool: { dir: join(dir, 'spool') } },
    });
    sidecar = await startSidecar(config);
    await sidecar.telemetry.migrated;
    store = sidecar.telemetry.store as ClickHouseStore;
    s = await seed(store);
    ctx = { from: new Date(s.now - 15 * DAY_MS), to: new Date(s.now + 60_000), intervalSeconds: 3600, variables: allSelected() };
    client = createClient({ url: sidecar.clickhouseServe?.url, username: 'grafana', password: 'pa55word', database: 'otel' });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await sidecar?.close(1_000);
  });

  const viaEndpoint = async (sql: string) => (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();

  it('answers ping on loopback', async () => {
    expect(sidecar.clickhouseServe?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await client.ping()).success).toBe(true);
  });

  it('runs every panel, variable, trace-link and alert query with the results the store gives', async () => {
    const c = readCommitted();
    const now = Date.now();
    const queries = [
      ...panelQueries(c).map((q) => ({ what: `${q.dashboard}/${q.title}/${q.refId}`, sql: expandGrafanaSql(q.sql, ctx) })),
      ...variableQueries(c).map((q) => ({ what: `${q.dashboard}/$${q.name}`, sql: expandGrafanaSql(q.sql, ctx) })),
      ...traceLinks(c).map((l) => ({ what: `${l.dashboard}/${l.title} trace link`, sql: expandGrafanaSql(traceLinkQuery(l.url, s.calls[0]?.traceId as string).queries[0]?.rawSql as string, ctx) })),
      ...alertQueries(c).map((a) => ({ what: `alert ${a.uid}`, sql: expandGrafanaSql(a.sql, { from: new Date(now - a.window * 1000), to: new Date(now) }) })),
    ];
    expect(queries.length).toBeGreaterThan(80);
    let nonEmpty = 0;
    for (const q of queries) {
      const [served, direct] = await Promise.all([viaEndpoint(q.sql), store.query<Record<string, unknown>>(q.sql)]);
      expect(served.length, q.what).toBe(direct.length);
      expect(served.map((r) => Object.keys(r)), q.what).toEqual(direct.map((r) => Object.keys(r)));
      if (served.length > 0) nonEmpty += 1;
    }
    // The seeded traffic shows on (nearly) every panel: the comparison is not over empty results.
    expect(nonEmpty).toBeGreaterThan(queries.length * 0.8);
  }, 120_000);

  it('binds query parameters as the client sends them', async () => {
    const rows = await (await client.query({ query: 'SELECT count() AS n FROM llm_calls WHERE ServiceName = {service:String}', query_params: { service: s.calls[0]?.service }, format: 'JSONEachRow' })).json<{ n: string }>();
    expect(Number(rows[0]?.n)).toBe(s.calls.filter((x) => x.service === s.calls[0]?.service).length);
  });

  it('refuses writes, DDL, settings changes, table functions and other statements (READONLY), and wrong credentials', async () => {
    const refused = async (p: Promise<unknown>, pattern: RegExp) => {
      await expect(p).rejects.toThrow(pattern);
    };
    const [before] = await store.query<{ n: string }>('SELECT count() AS n FROM otel.llm_calls');
    await refused(client.insert({ table: 'llm_calls', values: [{ ServiceName: 'evil' }], format: 'JSONEachRow' }), /read-?only/i);
    await refused(client.command({ query: 'DROP TABLE otel.llm_calls' }), /read-?only/i);
    await refused(client.command({ query: 'CREATE TABLE otel.x (a UInt8) ENGINE = Memory' }), /read-?only/i);
    await refused(client.command({ query: 'ALTER TABLE otel.llm_calls DELETE WHERE 1' }), /read-?only/i);
    await refused(client.command({ query: 'SET readonly = 0' }), /read-?only/i);
    await refused(client.query({ query: 'SELECT 1', clickhouse_settings: { max_threads: 1 } }), /Cannot modify 'max_threads' setting in readonly mode/);
    await refused(client.query({ query: "SELECT * FROM file('/etc/passwd', 'LineAsString')" }), /readonly mode/);
    await refused(client.query({ query: 'SELECT 1; DROP TABLE otel.llm_calls' }), /./);
    await refused(client.query({ query: '/* x */ (SELECT 1) UNION ALL SELECT 2 INTO OUTFILE \'/tmp/x\'' }), /./);
    const [after] = await store.query<{ n: string }>('SELECT count() AS n FROM otel.llm_calls');
    expect(after?.n).toBe(before?.n);

    const wrong = createClient({ url: sidecar.clickhouseServe?.url, username: 'grafana', password: 'nope' });
    try {
      await refused(wrong.query({ query: 'SELECT 1' }), /Authentication failed/);
    } finally {
      await wrong.close();
    }
    const raw = await fetch(`${sidecar.clickhouseServe?.url}/?query=${encodeURIComponent('SELECT 1')}`);
    expect(raw.status).toBe(401);
    expect(raw.headers.get('x-clickhouse-exception-code')).toBe('516');
    // The proxy keeps writing through its own session meanwhile.
    expect(Number(after?.n)).toBe(s.calls.length);
  });
});
