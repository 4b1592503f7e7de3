// The JSONEachRow insert body: sliced, byte-exact, and the event loop gets a turn between slices;
// pre-encoded chunks (the span exporter's) go out as they are, grouped, never re-encoded.
import { expect, it } from 'vitest';
import { SLICE_BYTES, jsonLinesBody, jsonLinesMaxBytes, jsonLinesRows } from '../../shared/clickhouse/json-lines.ts';

const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i, text: `ü€😀 ${i}` }));

it('yields the rows as newline-terminated UTF-8 slices that add up to the whole body', async () => {
  const slices: Buffer[] = [];
  for await (const slice of jsonLinesBody(lines, 256)) slices.push(slice);
  expect(slices.map((s) => s.toString('utf8').split('\n').length - 1)).toEqual([256, 256, 256, 232]);
  const body = Buffer.concat(slices);
  expect(body.toString('utf8')).toBe(lines.join('\n') + '\n');
  expect(jsonLinesMaxBytes(lines)).toBeGreaterThanOrEqual(body.length);
});

it('lets other work run between slices', async () => {
  const order: string[] = [];
  let n = 0;
  for await (const slice of jsonLinesBody(lines, 400)) {
    order.push(`slice ${n++} (${slice.length > 0 ? 'bytes' : 'empty'})`);
    if (n === 1) setImmediate(() => order.push('other work'));
  }
  expect(order).toEqual(['slice 0 (bytes)', 'other work', 'slice 1 (bytes)', 'slice 2 (bytes)']);
});

it('yields nothing for no rows', async () => {
  const slices: Buffer[] = [];
  for await (const slice of jsonLinesBody([])) slices.push(slice);
  expect(slices).toEqual([]);
});

/** The same rows as the exporter holds them: a few rows per chunk, UTF-8, each row ending in "\n". */
const chunks = Array.from({ length: lines.length / 4 }, (_, i) => Buffer.from(`${lines.slice(i * 4, i * 4 + 4).join('\n')}\n`));

it('sends pre-encoded chunks byte for byte, grouped into slices of about SLICE_BYTES', async () => {
  const slices: Buffer[] = [];
  for await (const slice of jsonLinesBody(chunks)) slices.push(slice);
  expect(Buffer.concat(slices).toString('utf8')).toBe(lines.join('\n') + '\n');
  const total = chunks.reduce((n, c) => n + c.length, 0);
  expect(total).toBeLessThan(SLICE_BYTES);
  expect(slices).toHaveLength(1); // 250 chunks, one write
  const big = Array.from({ length: 3 }, () => Buffer.alloc(SLICE_BYTES - 1, 0x20));
  const bigSlices: Buffer[] = [];
  for await (const slice of jsonLinesBody(big)) bigSlices.push(slice);
  expect(bigSlices.map((b) => b.length)).toEqual([2 * SLICE_BYTES - 2, SLICE_BYTES - 1]);
  expect(jsonLinesMaxBytes(chunks)).toBe(total);
});

it('keeps the order of mixed rows and chunks, and splits both back into rows', async () => {
  const mixed = [lines[0] as string, chunks[1] as Buffer, lines[1] as string, lines[2] as string, chunks[2] as Buffer];
  const slices: Buffer[] = [];
  for await (const slice of jsonLinesBody(mixed, 2)) slices.push(slice);
  const expected = [lines[0], ...lines.slice(4, 8), lines[1], lines[2], ...lines.slice(8, 12)];
  expect(Buffer.concat(slices).toString('utf8')).toBe(expected.join('\n') + '\n');
  expect(jsonLinesRows(mixed)).toEqual(expected);
  expect(jsonLinesRows([Buffer.alloc(0)])).toEqual([]);
});
