// Why: a span that ended but still waits in memory for its batch (up to flushIntervalMs) is lost
// when the process is killed (SIGKILL, an OOM kill). The journal puts every row on disk the moment
// its span ends, so that a restart finds and delivers it:
//   <spoolDir>/journal/<token>.jsonl   one row's JSON text per line, one file per batch
// The file's name IS the batch's insert_deduplication_token: the rows of one file are inserted
// together, under that token, whether by this process or by the next one after a crash. A batch
// that did reach ClickHouse before the crash is then skipped by ClickHouse on replay (no doubles);
// one that did not is inserted (nothing lost).
// Costs: one write() into the page cache per task that ended spans (a call's spans end together,
// so one write per call, not per span), no fsync: a page-cache write survives the death of the
// process, not of the machine (power loss or a kernel crash can still lose the last seconds).
// The write is synchronous, at the end of the task that ended the spans (the exporter gathers a
// task's rows and writes them in a microtask): no turn of the event loop separates "span ended"
// from "span on disk". The bytes written are the exporter's insert body too (encoded once).
// Lifecycle of a file: open (rows appended) → sealed (its rows handed to the exporter's queue as
// one batch) → released (deleted) once the batch is in ClickHouse or in the spool, or dropped.
import { closeSync, mkdirSync, openSync, readdirSync, rmdirSync, writeSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { claimSpoolDir, type SpooledBatch, type SpoolOwner } from './spool.ts';

export const JOURNAL_DIR = 'journal';
const JOURNAL_FILE = /^([A-Za-z0-9_-]+)\.jsonl$/;

export interface SpanJournalOptions {
  /** The spool directory; the journal lives in its `journal/` subdirectory. */
  spoolDir: string;
  /** Called when a write fails (disk full, permissions): the row stays in memory only. */
  onError: (err: Error) => void;
}

export class SpanJournal {
  readonly dir: string;
  private readonly onError: (err: Error) => void;
  /** Files a previous run left (a crash): batches to recover, names taken before any new file exists. */
  private readonly leftovers: string[];
  private fd: number | undefined;
  private token: string | undefined;
  /** A write of the open file failed: the file no longer holds the whole batch. */
  private broken = false;
  private failing = false;

  /** This process owns the spool directory (claimSpoolDir): another sidecar's live files are never taken for leftovers. */
  private readonly owner: SpoolOwner | undefined;

  /** Throws SpoolInUseError while another running sidecar owns the directory. */
  constructor(options: SpanJournalOptions) {
    this.dir = join(options.spoolDir, JOURNAL_DIR);
    this.onError = options.onError;
    this.owner = claimSpoolDir(options.spoolDir);
    let names: string[] = [];
    try {
      mkdirSync(this.dir, { recursive: true });
      names = readdirSync(this.dir).filter((n) => JOURNAL_FILE.test(n)).sort();
    } catch (err) {
      this.fail(err);
    }
    this.leftovers = names;
  }

  /**
   * Appends whole rows (UTF-8 JSON text, each ending in "\n") to the batch file of `token`, opening
   * it if needed (and sealing the file of another token first). Synchronous: on disk (in the page
   * cache) when it returns, unless the write failed (reported once through onError).
   */
  write(token: string, bytes: Buffer): void {
    if (this.token !== undefined && this.token !== token) this.seal();
    this.token = token;
    if (this.broken) return; // one failed write makes the file partial: the rest of the batch stays in memory only
    try {
      this.fd ??= openSync(join(this.dir, `${token}.jsonl`), 'a');
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done);
      if (this.failing) this.failing = false;
    } catch (err) {
      this.broken = true;
      this.fail(err);
      if (isMissingDir(err)) {
        try {
          mkdirSync(this.dir, { recursive: true }); // removed under us: the next batch gets a file again
        } catch {
          // reported above
        }
      }
    }
  }

  /** Closes the open file: its rows are now one batch, under its token. */
  seal(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch (err) {
        this.fail(err);
      }
    }
    this.fd = undefined;
    this.token = undefined;
    this.broken = false;
  }

  /** The batch is in ClickHouse or in the spool (or dropped for good): its file goes. */
  async release(token: string): Promise<void> {
    await unlink(join(this.dir, `${token}.jsonl`)).catch(() => undefined);
  }

  /**
   * The batches a previous process left, one per file, with the file's name as the token. A torn
   * last line (the process died inside a write) is skipped; it was never part of an insert, since
   * only sealed files are inserted and a sealed file's writes had all returned.
   */
  async *recover(): AsyncGenerator<{ batch: SpooledBatch; release: () => Promise<void> }> {
    for (const name of this.leftovers) {
      const token = (JOURNAL_FILE.exec(name) as RegExpExecArray)[1] as string;
      let text: string;
      try {
        text = await readFile(join(this.dir, name), 'utf8');
      } catch {
        continue; // vanished: nothing to recover
      }
      const lines = text.split('\n').filter((line) => {
        if (line.length === 0) return false;
        try {
          JSON.parse(line);
          return true;
        } catch {
          return false;
        }
      });
      yield { batch: { token, lines }, release: () => this.release(token) };
    }
    this.leftovers.length = 0;
  }

  /** On a clean stop: removes the journal directory when nothing is left in it. */
  close(): void {
    this.seal();
    this.owner?.release();
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty (batches still to deliver at the next start) or already gone
    }
  }

  private fail(err: unknown): void {
    if (this.failing) return; // once per spell of failures, not once per row
    this.failing = true;
    this.onError(err instanceof Error ? err : new Error(String(err)));
  }
}

function isMissingDir(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

