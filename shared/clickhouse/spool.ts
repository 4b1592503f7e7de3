// A bounded, ordered, on-disk queue of span batches that could not be inserted (ClickHouse down),
// replayed oldest first when inserts work again — also after a restart, since it is just files:
//   <dir>/<20-digit sequence>.jsonl   one line per batch: {"t": dedup token, "r": [rows…]}
// Appends go to the newest ("active") segment until it reaches segmentBytes; replay reads whole
// sealed segments and deletes one when all its batches are acknowledged. Past maxBytes the OLDEST
// segments are deleted (and counted): recent telemetry is what alerts and dashboards need first,
// and dropping a whole file is O(1). A torn last line (crash mid-append) is skipped and counted.
// All operations run one at a time (a promise chain), so appends and replay never interleave.
import { appendFile, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface SpooledBatch {
  /** insert_deduplication_token of the batch, kept so every insert of it uses the same one. */
  token: string;
  /** The batch's rows, each as its JSONEachRow text (serialised once, when the span ended). */
  lines: string[];
}

export interface SpoolOptions {
  dir: string;
  /** Bound of the whole spool on disk. */
  maxBytes: number;
  /** Size at which the active segment is sealed and a new one started. */
  segmentBytes: number;
  /** Called with the number of rows lost (spool full, unreadable line) and why. */
  onDrop: (rows: number, reason: string) => void;
}

interface Segment {
  name: string;
  bytes: number;
  /** Rows in the segment; unknown for segments found on disk at start. */
  rows: number | undefined;
}

interface Reading {
  segment: Segment;
  batches: SpooledBatch[];
  index: number;
}

const SEGMENT_FILE = /^\d{20}\.jsonl$/;

export class DiskSpool {
  private readonly segments: Segment[] = [];
  /** The newest segment, still open for appends (never the one being replayed). */
  private active: Segment | undefined;
  private reading: Reading | undefined;
  private totalBytes = 0;
  private nextSequence: bigint;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: SpoolOptions,
    existing: Segment[],
  ) {
    this.segments.push(...existing);
    for (const s of existing) this.totalBytes += s.bytes;
    // Names sort in time order across restarts: never reuse or go below an existing name.
    const last = existing.at(-1);
    const now = BigInt(Date.now()) * 1000n;
    this.nextSequence = last !== undefined && BigInt(last.name.slice(0, 20)) >= now ? BigInt(last.name.slice(0, 20)) + 1n : now;
  }

  /** Opens (creating if needed) the spool directory and takes stock of what a previous run left. */
  static async open(options: SpoolOptions): Promise<DiskSpool> {
    await mkdir(options.dir, { recursive: true });
    const names = (await readdir(options.dir)).filter((n) => SEGMENT_FILE.test(n)).sort();
    const existing: Segment[] = [];
    for (const name of names) {
      const { size } = await stat(join(options.dir, name));
      if (size > 0) existing.push({ name, bytes: size, rows: undefined });
      else await unlink(join(options.dir, name));
    }
    return new DiskSpool(options, existing);
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  /** Appends one batch at the end of the queue (dropping the oldest segments past the bound). */
  append(batch: SpooledBatch): Promise<void> {
    return this.exclusive(async () => {
      // The rows are JSON already: splice them into the batch record instead of serialising again.
      const line = `{"t":${JSON.stringify(batch.token)},"r":[${batch.lines.join(',')}]}\n`;
      const size = Buffer.byteLength(line);
      if (size > this.options.maxBytes) {
        this.options.onDrop(batch.lines.length, `a batch of ${size} bytes is larger than the whole spool (${this.options.maxBytes} bytes)`);
        return;
      }
      while (this.totalBytes + size > this.options.maxBytes && this.segments.length > 0) await this.dropOldest();
      if (this.active === undefined || this.active.bytes >= this.options.segmentBytes) {
        this.active = { name: `${String(this.nextSequence++).padStart(20, '0')}.jsonl`, bytes: 0, rows: 0 };
        this.segments.push(this.active);
      }
      const file = join(this.options.dir, this.active.name);
      await appendFile(file, line).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await mkdir(this.options.dir, { recursive: true }); // the directory was removed under us
        await appendFile(file, line);
      });
      this.active.bytes += size;
      this.active.rows = (this.active.rows ?? 0) + batch.lines.length;
      this.totalBytes += size;
    });
  }

  /** The oldest batch not yet acknowledged, or undefined when the spool is empty. */
  next(): Promise<SpooledBatch | undefined> {
    return this.exclusive(async () => {
      for (;;) {
        if (this.reading !== undefined && this.reading.index < this.reading.batches.length) return this.reading.batches[this.reading.index];
        if (this.reading !== undefined) {
          await this.removeSegment(this.reading.segment);
          this.reading = undefined;
        }
        const oldest = this.segments[0];
        if (oldest === undefined) return undefined;
        if (oldest === this.active) this.active = undefined; // seal it: appends start a new segment
        this.reading = { segment: oldest, batches: await this.readSegment(oldest), index: 0 };
      }
    });
  }

  /** Marks the batch last returned by next() as inserted. */
  ack(): Promise<void> {
    return this.exclusive(async () => {
      if (this.reading === undefined) return;
      this.reading.index += 1;
      if (this.reading.index >= this.reading.batches.length) {
        await this.removeSegment(this.reading.segment);
        this.reading = undefined;
      }
    });
  }

  private async readSegment(segment: Segment): Promise<SpooledBatch[]> {
    let text: string;
    try {
      text = await readFile(join(this.options.dir, segment.name), 'utf8');
    } catch {
      return []; // vanished (deleted by hand): nothing to replay
    }
    const batches: SpooledBatch[] = [];
    let rows = 0;
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        const record = JSON.parse(line) as { t?: unknown; r?: unknown };
        if (typeof record.t !== 'string' || !Array.isArray(record.r)) throw new Error('not a batch');
        batches.push({ token: record.t, lines: record.r.map((row) => JSON.stringify(row)) });
        rows += record.r.length;
      } catch {
        this.options.onDrop(0, `an unreadable line in spool segment ${segment.name} (torn write?) was skipped`);
      }
    }
    segment.rows = rows;
    return batches;
  }

  private async dropOldest(): Promise<void> {
    const oldest = this.segments[0];
    if (oldest === undefined) return;
    let rows: number;
    if (this.reading?.segment === oldest) {
      rows = this.reading.batches.slice(this.reading.index).reduce((n, b) => n + b.lines.length, 0);
      this.reading = undefined;
    } else {
      rows = oldest.rows ?? (await this.readSegment(oldest)).reduce((n, b) => n + b.lines.length, 0);
    }
    if (oldest === this.active) this.active = undefined;
    await this.removeSegment(oldest);
    this.options.onDrop(rows, `spool full (${this.options.maxBytes} bytes): oldest segment ${oldest.name} deleted`);
  }

  private async removeSegment(segment: Segment): Promise<void> {
    const i = this.segments.indexOf(segment);
    if (i === -1) return;
    this.segments.splice(i, 1);
    this.totalBytes -= segment.bytes;
    await unlink(join(this.options.dir, segment.name)).catch(() => undefined);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
