// The body of a JSONEachRow insert, built without holding the event loop. Rows arrive in two forms:
//   - strings, one row's JSON text each (a spool replay, a caller's rows): joined and encoded a
//     slice at a time, with a turn of the event loop between slices. Joining and encoding a whole
//     batch in one go (3,000 spans ≈ 3 MB) held the sidecar's event loop ~5 ms, which every
//     request in flight at that moment paid;
//   - Buffers, UTF-8 text of one or more whole rows, each ending in "\n" (the span exporter's
//     chunks, encoded once when they were journaled): sent as they are, grouped into larger slices.
//     Encoding a row a second time (join, then UTF-8) cost as much CPU as building it.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Rows as JSONEachRow text: a string is one row; a Buffer is whole rows, each ending in "\n". */
export type JsonLines = readonly (string | Buffer)[];

/** Rows per slice: a few hundred µs of join + UTF-8 encoding each. */
export const ROWS_PER_SLICE = 256;
/** Bytes per slice of pre-encoded chunks: few writes to a socket, a short copy each. */
export const SLICE_BYTES = 256 * 1024;

/** The rows as newline-terminated UTF-8 slices. */
export async function* jsonLinesBody(lines: JsonLines, rowsPerSlice = ROWS_PER_SLICE): AsyncGenerator<Buffer> {
  let texts: string[] = [];
  let chunks: Buffer[] = [];
  let chunkBytes = 0;
  let yielded = false;
  const flushChunks = (): Buffer => {
    const slice = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, chunkBytes);
    chunks = [];
    chunkBytes = 0;
    return slice;
  };
  for (const line of lines) {
    if (typeof line === 'string') {
      if (chunks.length > 0) yield flushChunks();
      texts.push(line);
      if (texts.length >= rowsPerSlice) {
        if (yielded) await nextTurn();
        yield Buffer.from(`${texts.join('\n')}\n`);
        yielded = true;
        texts = [];
      }
    } else if (line.length > 0) {
      if (texts.length > 0) {
        yield Buffer.from(`${texts.join('\n')}\n`);
        texts = [];
      }
      chunks.push(line);
      chunkBytes += line.length;
      if (chunkBytes >= SLICE_BYTES) yield flushChunks();
    }
  }
  if (texts.length > 0) {
    if (yielded) await nextTurn();
    yield Buffer.from(`${texts.join('\n')}\n`);
  }
  if (chunks.length > 0) yield flushChunks();
}

/** An upper bound of the body's size in bytes (UTF-8 takes at most 3 bytes per UTF-16 unit). */
export function jsonLinesMaxBytes(lines: JsonLines): number {
  let bytes = 0;
  for (const line of lines) bytes += typeof line === 'string' ? (line.length + 1) * 3 : line.length;
  return bytes;
}

/** Each row's JSON text on its own (for the spool, and for test stores that read rows). */
export function jsonLinesRows(lines: JsonLines): string[] {
  const rows: string[] = [];
  for (const line of lines) {
    if (typeof line === 'string') rows.push(line);
    else for (const row of line.toString('utf8').split('\n')) if (row.length > 0) rows.push(row);
  }
  return rows;
}
