// A bounded, ordered, on-disk queue of span batches that could not be inserted (ClickHouse down),
// replayed oldest first when inserts work again — also after a restart, since it is just files:
//   <dir>/<20-digit sequence>.jsonl   one line per batch: {"t": dedup token, "r": [rows…]}
// Appends go to the newest ("active") segment until it reaches segmentBytes; replay reads whole
// sealed segments and deletes one when all its batches are acknowledged. Past maxBytes the OLDEST
// segments are deleted (and counted): recent telemetry is what alerts and dashboards need first,
// and dropping a whole file is O(1). A torn last line (crash mid-append) is skipped and counted.
// All operations run one at a time (a promise chain), so appends and replay never interleave.
import { linkSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
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

// --- One sidecar per spool directory ---
//
// Two processes on one spool directory would each take the other's live journal files for a
// crashed run's leftovers, replay them and delete them while the other still writes (rows lost),
// and replay and delete each other's segments. So a directory has one owner: <dir>/owner.json
// names it (pid, its start time and PID namespace, host), and a second process refuses to start
// while that owner lives. Whether it lives:
//   - same PID namespace (two processes on one machine or in one container): exact, from
//     /proc/<pid>/stat (the pid exists and started when the file says: a reused pid is not it);
//   - another namespace (another container or host on a shared volume): the owner touches the file
//     every OWNER_HEARTBEAT_MS; older than OWNER_STALE_MS, it is gone. A container restarted after a
//     crash finds its own previous incarnation (same host name, same pid): taken over at once.
// A file left by a crash is taken over (its data is then recovered, as before); a clean stop
// removes it. Several exporters in one process may share a directory (tests abandon one to
// simulate a crash): ownership is per process.

export const OWNER_FILE = 'owner.json';
export const OWNER_HEARTBEAT_MS = 5_000;
export const OWNER_STALE_MS = 20_000;

interface OwnerRecord {
  pid: number;
  /** Process start time (field 22 of /proc/<pid>/stat, clock ticks since boot). */
  start: string | undefined;
  /** The PID namespace (`pid:[inode]`), where /proc shows it. */
  pidNs: string | undefined;
  host: string;
  since: string;
  /** Unique per claim. */
  token: string;
}

export class SpoolInUseError extends Error {
  readonly code = 'SPOOL_IN_USE';
}

function procStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), which ends with the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function readOwner(file: string): { owner: OwnerRecord | undefined; ageMs: number } | undefined {
  try {
    const ageMs = Date.now() - statSync(file).mtimeMs;
    try {
      return { owner: JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord, ageMs };
    } catch {
      return { owner: undefined, ageMs };
    }
  } catch {
    return undefined; // no owner file
  }
}

/** Whether the recorded owner is a process that still runs (never this process: see the caller). */
function ownerAlive(owner: OwnerRecord, ageMs: number, me: OwnerRecord): boolean {
  if (owner.pidNs !== undefined && owner.pidNs === me.pidNs) return owner.start !== undefined && procStart(owner.pid) === owner.start;
  if (owner.host === me.host && owner.pid === me.pid) return false; // our own previous incarnation (a restarted container)
  return ageMs < OWNER_STALE_MS;
}

export interface SpoolOwner {
  /** Removes the owner file (clean stop): the next process starts at once. */
  release(): void;
}

/**
 * Makes this process the one owner of `dir` (synchronous: before anything in it is read). Throws
 * SpoolInUseError while another live process owns it; other file errors (a read-only disk) are left
 * to the spool and journal, which report them, and no ownership is kept.
 */
export function claimSpoolDir(dir: string): SpoolOwner | undefined {
  const file = join(dir, OWNER_FILE);
  const me: OwnerRecord = { pid: process.pid, start: procStart('self'), pidNs: pidNamespace(), host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  try {
    mkdirSync(dir, { recursive: true });
    const temp = join(dir, `.owner-${me.token}.tmp`);
    writeFileSync(temp, `${JSON.stringify(me)}\n`);
    try {
      try {
        linkSync(temp, file); // atomic: fails when an owner file exists, and is never seen half-written
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const found = readOwner(file);
        const owner = found?.owner;
        const ours = owner !== undefined && owner.pid === me.pid && owner.start === me.start && owner.pidNs === me.pidNs;
        if (found && owner && !ours && ownerAlive(owner, found.ageMs, me)) {
          throw new SpoolInUseError(
            `spool directory ${dir} is in use by another llm-sidecar (pid ${owner.pid} on ${owner.host}, since ${owner.since}): two sidecars must not share a spool directory (each would replay and delete the other's span journal); give each its own telemetry.spool.dir`,
          );
        }
        // Left by a crashed process (or by this one): taken over.
        renameSync(temp, file);
      }
    } finally {
      try {
        unlinkSync(temp);
      } catch {
        // renamed away
      }
    }
  } catch (err) {
    if (err instanceof SpoolInUseError) throw err;
    return undefined;
  }
  const beat = setInterval(() => {
    try {
      utimesSync(file, new Date(), new Date());
    } catch {
      // removed under us: nothing to keep alive
    }
  }, OWNER_HEARTBEAT_MS);
  beat.unref();
  return {
    release() {
      clearInterval(beat);
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord).token === me.token) unlinkSync(file);
      } catch {
        // gone already
      }
    },
  };
}
