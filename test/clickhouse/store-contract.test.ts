// The ClickHouseStore contract (shared/clickhouse/store.ts), run on both implementations: the
// embedded store (chdb in this process) and the server store (@clickhouse/client over HTTP, here
// against test/clickhouse/http-endpoint.ts: the ClickHouse HTTP interface with chdb behind it, as
// no ClickHouse server can be installed on this machine). Same shape as the budget backends'
// contract (test/budget/enforcer.test.ts): one describe.each, the same assertions for both. Both
// stores share one chdb engine (a process binds one data directory), each in its own database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { ClickHouseStoreError } from '../../shared/clickhouse/store-error.ts';
import { chdbAvailable } from './chdb-available.ts';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.ts';

const available = await chdbAvailable();
const kinds = ['embedded', 'server'] as const;

let dir: string | undefined;
let endpoint: HttpEndpoint | undefined;
const stores = new Map<(typeof kinds)[number], ClickHouseStore>();

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'llmsc-store-contract-'));
  const dataDir = join(dir, 'chdb');
  stores.set('embedded', await createEmbeddedStore({ dataDir, database: 'contract_embedded' }));
  endpoint = await startHttpEndpoint({ dataDir });
  stores.set('server', createServerStore({ url: endpoint.url, database: 'contract_server' }));
}, 60_000);

afterAll(async () => {
  await stores.get('server')?.close();
  await endpoint?.close();
  await stores.get('embedded')?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Row {
  id: string;
  n: string;
  price: string;
  attrs: Record<string, string>;
  tags: string[];
  text: string;
}

/**
 * Values that have broken serialisers before: 64-bit and decimal edges, quotes, escapes, NUL,
 * non-BMP. Decimals are written as ClickHouse prints them (no trailing zeros).
 */
const HOSTILE_ROWS: Row[] = [
  { id: 'max-u64', n: '18446744073709551615', price: '12345678901234567890.123456789012', attrs: {}, tags: [], text: '' },
  { id: 'quotes', n: '9007199254740993', price: '0.000000000001', attrs: { "k'ey": 'v"al' }, tags: ["'", '"'], text: `it's "quoted" \\ back\\slash` },
  { id: 'lines', n: '0', price: '0', attrs: { 'gen_ai.x': 'a\nb\tc' }, tags: ['\r\n'], text: 'line 1\nline 2\r\n' },
  { id: 'unicode', n: '1', price: '1.5', attrs: { ключ: '值' }, tags: ['🙂', 'é'], text: 'NUL\u0000here, 🙂, \u2028' },
  { id: 'sql', n: '2', price: '2', attrs: {}, tags: [], text: "'); DROP TABLE contract_rows; --" },
];

describe.skipIf(!available).each(kinds)('ClickHouseStore contract on the %s store', (kind) => {
  const store = (): ClickHouseStore => stores.get(kind) as ClickHouseStore;
  const table = (name: string): string => `${store().database}.${name}`;
  const create = async (name: string, extra = ''): Promise<void> => {
    await store().command(`DROP TABLE IF EXISTS ${table(name)}`);
    await store().command(
      `CREATE TABLE ${table(name)} (id String, n UInt64, price Decimal(38, 12), attrs Map(LowCardinality(String), String), tags Array(String), text String) ENGINE = MergeTree ORDER BY id ${extra}`,
    );
  };
  const all = (name: string): Promise<Row[]> => store().query<Row>(`SELECT id, n, price, attrs, tags, text FROM ${table(name)} ORDER BY id`);
  const sorted = (rows: Row[]): Row[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));

  it('names its kind and its database', () => {
    expect(store().kind).toBe(kind);
    expect(store().database).toBe(`contract_${kind}`);
  });

  it('insert then query gives back every value exactly, 64-bit integers and decimals as strings', async () => {
    await create('rows');
    await store().insert(table('rows'), HOSTILE_ROWS);
    expect(await all('rows')).toEqual(sorted(HOSTILE_ROWS));
  });

  it('insertJsonLines stores the same rows as insert', async () => {
    await create('lines');
    await store().insertJsonLines(table('lines'), HOSTILE_ROWS.map((r) => JSON.stringify(r)));
    expect(await all('lines')).toEqual(sorted(HOSTILE_ROWS));
  });

  it('unqualified names resolve in the store database', async () => {
    await create('unqualified');
    await store().insert('unqualified', [HOSTILE_ROWS[0]!]);
    expect((await store().query<{ c: string }>('SELECT count() AS c FROM unqualified'))[0]?.c).toBe('1');
  });

  it('query parameters are bound, never spliced: hostile values come back verbatim and match exactly', async () => {
    await create('params');
    await store().insert(table('params'), HOSTILE_ROWS);
    for (const row of HOSTILE_ROWS) {
      const [echo] = await store().query<{ v: string }>('SELECT {v:String} AS v', { v: row.text });
      expect(echo?.v).toBe(row.text);
      const hits = await store().query<{ id: string }>(`SELECT id FROM ${table('params')} WHERE text = {t:String}`, { t: row.text });
      expect(hits.map((h) => h.id)).toEqual([row.id]);
    }
    const some = await store().query<{ id: string }>(`SELECT id FROM ${table('params')} WHERE id IN {ids:Array(String)} ORDER BY id`, { ids: ['quotes', 'sql', 'absent'] });
    expect(some.map((r) => r.id)).toEqual(['quotes', 'sql']);
    expect(await all('params')).toHaveLength(HOSTILE_ROWS.length); // the DROP in a value was data
  });

  it('a query with no rows is an empty list; an empty insert is a no-op', async () => {
    await create('empty');
    await store().insert(table('empty'), []);
    await store().insertJsonLines(table('empty'), []);
    expect(await store().query(`SELECT * FROM ${table('empty')}`)).toEqual([]);
  });

  it('a repeated insert with the same deduplication token is skipped; another token is not', async () => {
    await create('dedup', 'SETTINGS non_replicated_deduplication_window = 100');
    const batch = HOSTILE_ROWS.slice(0, 2);
    await store().insert(table('dedup'), batch, { dedupToken: 'batch-1' });
    await store().insert(table('dedup'), batch, { dedupToken: 'batch-1' });
    await store().insertJsonLines(table('dedup'), batch.map((r) => JSON.stringify(r)), { dedupToken: 'batch-1' });
    expect(await all('dedup')).toHaveLength(2);
    await store().insert(table('dedup'), batch, { dedupToken: 'batch-2' });
    expect(await all('dedup')).toHaveLength(4);
  });

  // Failures as data: each must reject with a one-line ClickHouseStoreError naming the store, the
  // operation and ClickHouse's error type, and leave the store usable.
  // (A missing table is retryable: the migrations may not have run yet; bad SQL or data is not.)
  const failures: { name: string; run: (s: ClickHouseStore) => Promise<unknown>; operation: string; type: string; retryable: boolean }[] = [
    { name: 'a syntax error', run: (s) => s.query('SELEKT 1'), operation: 'query', type: 'SYNTAX_ERROR', retryable: false },
    { name: 'an unknown table', run: (s) => s.query(`SELECT * FROM ${s.database}.no_such_table`), operation: 'query', type: 'UNKNOWN_TABLE', retryable: true },
    { name: 'a bad command', run: (s) => s.command(`ALTER TABLE ${s.database}.no_such_table ADD COLUMN x UInt8`), operation: 'command', type: 'UNKNOWN_TABLE', retryable: true },
    { name: 'an insert into an unknown table', run: (s) => s.insert(`${s.database}.no_such_table`, [{ id: 'x' }]), operation: 'insert', type: 'UNKNOWN_TABLE', retryable: true },
    {
      name: 'a row that does not fit its column',
      run: async (s) => {
        await s.command(`CREATE TABLE IF NOT EXISTS ${s.database}.typed (n UInt64) ENGINE = Memory`);
        return s.insertJsonLines(`${s.database}.typed`, ['{"n":"not a number"}']);
      },
      operation: 'insert',
      type: '',
      retryable: false,
    },
  ];
  it.each(failures)('$name rejects with a one-line store error; the store still works', async ({ run, operation, type, retryable }) => {
    const err = await run(store()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClickHouseStoreError);
    const e = err as ClickHouseStoreError;
    expect({ store: e.store, operation: e.operation }).toEqual({ store: kind, operation });
    if (type !== '') expect(e.type).toBe(type);
    expect(e.code).toBeTypeOf('number'); // the engine answered: not mistaken for a network failure
    expect(e.retryable).toBe(retryable);
    expect(e.message).not.toContain('\n');
    expect(e.message).toMatch(kind === 'embedded' ? /^embedded ClickHouse \(/ : /^ClickHouse server http:\/\/127\.0\.0\.1:\d+:/);
    expect(await store().query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('refuses a table name that is not table or database.table, before sending anything', async () => {
    await expect(store().insert('rows; DROP TABLE rows', [{ id: 'x' }])).rejects.toThrow(/invalid ClickHouse table name/);
    await expect(store().insertJsonLines('`rows`', ['{"id":"x"}'])).rejects.toThrow(/invalid ClickHouse table name/);
  });
});
