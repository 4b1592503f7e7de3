// Throughput of the span exporter into embedded ClickHouse (chdb), with the full schema in place
// (so every insert also runs the llm_calls and llm_calls_1m views and the trace-id lookup view).
//   node --import tsx test/clickhouse/bench-exporter.ts [spans=100000]
// Spans are the synthetic proxy traffic (SERVER + gen_ai CLIENT + attempt spans, ~30 attributes on
// the gen_ai ones), created before timing starts. Four measurements, each with the process's CPU per span
// (all threads: JS, and the ClickHouse engine's own threads):
//   convert  spanToRow + JSON text alone (the JS cost per span on the proxy's thread)
//   processor every span through onEnd() one by one, as the sidecar feeds it: rows serialised as
//            spans end, sent in 10,000-row inserts
//   bsp-N    N-span export() calls one after another, each awaited (what a BatchSpanProcessor does
//            with maxExportBatchSize N): one insert per export
//   burst    every 1024-span export() at once; the exporter coalesces them into 10,000-row inserts
// Each insert costs a roughly fixed amount (a new part in otel_traces and in every view's target)
// on top of the per-row work, so bigger batches go faster.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { TABLE_LLM_CALLS, TABLE_OTEL_TRACES, qualified } from '../../shared/clickhouse/schema.ts';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { spanToRow } from '../../shared/clickhouse/span-rows.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import { emitScenario, tracerProvider } from './genai-spans.ts';

const total = Number(process.argv[2] ?? 100_000);

function makeSpans(n: number): ReadableSpan[] {
  const { provider, memory } = tracerProvider(new InMemorySpanExporter());
  while (memory.getFinishedSpans().length < n) emitScenario(provider);
  return memory.getFinishedSpans().slice(0, n);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const root = await mkdtemp(join(tmpdir(), 'llm-sidecar-bench-'));
try {
  const store = await createEmbeddedStore({ dataDir: join(root, 'chdb') });
  await migrate(store);
  const rowsIn = async () => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${qualified(store.database, TABLE_OTEL_TRACES)}`))[0]?.n);
  const results: Record<string, string> = {};

  const sample = makeSpans(total);
  let t0 = performance.now();
  for (const s of sample) JSON.stringify(spanToRow(s));
  results.convert = `${Math.round(total / ((performance.now() - t0) / 1000)).toLocaleString('en')} spans/s (${(((performance.now() - t0) * 1000) / total).toFixed(2)} µs/span)`;

  for (const mode of ['bsp-1024', 'bsp-4096', 'burst', 'processor'] as const) {
    const spans = makeSpans(total); // fresh ids for each run
    const exporter = new ClickHouseSpanExporter({ store, spoolDir: join(root, `spool-${mode}`), log: () => undefined });
    const before = await rowsIn();
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    if (mode === 'processor') {
      for (const span of spans) exporter.onEnd(span);
    } else if (mode !== 'burst') {
      for (const batch of chunks(spans, Number(mode.slice(4)))) await new Promise<void>((done) => exporter.export(batch, () => done()));
    } else {
      await Promise.all(chunks(spans, 1024).map((batch) => new Promise<void>((done) => exporter.export(batch, () => done()))));
    }
    await exporter.forceFlush();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const stats = exporter.stats();
    if (stats.exported !== total || (await rowsIn()) - before !== total) throw new Error(`${mode}: expected ${total} rows, stats ${JSON.stringify(stats)}`);
    results[mode] = `${Math.round(total / seconds).toLocaleString('en')} spans/s (${total.toLocaleString('en')} spans in ${seconds.toFixed(2)} s, ${((cpu.user + cpu.system) / total).toFixed(1)} µs CPU/span)`;
    await exporter.shutdown();
  }
  const calls = (await store.query<{ n: string }>(`SELECT count() AS n FROM ${qualified(store.database, TABLE_LLM_CALLS)}`))[0]?.n;
  await store.close();
  console.log(`exporter → embedded ClickHouse (chdb), ${total.toLocaleString('en')} spans per run, llm_calls rows derived: ${calls}`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(9)} ${v}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
