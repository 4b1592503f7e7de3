// Nothing lost, nothing blocked, nothing doubled: the exporter against a ClickHouse that goes away
// and comes back (the test HTTP endpoint stopped and restarted), a dead port, a process restart
// (a new exporter on the same spool directory), an insert whose answer is lost, and a full spool.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROWS_PER_SLICE } from '../../shared/clickhouse/json-lines.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { LLM_CALLS_1M as R, TABLE_LLM_CALLS, TABLE_LLM_CALLS_1M, TABLE_OTEL_TRACES, qualified } from '../../shared/clickhouse/schema.ts';
import { ClickHouseSpanExporter, type ClickHouseSpanExporterOptions } from '../../shared/clickhouse/span-exporter.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { createServerStore } from '../../shared/clickhouse/server-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { until } from '../support/wait.ts';
import { chdbAvailable } from './chdb-available.ts';
import { CALLS, emitScenario, tracerProvider } from './genai-spans.ts';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.ts';

const hasChdb = await chdbAvailable();

/** A fresh set of scenario spans (new ids each time), as the SDK hands them to an exporter. */
function scenarioSpans(): ReadableSpan[] {
  const { provider, memory } = tracerProvider(new InMemorySpanExporter());
  emitScenario(provider);
  return memory.getFinishedSpans();
}

/** export() as the BatchSpanProcessor calls it; resolves with the result. */
function exportTimed(exporter: ClickHouseSpanExporter, spans: ReadableSpan[]): Promise<{ result: ExportResult }> {
  return new Promise((done) => exporter.export(spans, (result) => done({ result })));
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  await until(what, condition, { timeoutMs, intervalMs: 25 });
}

/** `store`, counting the inserts that failed (the exporter's attempts, seen from outside). */
function countingFailures(store: ClickHouseStore): { store: ClickHouseStore; failures: () => number } {
  let failures = 0;
  const counted = <A extends unknown[]>(f: (...a: A) => Promise<void>) => async (...a: A): Promise<void> => {
    try {
      await f(...a);
    } catch (err) {
      failures++;
      throw err;
    }
  };
  return {
    store: { ...store, insert: counted(store.insert), insertJsonLines: counted(store.insertJsonLines) },
    failures: () => failures,
  };
}

const FAST_RETRY: Partial<ClickHouseSpanExporterOptions> = { retryInitialMs: 50, retryMaxMs: 200, insertTimeoutMs: 3000 };

describe.skipIf(!hasChdb)('span exporter through outages (real ClickHouse SQL via chdb)', () => {
  let root: string;
  let endpoint: HttpEndpoint;
  let embedded: ClickHouseStore;
  let server: ClickHouseStore;
  const spoolDirs: string[] = [];
  const newSpoolDir = async () => {
    const dir = await mkdtemp(join(root, 'spool-'));
    spoolDirs.push(dir);
    return dir;
  };
  const count = async (store: ClickHouseStore, sql: string) => Number((await store.query<{ n: string }>(sql))[0]?.n);
  const spanTotals = (store: ClickHouseStore) =>
    store.query<{ rows: string; ids: string }>(`SELECT count() AS rows, uniqExact(SpanId) AS ids FROM ${qualified(store.database, TABLE_OTEL_TRACES)}`).then((r) => r[0]);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'llm-sidecar-ch-outage-'));
    embedded = await createEmbeddedStore({ dataDir: join(root, 'chdb'), database: 'outage_embedded' });
    endpoint = await startHttpEndpoint({ dataDir: join(root, 'chdb') });
    server = createServerStore({ url: endpoint.url, database: 'outage_server' });
    await migrate(embedded);
    await migrate(server);
  });

  afterAll(async () => {
    await server?.close();
    await endpoint?.close();
    await embedded?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('spools while ClickHouse is down (export still succeeds at once) and replays every span exactly once when it is back', async () => {
    const logs: string[] = [];
    const watched = countingFailures(server);
    const exporter = new ClickHouseSpanExporter({ store: watched.store, spoolDir: await newSpoolDir(), ...FAST_RETRY, log: (level, m) => logs.push(`${level}: ${m}`) });
    const before = await spanTotals(server);

    await endpoint.stop();
    const batches = [scenarioSpans(), scenarioSpans(), scenarioSpans()];
    let spooled = 0;
    for (const spans of batches) {
      const { result } = await exportTimed(exporter, spans);
      spooled += spans.length;
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      // Answered because the rows are safe on disk, while ClickHouse is still down.
      expect(exporter.stats()).toMatchObject({ exported: 0, spooled });
    }
    const total = batches.reduce((n, b) => n + b.length, 0);
    expect(exporter.stats()).toMatchObject({ exported: 0, spooled: total, replayed: 0, dropped: 0, queued: 0 });
    expect(exporter.stats().spoolBytes).toBeGreaterThan(0);
    const failedBefore = watched.failures();
    await waitFor(() => watched.failures() >= failedBefore + 2, 'two replay attempts have failed while ClickHouse is down');
    expect(exporter.stats().replayed).toBe(0);

    await endpoint.start();
    await waitFor(() => exporter.stats().spoolBytes === 0, 'the spool to drain');
    expect(exporter.stats()).toMatchObject({ spooled: total, replayed: total, dropped: 0 });
    const after = await spanTotals(server);
    expect(Number(after?.rows) - Number(before?.rows)).toBe(total);
    expect(Number(after?.ids) - Number(before?.ids)).toBe(total);

    // Back to direct inserts.
    const more = scenarioSpans();
    expect((await exportTimed(exporter, more)).result.code).toBe(ExportResultCode.SUCCESS);
    expect(exporter.stats().exported).toBe(more.length);
    expect(logs.some((l) => l.startsWith('warn:') && l.includes('spooling'))).toBe(true);
    expect(logs.some((l) => l.startsWith('info:') && l.includes('work again'))).toBe(true);
    await exporter.shutdown();
  });

  it('replays a spool left by a previous process (dead port), once, in a new exporter on the same directory', async () => {
    const spoolDir = await newSpoolDir();
    const dead = createServerStore({ url: 'http://127.0.0.1:1', database: 'outage_embedded', requestTimeoutMs: 2000 });
    const first = new ClickHouseSpanExporter({ store: dead, spoolDir, ...FAST_RETRY, log: () => undefined });
    const spans = [...scenarioSpans(), ...scenarioSpans()];
    const { result } = await exportTimed(first, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(first.stats()).toMatchObject({ exported: 0, spooled: spans.length }); // answered once on disk
    await first.shutdown();
    await dead.close();
    expect((await readdir(spoolDir)).filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThan(0);

    const before = await spanTotals(embedded);
    const restarted = new ClickHouseSpanExporter({ store: embedded, spoolDir, ...FAST_RETRY, log: () => undefined });
    await waitFor(() => restarted.stats().replayed === spans.length && restarted.stats().spoolBytes === 0, 'the replay');
    await restarted.shutdown();
    const after = await spanTotals(embedded);
    expect(Number(after?.rows) - Number(before?.rows)).toBe(spans.length);
    expect(Number(after?.ids) - Number(before?.ids)).toBe(spans.length);
    expect(await readdir(spoolDir)).toEqual([]);

    // A third start finds nothing to replay.
    const againLogs: string[] = [];
    const again = new ClickHouseSpanExporter({ store: embedded, spoolDir, ...FAST_RETRY, log: (level, m) => againLogs.push(`${level}: ${m}`) });
    // Its spool is open once spoolReady settles; a non-empty one would have been announced (and a replay scheduled) by then.
    await (again as unknown as { spoolReady: Promise<unknown> }).spoolReady;
    expect(againLogs.filter((l) => l.includes('replaying them'))).toEqual([]);
    expect(again.stats()).toMatchObject({ replayed: 0, spoolBytes: 0 });
    await again.shutdown();
    expect(Number((await spanTotals(embedded))?.rows)).toBe(Number(after?.rows));
  });

  describe.each(['embedded', 'server'] as const)('%s store: an insert that landed but whose answer was lost', (kind) => {
    it('is not doubled by the replay (same dedup token), in otel_traces, llm_calls or the rollup', async () => {
      const live = kind === 'embedded' ? embedded : server;
      let lose = true;
      // The insert reaches ClickHouse, then the connection drops before the answer.
      const lossy: ClickHouseStore = {
        kind: live.kind,
        database: live.database,
        location: live.location,
        command: (sql) => live.command(sql),
        query: (sql, params) => live.query(sql, params),
        close: () => Promise.resolve(),
        insert: (table, rows, options) => live.insert(table, rows, options),
        async insertJsonLines(table, lines, options) {
          await live.insertJsonLines(table, lines, options);
          if (lose) {
            lose = false;
            throw new Error('socket hang up');
          }
        },
      };
      const db = live.database;
      const callsBefore = await count(live, `SELECT count() AS n FROM ${qualified(db, TABLE_LLM_CALLS)}`);
      const rollupBefore = await count(live, `SELECT countMerge(${R.Calls}) AS n FROM ${qualified(db, TABLE_LLM_CALLS_1M)}`);
      const before = await spanTotals(live);

      const exporter = new ClickHouseSpanExporter({ store: lossy, spoolDir: await newSpoolDir(), ...FAST_RETRY, log: () => undefined });
      const spans = scenarioSpans();
      expect((await exportTimed(exporter, spans)).result.code).toBe(ExportResultCode.SUCCESS);
      expect(exporter.stats().spooled).toBe(spans.length);
      await waitFor(() => exporter.stats().replayed === spans.length, 'the replay');
      await exporter.shutdown();

      const after = await spanTotals(live);
      expect(Number(after?.rows) - Number(before?.rows)).toBe(spans.length);
      expect(Number(after?.ids) - Number(before?.ids)).toBe(spans.length);
      expect((await count(live, `SELECT count() AS n FROM ${qualified(db, TABLE_LLM_CALLS)}`)) - callsBefore).toBe(CALLS.length);
      expect((await count(live, `SELECT countMerge(${R.Calls}) AS n FROM ${qualified(db, TABLE_LLM_CALLS_1M)}`)) - rollupBefore).toBe(CALLS.length);
    });
  });

  it('past the spool bound, drops the oldest spans, counts them, and replays the newest', async () => {
    const spoolDir = await newSpoolDir();
    const dead = createServerStore({ url: 'http://127.0.0.1:1', database: 'outage_embedded' });
    const small = { spoolMaxBytes: 24 * 1024, spoolSegmentBytes: 4 * 1024 };
    const logs: string[] = [];
    const first = new ClickHouseSpanExporter({ store: dead, spoolDir, ...FAST_RETRY, ...small, log: (level, m) => logs.push(`${level}: ${m}`) });
    const exported: ReadableSpan[][] = [];
    for (let i = 0; i < 40; i++) {
      const spans = scenarioSpans().slice(0, 2);
      exported.push(spans);
      expect((await exportTimed(first, spans)).result.code).toBe(ExportResultCode.SUCCESS);
    }
    const stats = first.stats();
    await first.shutdown();
    await dead.close();
    expect(stats.spooled).toBe(80);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.spoolBytes).toBeLessThanOrEqual(small.spoolMaxBytes);
    expect(logs.some((l) => l.startsWith('error:') && l.includes('spool full'))).toBe(true);

    const restarted = new ClickHouseSpanExporter({ store: embedded, spoolDir, ...FAST_RETRY, ...small, log: () => undefined });
    const kept = stats.spooled - stats.dropped;
    await waitFor(() => restarted.stats().replayed === kept && restarted.stats().spoolBytes === 0, 'the replay');
    await restarted.shutdown();
    // What survived is the newest `kept` spans, in export order.
    const newest = exported.flat().slice(-kept).map((s) => s.spanContext().spanId);
    const present = await embedded.query<{ id: string }>(`SELECT SpanId AS id FROM ${qualified(embedded.database, TABLE_OTEL_TRACES)} WHERE SpanId IN {ids:Array(String)}`, {
      ids: exported.flat().map((s) => s.spanContext().spanId),
    });
    expect(new Set(present.map((p) => p.id))).toEqual(new Set(newest));
  });

  it('inserts a batch of many body slices whole, once per dedup token, on both stores (multi-byte text intact)', async () => {
    const rows = Array.from({ length: ROWS_PER_SLICE * 3 + 17 }, (_, id) => ({ id, s: `row ${id} é—🙂 ${'x'.repeat(id % 50)}` }));
    const lines = rows.map((r) => JSON.stringify(r));
    for (const store of [embedded, server]) {
      const table = `${store.database}.json_lines_body`;
      await store.command(`CREATE TABLE IF NOT EXISTS ${table} (id UInt32, s String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`);
      await store.insertJsonLines(table, lines, { dedupToken: 'batch-1' });
      // A replay of the same batch under its token is dropped as a duplicate, as a whole.
      await store.insertJsonLines(table, lines, { dedupToken: 'batch-1' });
      const got = await store.query<{ id: string; s: string }>(`SELECT id, s FROM ${table} ORDER BY id`);
      expect(got.length, store.kind).toBe(rows.length);
      expect(got.map((r) => ({ id: Number(r.id), s: r.s })), store.kind).toEqual(rows);
    }
  });
});
