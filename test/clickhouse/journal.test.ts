// The span journal (crash safety, issue #16 item 6) without ClickHouse: a process "killed" with rows
// in memory (an exporter abandoned without shutdown) leaves them in <spool>/journal, and the next
// exporter on the directory inserts exactly those rows under the same dedup token; a torn line is
// skipped; a clean stop leaves no journal; rows wait for the schema. The end-to-end proof with a
// real SIGKILL and real ClickHouse dedup is crash.test.ts.
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { jsonLinesRows, type JsonLines } from '../../shared/clickhouse/json-lines.ts';
import type { ClickHouseStore, InsertOptions } from '../../shared/clickhouse/store.ts';
import { until as waitUntil } from '../support/wait.ts';
import { emitScenario, tracerProvider } from './genai-spans.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm-sidecar-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Insert {
  token: string | undefined;
  lines: readonly string[];
}

/** A store that records each insert and answers with `answer` (a promise that may never settle). */
function recordingStore(answer: () => Promise<void>): { store: ClickHouseStore; inserts: Insert[] } {
  const inserts: Insert[] = [];
  const store: ClickHouseStore = {
    kind: 'server',
    database: 'otel',
    location: 'fake',
    command: async () => undefined,
    query: async () => [],
    insert: async () => undefined,
    insertJsonLines: (_table: string, lines: JsonLines, options?: InsertOptions) => {
      inserts.push({ token: options?.dedupToken, lines: jsonLinesRows(lines) });
      return answer();
    },
    close: async () => undefined,
  };
  return { store, inserts };
}

function spans(): ReadableSpan[] {
  const { provider, memory } = tracerProvider(new InMemorySpanExporter());
  emitScenario(provider);
  return memory.getFinishedSpans();
}

const journalDir = () => join(dir, 'journal');
const journalFiles = async () => (existsSync(journalDir()) ? (await readdir(journalDir())).sort() : []);

async function until(condition: () => boolean, what: string): Promise<void> {
  await waitUntil(what, condition, { timeoutMs: 5_000, intervalMs: 10 });
}

describe('span journal', () => {
  it('a row is on disk once the task that ended its span ends; a new exporter delivers what a killed one held in memory', async () => {
    const first = recordingStore(() => new Promise<void>(() => undefined));
    // A long interval: the rows are still waiting for their batch when the process "dies".
    const killed = new ClickHouseSpanExporter({ store: first.store, spoolDir: dir, flushIntervalMs: 60_000, log: () => undefined });
    const all = spans();
    for (const span of all) killed.onEnd(span);
    expect(killed.stats().queued).toBe(all.length);
    await null; // the task that ended the spans is over: their rows are written
    const [file] = await journalFiles();
    expect(file).toMatch(/\.jsonl$/);
    const onDisk = (await readFile(join(journalDir(), file as string), 'utf8')).trimEnd().split('\n');
    expect(onDisk.map((l) => (JSON.parse(l) as { SpanId: string }).SpanId)).toEqual(all.map((s) => s.spanContext().spanId));
    expect(first.inserts).toHaveLength(0);

    const second = recordingStore(async () => undefined);
    const logs: string[] = [];
    const next = new ClickHouseSpanExporter({ store: second.store, spoolDir: dir, retryInitialMs: 10, log: (_l, m) => logs.push(m) });
    await until(() => second.inserts.length === 1, 'the recovered batch to be inserted');
    expect(second.inserts[0]).toEqual({ token: (file as string).replace(/\.jsonl$/, ''), lines: onDisk });
    expect(next.stats()).toMatchObject({ recovered: all.length, replayed: all.length, dropped: 0 });
    expect(logs.join('\n')).toContain(`recovered ${all.length} span rows from the journal`);
    await next.shutdown();
    expect(existsSync(journalDir())).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a batch whose insert landed but whose answer never came is replayed under the same token (ClickHouse skips it)', async () => {
    const first = recordingStore(() => new Promise<void>(() => undefined)); // landed, then the process died
    const killed = new ClickHouseSpanExporter({ store: first.store, spoolDir: dir, flushIntervalMs: 10, insertTimeoutMs: 60_000, log: () => undefined });
    for (const span of spans()) killed.onEnd(span);
    await until(() => first.inserts.length === 1, 'the first insert');

    const second = recordingStore(async () => undefined);
    const next = new ClickHouseSpanExporter({ store: second.store, spoolDir: dir, log: () => undefined });
    await until(() => second.inserts.length === 1, 'the replay');
    expect(second.inserts[0]).toEqual(first.inserts[0]);
    await next.shutdown();
  });

  it('export() journals a whole batch in one file before it is queued', async () => {
    const first = recordingStore(() => new Promise<void>(() => undefined));
    const exporter = new ClickHouseSpanExporter({ store: first.store, spoolDir: dir, insertTimeoutMs: 60_000, log: () => undefined });
    const batch = spans();
    exporter.export(batch, () => undefined);
    const files = await journalFiles();
    expect(files).toHaveLength(1);
    expect((await readFile(join(journalDir(), files[0] as string), 'utf8')).trimEnd().split('\n')).toHaveLength(batch.length);
  });

  it('skips a torn last line (the process died inside a write)', async () => {
    await mkdir(journalDir(), { recursive: true });
    await writeFile(join(journalDir(), 'aaaa-0000000001.jsonl'), '{"SpanId":"1"}\n{"SpanId":"2"}\n{"SpanId":"3"');
    const { store, inserts } = recordingStore(async () => undefined);
    const exporter = new ClickHouseSpanExporter({ store, spoolDir: dir, log: () => undefined });
    await until(() => inserts.length === 1, 'the recovered batch');
    expect(inserts[0]).toEqual({ token: 'aaaa-0000000001', lines: ['{"SpanId":"1"}', '{"SpanId":"2"}'] });
    await exporter.shutdown();
  });

  it('a clean stop leaves no journal behind, and the journal holds nothing once rows are inserted', async () => {
    const { store, inserts } = recordingStore(async () => undefined);
    const exporter = new ClickHouseSpanExporter({ store, spoolDir: dir, flushIntervalMs: 10, log: () => undefined });
    for (const span of spans()) exporter.onEnd(span);
    await until(() => inserts.length === 1, 'the insert');
    await exporter.forceFlush();
    await until(() => exporter.stats().queued === 0, 'the batch to settle');
    await exporter.shutdown();
    expect(existsSync(journalDir())).toBe(false);
  });

  it('holds rows (spooled) until the schema is in place, then inserts them', async () => {
    const { store, inserts } = recordingStore(async () => undefined);
    let schemaDone: () => void = () => undefined;
    const schemaReady = new Promise<void>((r) => {
      schemaDone = r;
    });
    const exporter = new ClickHouseSpanExporter({ store, spoolDir: dir, flushIntervalMs: 10, retryInitialMs: 10, schemaReady, log: () => undefined });
    const all = spans();
    for (const span of all) exporter.onEnd(span);
    await until(() => exporter.stats().spooled === all.length, 'the batch to be spooled');
    expect(inserts).toHaveLength(0);
    schemaDone();
    await until(() => inserts.length === 1, 'the replay after the schema');
    expect(exporter.stats()).toMatchObject({ replayed: all.length, exported: 0, dropped: 0 });
    await exporter.shutdown();
  });
});
