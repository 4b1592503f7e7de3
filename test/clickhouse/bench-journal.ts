// `node --import tsx test/clickhouse/bench-journal.ts`: what the crash-safety journal costs the
// sidecar per span (issue #16 item 6). A span's row is serialised either way; the journal adds one
// write() per call (its spans end in one task) of that text to the page cache (no fsync). Measured: the exporter's onEnd (serialise +
// journal + queue) against serialising alone, over the same spans, best of 5 rounds; and the
// batch files' bytes. Not a test: a figure for the README ("Spans survive a crash").
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { spanToRow } from '../../shared/clickhouse/span-rows.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { emitScenario, tracerProvider } from './genai-spans.ts';

const ROUNDS = 5;
const SPANS = 20_000;

const spans: ReadableSpan[] = [];
while (spans.length < SPANS) {
  const { provider, memory } = tracerProvider(new InMemorySpanExporter());
  emitScenario(provider);
  spans.push(...memory.getFinishedSpans());
}

/** Inserts that never settle: the rows stay queued (and journaled) while the round is timed. */
const store: ClickHouseStore = {
  kind: 'server',
  database: 'otel',
  location: 'bench',
  command: async () => undefined,
  query: async () => [],
  insert: async () => undefined,
  insertJsonLines: () => new Promise<void>(() => undefined),
  close: async () => undefined,
};

/** A proxied call ends 3 spans together (SERVER, gen_ai CLIENT, attempt), then its task ends. */
const SPANS_PER_CALL = 3;

async function serialiseOnly(): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < spans.length; i += SPANS_PER_CALL) {
    for (const span of spans.slice(i, i + SPANS_PER_CALL)) n += JSON.stringify(spanToRow(span)).length;
    await null;
  }
  if (n === 0) throw new Error('nothing serialised');
  return performance.now() - t0;
}

async function exporterOnEnd(): Promise<{ ms: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'llm-sidecar-bench-journal-'));
  try {
    const exporter = new ClickHouseSpanExporter({ store, spoolDir: dir, maxBatchRows: 10_000, flushIntervalMs: 60_000, log: () => undefined });
    const t0 = performance.now();
    for (let i = 0; i < spans.length; i += SPANS_PER_CALL) {
      for (const span of spans.slice(i, i + SPANS_PER_CALL)) exporter.onEnd(span);
      await null; // the task ends: the journal writes the call's rows
    }
    const ms = performance.now() - t0;
    const journal = join(dir, 'journal');
    const bytes = readdirSync(journal).reduce((sum, f) => sum + statSync(join(journal, f)).size, 0);
    return { ms, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let bestSerialise = Infinity;
let bestOnEnd = Infinity;
let bytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  bestSerialise = Math.min(bestSerialise, await serialiseOnly());
  const r = await exporterOnEnd();
  bestOnEnd = Math.min(bestOnEnd, r.ms);
  bytes = r.bytes;
}
const perSpan = (ms: number) => (ms * 1000) / spans.length;
const journalUs = perSpan(bestOnEnd) - perSpan(bestSerialise);
console.log(
  [
    `spans: ${spans.length}, best of ${ROUNDS} rounds`,
    `serialise only:             ${perSpan(bestSerialise).toFixed(2)} µs/span`,
    `exporter onEnd (+ journal): ${perSpan(bestOnEnd).toFixed(2)} µs/span`,
    `journal + queue:            ${journalUs.toFixed(2)} µs/span, ${(bytes / spans.length).toFixed(0)} bytes/span`,
    `at 200 req/s × 3 spans:     ${((journalUs * 600) / 1000).toFixed(2)} ms of CPU per second (${((journalUs * 600) / 1e4).toFixed(3)} % of a core), ${((bytes / spans.length) * 600 / 1024).toFixed(0)} KiB/s to the page cache`,
  ].join('\n'),
);
