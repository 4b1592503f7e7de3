// Test harness: the fake provider and a sidecar in front of it, both on random ports, plus a
// recorder that lets tests wait for the CallRecord of a request.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../shared/config/load.ts';
import type { CallRecord, CallRecorder } from '../proxy/call-record.ts';
import { startSidecar, type RunningSidecar } from '../proxy/main.ts';
import { startFakeProvider, type FakeProvider } from '../simulator/server.ts';

export class MemoryRecorder implements CallRecorder {
  readonly calls: CallRecord[] = [];
  private waiters: { pred: (c: CallRecord) => boolean; resolve: (c: CallRecord) => void }[] = [];

  record(call: CallRecord): void {
    this.calls.push(call);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(call)) return true;
      w.resolve(call);
      return false;
    });
  }

  /** The first record (already seen or still to come) matching the predicate. */
  waitFor(pred: (c: CallRecord) => boolean, timeoutMs = 5_000): Promise<CallRecord> {
    const found = this.calls.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching call record')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  byRequestId(id: string): Promise<CallRecord> {
    return this.waitFor((c) => c.requestId === id);
  }
}

export interface Stack {
  spans: InMemorySpanExporter;
  fake: FakeProvider;
  sidecar: RunningSidecar;
  recorder: MemoryRecorder;
  close(): Promise<void>;
}

/** `configure` receives the fake provider's URL and returns the rest of the sidecar config. */
export async function startStack(configure?: (fakeUrl: string) => Record<string, unknown>): Promise<Stack> {
  const fake = await startFakeProvider();
  const raw = configure?.(fake.url) ?? {
    providers: {
      openai: { type: 'openai', baseUrl: `${fake.url}/v1` },
      anthropic: { type: 'anthropic', baseUrl: fake.url },
    },
  };
  // Suites that do not test storage run without ClickHouse (the embedded store is one per process).
  const config = parseConfig({ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, telemetry: { clickhouse: { mode: 'off' } }, ...raw });
  const recorder = new MemoryRecorder();
  const spans = new InMemorySpanExporter();
  const sidecar = await startSidecar(config, { recorders: [recorder], spanProcessors: [new SimpleSpanProcessor(spans)] });
  return {
    spans,
    fake,
    sidecar,
    recorder,
    async close() {
      await sidecar.close(1_000);
      await fake.close();
    },
  };
}
