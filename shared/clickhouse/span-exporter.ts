// Writes spans straight into otel_traces (collector layout). It is both an OpenTelemetry SpanProcessor
// (how the sidecar uses it) and a SpanExporter (behind a BatchSpanProcessor, as any exporter).
// Nothing lost, nothing blocked:
//   - As a processor, each span becomes its row's JSON text the moment it ends (a few µs, spread
//     evenly over the calls); the rows a task ended are encoded to UTF-8 once, at the end of that
//     task, and those bytes are both the journal's write and the insert's body (no second copy).
//     They go out together every flushIntervalMs or maxBatchRows.
//   - Crash-safe: before a row counts as queued it is appended to the journal (span-journal.ts:
//     <spoolDir>/journal/<token>.jsonl, one file per batch, a page-cache write, no fsync). A process
//     killed with rows in memory (SIGKILL, an OOM kill) leaves them there; the next start moves
//     them into the spool under their batch's token and replays them like any spooled batch.
//     A batch processor would instead convert thousands of spans in one go, stalling the event loop
//     for tens of milliseconds at a time: that shows in the app's p99, so it is not done here.
//   - export() returns at once and never throws; spans become rows and join an in-memory queue that
//     one worker drains in batches (up to maxBatchRows per insert). The export's callback fires when
//     its rows are safe: in ClickHouse, or in the on-disk spool.
//   - An insert that fails (ClickHouse down, or slower than insertTimeoutMs) sends the batch to the
//     spool (spool.ts) and switches to "degraded": later batches go straight to the spool behind it,
//     so order is kept, while a timer retries with backoff (retryInitialMs doubling to retryMaxMs),
//     replaying the spool oldest first. Once the spool is empty, inserts go direct again. A spool
//     left by a previous run is replayed at start.
//   - Past spoolMaxBytes the OLDEST spooled segments are deleted; rows lost that way (or to a batch
//     ClickHouse rejects as malformed, which no retry can fix) are counted in stats().dropped and logged.
// At-least-once, deduplicated: each batch gets a unique insert_deduplication_token when its first
// row is journaled and keeps it in the journal and the spool, so every insert of the same batch
// carries the same token. Batches are never merged or split after that (one batch, one insert). When a first
// insert did reach ClickHouse but its answer was lost (timeout, crash before a spool segment was
// deleted), the replay is skipped by ClickHouse instead of doubling the rows. This needs insert
// deduplication on the tables (migration 002 and the views' targets set non_replicated_deduplication_window;
// Replicated tables have it by default) and covers the last 1000 inserted batches per table.
import { logger } from '../log.ts';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { jsonLinesRows, type JsonLines } from './json-lines.ts';
import { TABLE_OTEL_TRACES, assertIdentifier } from './schema.ts';
import { spanToRow } from './span-rows.ts';
import { SpanJournal } from './span-journal.ts';
import { DiskSpool } from './spool.ts';
import { ClickHouseStoreError } from './store-error.ts';
import type { ClickHouseStore } from './store.ts';

export const DEFAULT_SPOOL_DIR = './.llm-sidecar/spool';

export type ExporterLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface ClickHouseSpanExporterOptions {
  store: ClickHouseStore;
  /** Database holding otel_traces; default the store's. */
  database?: string;
  /** Default ./.llm-sidecar/spool. One exporter (one process) per spool directory. */
  spoolDir?: string;
  /** Bound of the spool on disk; default 256 MiB. */
  spoolMaxBytes?: number;
  /** Spool segment size; default 8 MiB. */
  spoolSegmentBytes?: number;
  /** Most rows per insert; default 10,000 (fewer, larger parts: less merging for ClickHouse). */
  maxBatchRows?: number;
  /** As a processor: how long a finished span waits for company before its batch goes out; default 2 s. */
  flushIntervalMs?: number;
  /** An insert slower than this is spooled (and its late success deduplicated); default 10 s. */
  insertTimeoutMs?: number;
  /** First retry delay after a failure; default 1 s. Doubles up to retryMaxMs (default 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** forceFlush()/shutdown() spill what is left to the spool after this; default 10 s. */
  flushTimeoutMs?: number;
  /** Default: console, prefixed. State changes and drops only, never once per span. */
  log?: ExporterLog;
  /**
   * Resolves when the schema is in place (the migrations ran). Until then batches go to the spool,
   * as when ClickHouse is down: a row inserted into otel_traces before the views exist would never
   * reach llm_calls. Default: ready at once.
   */
  schemaReady?: Promise<unknown>;
}

export interface ExporterStats {
  /** Rows inserted directly. */
  exported: number;
  /** Rows written to the spool. */
  spooled: number;
  /** Rows inserted from the spool. */
  replayed: number;
  /** Rows lost (spool full, rejected by ClickHouse as malformed, spool unwritable). */
  dropped: number;
  /** Rows in memory, not yet in ClickHouse or the spool. */
  queued: number;
  /** Current size of the spool on disk. */
  spoolBytes: number;
  /** Rows found in the journal at start (left by a process that died) and moved to the spool. */
  recovered: number;
}

/** A batch in memory: its rows as the UTF-8 chunks written to its journal file. */
interface Batch {
  /** The batch's insert_deduplication_token (and journal file name). */
  token: string;
  /** Whole rows, each ending in "\n" (JSONEachRow), as journaled: the insert body as is. */
  chunks: Buffer[];
  rows: number;
}

interface Pending extends Batch {
  done: (result: ExportResult) => void;
}

const ignoreResult = (): void => undefined;

const defaultLog: ExporterLog = (level, message) => logger[level]({ component: 'clickhouse span exporter' }, message);

const SUCCESS: ExportResult = { code: ExportResultCode.SUCCESS };
const DROP_LOG_INTERVAL_MS = 10_000;

export class ClickHouseSpanExporter implements SpanExporter, SpanProcessor {
  private readonly store: ClickHouseStore;
  private readonly table: string;
  private readonly spoolDir: string;
  private readonly maxBatchRows: number;
  private readonly flushIntervalMs: number;
  /** Rows of spans ended in the current task, journaled together when it ends (a microtask). */
  private taskLines: string[] = [];
  private taskScheduled = false;
  private readonly endTask = (): void => this.writeTask();
  /** Rows of ended spans (processor side) journaled under pendingToken, not yet handed to the queue. */
  private pendingChunks: Buffer[] = [];
  private pendingRows = 0;
  private pendingToken = '';
  private readonly journal: SpanJournal;
  /** Journal files being deleted; shutdown waits for them. */
  private readonly releases = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly insertTimeoutMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly flushTimeoutMs: number;
  private readonly log: ExporterLog;
  /** Unique per exporter instance: with the batch sequence, a dedup token no other batch shares. */
  private readonly instanceId = randomBytes(8).toString('hex');
  private sequence = 0;

  private readonly spoolReady: Promise<DiskSpool | undefined>;
  private spool: DiskSpool | undefined;
  private queue: Pending[] = [];
  private queuedRows = 0;
  private inFlightRows = 0;
  private working = false;
  private idleWaiters: (() => void)[] = [];
  /** An insert failed, or the spool holds older data: new batches go to the spool. */
  private degraded = false;
  private replaying = false;
  private schemaReady = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  /** Set by forceFlush/shutdown past their deadline: stop waiting on inserts, spool everything. */
  private spilling = false;
  /** Interrupts the direct insert in flight when a flush deadline passes. */
  private readonly spillListeners = new Set<() => void>();
  private closed = false;
  private readonly counts = { exported: 0, spooled: 0, replayed: 0, dropped: 0, recovered: 0 };
  private dropsSinceLog = 0;
  private lastDropLog = 0;

  constructor(options: ClickHouseSpanExporterOptions) {
    this.store = options.store;
    this.table = `${assertIdentifier(options.database ?? options.store.database, 'database')}.${TABLE_OTEL_TRACES}`;
    this.spoolDir = resolve(options.spoolDir ?? DEFAULT_SPOOL_DIR);
    this.maxBatchRows = options.maxBatchRows ?? 10_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 2000;
    this.insertTimeoutMs = options.insertTimeoutMs ?? 10_000;
    this.retryInitialMs = options.retryInitialMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this.log = options.log ?? defaultLog;
    this.retryDelayMs = this.retryInitialMs;
    this.journal = new SpanJournal({
      spoolDir: this.spoolDir,
      onError: (err) => this.log('error', `cannot write the span journal in ${this.spoolDir} (${err.message}): rows wait in memory only until inserted, a crash would lose them`),
    });

    if (options.schemaReady !== undefined) {
      this.schemaReady = false;
      void options.schemaReady.then(() => {
        this.schemaReady = true;
        if (this.degraded) this.scheduleReplay(0);
      });
    }

    this.spoolReady = DiskSpool.open({
      dir: this.spoolDir,
      maxBytes: options.spoolMaxBytes ?? 256 * 1024 * 1024,
      segmentBytes: options.spoolSegmentBytes ?? 8 * 1024 * 1024,
      onDrop: (rows, reason) => this.dropped(rows, reason),
    }).then(
      async (spool) => {
        this.spool = spool;
        await this.recoverJournal(spool);
        if (!spool.isEmpty) {
          // Data from a previous run (or a crash): it goes in before anything new.
          this.degraded = true;
          this.log('info', `found ${spool.bytes} bytes of spooled spans in ${this.spoolDir}; replaying them`);
          this.scheduleReplay(0);
        }
        return spool;
      },
      (err: unknown) => {
        this.log('error', `cannot use spool directory ${this.spoolDir} (${err instanceof Error ? err.message : String(err)}): spans that cannot be inserted will be dropped`);
        return undefined;
      },
    );
  }

  // --- SpanProcessor: one span at a time, as it ends ---

  onStart(): void {
    // Nothing to do before a span ends.
  }

  onEnd(span: ReadableSpan): void {
    if (this.closed) return;
    let line: string;
    try {
      line = JSON.stringify(spanToRow(span));
    } catch (err) {
      this.dropped(1, `span conversion failed: ${errorText(err)}`);
      return;
    }
    this.taskLines.push(line);
    if (!this.taskScheduled) {
      this.taskScheduled = true;
      queueMicrotask(this.endTask);
    }
  }

  /** The rows the task ended: encoded once, on disk before they count as queued, then pending. */
  private writeTask(): void {
    this.taskScheduled = false;
    if (this.taskLines.length === 0) return;
    const lines = this.taskLines;
    this.taskLines = [];
    // Never more than maxBatchRows per batch: a task's rows that do not fit start the next one.
    for (let from = 0; from < lines.length; ) {
      const to = Math.min(lines.length, from + this.maxBatchRows - this.pendingRows);
      const bytes = Buffer.from(`${(from === 0 && to === lines.length ? lines : lines.slice(from, to)).join('\n')}\n`);
      if (this.pendingRows === 0) this.pendingToken = this.newToken();
      this.journal.write(this.pendingToken, bytes);
      this.pendingChunks.push(bytes);
      this.pendingRows += to - from;
      from = to;
      if (this.pendingRows >= this.maxBatchRows) this.flushPending();
    }
    if (this.pendingRows > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flushPending(), this.flushIntervalMs);
      this.flushTimer.unref(); // forceFlush/shutdown send what is left
    }
  }

  private flushPending(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.writeTask(); // rows of the current task (forceFlush): journaled first, like any others
    if (this.pendingRows === 0) return;
    const batch: Batch = { token: this.pendingToken, chunks: this.pendingChunks, rows: this.pendingRows };
    this.pendingChunks = [];
    this.pendingRows = 0;
    this.journal.seal();
    this.enqueue(batch, ignoreResult);
  }

  // --- SpanExporter: batches handed over by a span processor ---

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('ClickHouse span exporter is shut down') });
      return;
    }
    let lines: string[];
    try {
      lines = spans.map((span) => JSON.stringify(spanToRow(span)));
    } catch (err) {
      this.dropped(spans.length, `span conversion failed: ${errorText(err)}`);
      resultCallback({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      return;
    }
    if (lines.length === 0) {
      resultCallback(SUCCESS);
      return;
    }
    const token = this.newToken();
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    this.journal.write(token, bytes);
    this.journal.seal();
    this.enqueue({ token, chunks: [bytes], rows: lines.length }, resultCallback);
  }

  private newToken(): string {
    return `${this.instanceId}-${String(this.sequence++).padStart(10, '0')}`;
  }

  private enqueue(batch: Batch, done: (result: ExportResult) => void): void {
    this.queue.push({ ...batch, done });
    this.queuedRows += batch.rows;
    void this.drain();
  }

  /** Resolves once every span handed to export() is in ClickHouse or the spool (spilling to the spool after flushTimeoutMs). */
  async forceFlush(): Promise<void> {
    this.flushPending();
    void this.drain();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), this.flushTimeoutMs);
    });
    const outcome = await Promise.race([this.whenIdle().then(() => 'idle' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.spilling = true;
      for (const interrupt of this.spillListeners) interrupt();
      await this.whenIdle();
      this.spilling = false;
    }
  }

  /** Flushes (see forceFlush) and stops retrying; the spool stays on disk for the next start. Does not close the store. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.forceFlush();
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await Promise.all([...this.releases]);
    this.journal.close();
  }

  stats(): ExporterStats {
    return { ...this.counts, queued: this.taskLines.length + this.pendingRows + this.queuedRows + this.inFlightRows, spoolBytes: this.spool?.bytes ?? 0 };
  }

  /** Batches a killed process left in the journal go to the spool (same token), then their files go. */
  private async recoverJournal(spool: DiskSpool): Promise<void> {
    try {
      for await (const { batch, release } of this.journal.recover()) {
        if (batch.lines.length > 0) await spool.append(batch);
        await release();
        this.counts.recovered += batch.lines.length;
      }
    } catch (err) {
      this.log('error', `cannot recover the span journal in ${this.journal.dir}: ${errorText(err)} (its files are kept for the next start)`);
    }
    if (this.counts.recovered > 0) this.log('info', `recovered ${this.counts.recovered} span rows from the journal a stopped process left`);
  }

  // --- the worker: queue → ClickHouse or spool, one batch at a time, in order ---

  private async drain(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      const spool = await this.spoolReady;
      // One queued batch per insert, never merged: its rows and token are those of its journal file.
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        this.queuedRows -= item.rows;
        this.inFlightRows = item.rows;
        const result = await this.deliver(item, spool);
        this.inFlightRows = 0;
        // In ClickHouse or in the spool, or dropped for good: the journal file has done its job.
        const release = this.journal.release(item.token);
        this.releases.add(release);
        void release.finally(() => this.releases.delete(release));
        try {
          item.done(result);
        } catch {
          // a throwing callback is the caller's bug; it must not stop the worker
        }
      }
    } finally {
      this.working = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async deliver(batch: Batch, spool: DiskSpool | undefined): Promise<ExportResult> {
    if (!this.schemaReady && !this.degraded) {
      this.degraded = true;
      this.log('info', `the ClickHouse schema is not in place yet — spooling spans to ${this.spoolDir} until it is`);
    }
    if (!this.degraded && !this.spilling) {
      try {
        await this.insert(batch.token, batch.chunks, true);
        this.counts.exported += batch.rows;
        return SUCCESS;
      } catch (err) {
        if (err instanceof ClickHouseStoreError && !err.retryable) {
          this.dropped(batch.rows, `ClickHouse rejected a batch: ${err.message}`);
          return { code: ExportResultCode.FAILED, error: err };
        }
        if (!this.degraded) {
          this.degraded = true;
          this.log('warn', `${errorText(err)} — spooling spans to ${this.spoolDir} until inserts work again`);
        }
      }
    }
    if (spool === undefined) {
      this.dropped(batch.rows, 'ClickHouse is unavailable and there is no spool');
      return { code: ExportResultCode.FAILED, error: new Error('ClickHouse unavailable and no spool') };
    }
    try {
      // The spool keeps one JSON text per row (its format across versions); the rare path pays the split.
      await spool.append({ token: batch.token, lines: jsonLinesRows(batch.chunks) });
      this.counts.spooled += batch.rows;
      this.scheduleReplay(this.retryDelayMs);
      return SUCCESS;
    } catch (err) {
      this.dropped(batch.rows, `cannot write to the spool: ${errorText(err)}`);
      return { code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  /** One insert, given up after insertTimeoutMs (or at a flush deadline) — a late success is deduplicated on replay. */
  private insert(token: string, body: JsonLines, interruptible: boolean): Promise<void> {
    const attempt = Promise.resolve().then(() => this.store.insertJsonLines(this.table, body, { dedupToken: token }));
    attempt.catch(() => undefined); // an abandoned attempt must not become an unhandled rejection
    let timer: NodeJS.Timeout | undefined;
    let interrupt: (() => void) | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ClickHouse insert took longer than ${this.insertTimeoutMs} ms`)), this.insertTimeoutMs);
      if (interruptible) {
        interrupt = () => reject(new Error('flush deadline reached'));
        this.spillListeners.add(interrupt);
      }
    });
    return Promise.race([attempt, limit]).finally(() => {
      clearTimeout(timer);
      if (interrupt !== undefined) this.spillListeners.delete(interrupt);
    });
  }

  private whenIdle(): Promise<void> {
    if (!this.working && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  // --- replay: spool → ClickHouse, oldest first, with backoff ---

  private scheduleReplay(delayMs: number): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.replay();
    }, delayMs);
    this.retryTimer.unref(); // a pending retry must not keep the process alive
  }

  private async replay(): Promise<void> {
    const spool = this.spool;
    if (this.replaying || this.closed || spool === undefined) return;
    if (!this.schemaReady) return; // replayed as soon as the migrations are done
    this.replaying = true;
    let failed = false;
    let replayed = 0;
    try {
      for (let batch = await spool.next(); batch !== undefined && !this.closed; batch = await spool.next()) {
        try {
          await this.insert(batch.token, batch.lines, false);
          this.counts.replayed += batch.lines.length;
          replayed += batch.lines.length;
        } catch (err) {
          if (err instanceof ClickHouseStoreError && !err.retryable) {
            this.dropped(batch.lines.length, `ClickHouse rejected a spooled batch: ${err.message}`);
          } else {
            failed = true;
            break;
          }
        }
        await spool.ack();
      }
    } catch (err) {
      failed = true; // the spool itself failed (disk); try again later
      this.log('error', `spool replay failed: ${errorText(err)}`);
    } finally {
      this.replaying = false;
    }
    if (!failed && spool.isEmpty) {
      if (this.degraded) this.log('info', `ClickHouse inserts work again; replayed ${replayed} spooled rows`);
      this.degraded = false;
      this.retryDelayMs = this.retryInitialMs;
    }
    if (spool.isEmpty) return;
    if (!failed) {
      this.scheduleReplay(0); // more arrived while replaying
      return;
    }
    // Exponential backoff with ±20% jitter, so many sidecars do not retry in step.
    this.scheduleReplay(this.retryDelayMs * (0.8 + Math.random() * 0.4));
    this.retryDelayMs = Math.min(this.retryMaxMs, this.retryDelayMs * 2);
  }

  private dropped(rows: number, reason: string): void {
    this.counts.dropped += rows;
    this.dropsSinceLog += rows;
    const now = Date.now();
    if (now - this.lastDropLog >= DROP_LOG_INTERVAL_MS) {
      this.log('error', `dropped ${this.dropsSinceLog} span rows (${this.counts.dropped} in total): ${reason}`);
      this.lastDropLog = now;
      this.dropsSinceLog = 0;
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
