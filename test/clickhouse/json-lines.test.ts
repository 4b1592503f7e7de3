// The JSONEachRow insert body: sliced, byte-exact, and the event loop gets a turn between slices.
import { expect, it } from 'vitest';
import { jsonLinesBody, jsonLinesMaxBytes } from '../../shared/clickhouse/json-lines.ts';

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
