// The spool and the exporter's edges that need no ClickHouse: a torn spool line, ordering across
// segments, a flush deadline while an insert hangs, a batch ClickHouse rejects, use after shutdown.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { jsonLinesRows } from '../../shared/clickhouse/json-lines.ts';
import { DiskSpool } from '../../shared/clickhouse/spool.ts';
import { ClickHouseStoreError } from '../../shared/clickhouse/store-error.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { until } from '../support/wait.ts';
import { emitScenario, tracerProvider } from './genai-spans.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-spool-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fakeStore(insert: ClickHouseStore['insert']): ClickHouseStore {
  return {
    kind: 'server',
    database: 'otel',
    location: 'fake',
    command: async () => undefined,
    query: async () => [],
    insert,
    insertJsonLines: (table, lines, options) => insert(table, jsonLinesRows(lines).map((line) => JSON.parse(line) as object), options),
    close: async () => undefined,
  };
}

function spans(): ReadableSpan[] {
  const { provider, memory } = tracerProvider(new InMemorySpanExporter());
  emitScenario(provider);
  return memory.getFinishedSpans();
}

const exportNow = (exporter: ClickHouseSpanExporter, s: ReadableSpan[]) => new Promise<ExportResult>((done) => exporter.export(s, done));

describe('DiskSpool', () => {
  it('replays batches in order across segments and removes segments once acknowledged', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 64, onDrop: () => undefined });
    for (let i = 0; i < 5; i++) await spool.append({ token: `t${i}`, lines: [JSON.stringify({ i })] });
    const seen: string[] = [];
    for (let b = await spool.next(); b !== undefined; b = await spool.next()) {
      seen.push(b.token);
      await spool.ack();
    }
    expect(seen).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(spool.isEmpty).toBe(true);
    expect(spool.bytes).toBe(0);
  });

  it('skips a torn last line (crash mid-append) and reports it', async () => {
    await writeFile(join(dir, '00000000000000000001.jsonl'), `${JSON.stringify({ t: 'ok', r: [{ a: 1 }] })}\n{"t":"torn","r":[{"a"`);
    const drops: string[] = [];
    const spool = await DiskSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16, onDrop: (_rows, reason) => drops.push(reason) });
    const batch = await spool.next();
    expect(batch).toEqual({ token: 'ok', lines: ['{"a":1}'] });
    await spool.ack();
    expect(await spool.next()).toBeUndefined();
    expect(drops).toHaveLength(1);
    // New segments sort after what a previous run left.
    await spool.append({ token: 'new', lines: [] });
    expect((await spool.next())?.token).toBe('new');
  });
});

describe('ClickHouseSpanExporter without ClickHouse', () => {
  it('meets the flush deadline when an insert hangs: the batch goes to the spool', async () => {
    const hanging = fakeStore(() => new Promise<void>(() => undefined));
    const exporter = new ClickHouseSpanExporter({ store: hanging, spoolDir: dir, flushTimeoutMs: 150, insertTimeoutMs: 60_000, log: () => undefined });
    const batch = spans();
    const result = exportNow(exporter, batch);
    // The insert never answers: only the flush deadline can make forceFlush return.
    await exporter.forceFlush();
    expect((await result).code).toBe(ExportResultCode.SUCCESS);
    expect(exporter.stats()).toMatchObject({ exported: 0, spooled: batch.length, queued: 0 });
    await exporter.shutdown();
  });

  it('drops (and counts) a batch ClickHouse rejects as malformed instead of retrying it forever', async () => {
    const rejecting = fakeStore(() =>
      Promise.reject(new ClickHouseStoreError('bad data', { store: 'server', location: 'fake', operation: 'insert', table: 'otel.otel_traces' }, { code: 27, type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', retryable: false })),
    );
    const logs: string[] = [];
    const exporter = new ClickHouseSpanExporter({ store: rejecting, spoolDir: dir, log: (_l, m) => logs.push(m) });
    const batch = spans();
    expect((await exportNow(exporter, batch)).code).toBe(ExportResultCode.FAILED);
    expect(exporter.stats()).toMatchObject({ dropped: batch.length, spooled: 0 });
    expect(logs.join('\n')).toContain('rejected');
    await exporter.shutdown();
  });

  it('answers FAILED after shutdown, without throwing', async () => {
    const exporter = new ClickHouseSpanExporter({ store: fakeStore(async () => undefined), spoolDir: dir, log: () => undefined });
    await exporter.shutdown();
    expect((await exportNow(exporter, spans())).code).toBe(ExportResultCode.FAILED);
  });
});

describe('ClickHouseSpanExporter as a span processor', () => {
  it('serialises each span as it ends and sends the rows after flushIntervalMs, or at once when a batch is full', async () => {
    const inserts: object[][] = [];
    const exporter = new ClickHouseSpanExporter({
      store: fakeStore(async (_table, rows) => {
        inserts.push([...rows]);
      }),
      spoolDir: dir,
      maxBatchRows: 4,
      flushIntervalMs: 50,
      log: () => undefined,
    });
    const all = spans();
    expect(all.length).toBeGreaterThan(5);
    // Three spans: below the batch size, so they wait for the interval.
    for (const span of all.slice(0, 3)) exporter.onEnd(span);
    expect(inserts).toHaveLength(0);
    expect(exporter.stats().queued).toBe(3);
    // Nothing but the 50 ms interval can send them now: wait for it.
    await until('the flush interval has sent the three spans', () => inserts.length > 0, { timeoutMs: 5_000, intervalMs: 10 });
    expect(inserts.map((b) => b.length)).toEqual([3]);
    // A full batch goes without waiting; the remainder waits for the next interval (or a flush).
    for (const span of all.slice(3, 8)) exporter.onEnd(span);
    await new Promise((r) => setImmediate(r));
    expect(inserts.map((b) => b.length)).toEqual([3, 4]);
    await exporter.forceFlush();
    expect(inserts.map((b) => b.length)).toEqual([3, 4, 1]);
    // Rows are the collector layout, in the order the spans ended.
    const ids = inserts.flat().map((row) => (row as { SpanId: string }).SpanId);
    expect(ids).toEqual(all.slice(0, 8).map((s) => s.spanContext().spanId));
    expect(exporter.stats()).toMatchObject({ exported: 8, queued: 0 });
    await exporter.shutdown();
    exporter.onEnd(all[0] as ReadableSpan); // after shutdown: ignored, not thrown
    expect(exporter.stats().queued).toBe(0);
  });
});
