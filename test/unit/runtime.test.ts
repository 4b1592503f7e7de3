// The runtime the suite runs on: a maintained Node.js LTS line (CI runs it on 26 and 24, see .ci/run)
// with the native addons loaded from the one `npm ci` build (they are N-API: ABI-stable across lines).
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

it('runs on the Node.js line CI asked for', () => {
  const expected = process.env.LLM_SIDECAR_EXPECT_NODE;
  const major = Number(process.versions.node.split('.')[0]);
  if (expected !== undefined) expect(major).toBe(Number(expected));
  else expect(major).toBeGreaterThanOrEqual(20);
});

it('loads the native addons: hnswlib-node and the embedded ClickHouse', async () => {
  const require = createRequire(import.meta.url);
  const { HierarchicalNSW } = require('hnswlib-node') as { HierarchicalNSW: new (space: string, dim: number) => { initIndex(n: number): void; addPoint(v: number[], label: number): void; searchKnn(v: number[], k: number): { neighbors: number[] } } };
  const index = new HierarchicalNSW('cosine', 3);
  index.initIndex(4);
  index.addPoint([1, 0, 0], 7);
  index.addPoint([0, 1, 0], 8);
  expect(index.searchKnn([0.9, 0.1, 0], 1).neighbors).toEqual([7]);
  const { query } = (await import('chdb')) as unknown as { query(q: string, format: string): string };
  expect(String(query('SELECT 40 + 2 AS x', 'CSV')).trim()).toBe('42');
});
