// The embedded engine starts with bounded caches (issue #18): chdb's defaults are a dedicated
// server's (5 GiB per mark / index cache), which would let an app's pod grow without bound as
// dashboards read through the embedded store. And it removes merged-away parts within seconds
// (issue #16's soak): with chdb's defaults they stayed in memory for 30 s to minutes, by the hundreds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_ENGINE_ARGS, EMBEDDED_MERGE_TREE_SETTINGS, createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { until } from '../support/wait.ts';
import { chdbAvailable } from './chdb-available.ts';

const available = await chdbAvailable();

describe.runIf(available)('embedded engine settings', () => {
  let root: string;
  let store: ClickHouseStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'llm-sidecar-engine-'));
    store = await createEmbeddedStore({ dataDir: join(root, 'chdb') });
  });

  afterAll(async () => {
    await store?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('bounds every cache it names, in the running engine', async () => {
    const wanted = Object.fromEntries(EMBEDDED_ENGINE_ARGS.map((a) => /^--(\w+)=(\d+)$/.exec(a)?.slice(1) as [string, string]));
    expect(Object.keys(wanted)).toContain('mark_cache_size');
    const rows = await store.query<{ name: string; value: string }>('SELECT name, value FROM system.server_settings WHERE name IN {names:Array(String)}', { names: Object.keys(wanted) });
    expect(Object.fromEntries(rows.map((r) => [r.name, r.value]))).toEqual(wanted);
    const total = Object.values(wanted).reduce((n, v) => n + Number(v), 0);
    expect(total).toBeLessThanOrEqual(96 * 1024 * 1024);
  });

  it('runs with its MergeTree cleanup settings', async () => {
    const rows = await store.query<{ name: string; value: string }>('SELECT name, value FROM system.merge_tree_settings WHERE name IN {names:Array(String)}', { names: Object.keys(EMBEDDED_MERGE_TREE_SETTINGS) });
    expect(Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]))).toEqual(EMBEDDED_MERGE_TREE_SETTINGS);
  });

  it('removes merged-away parts within seconds, not 30 s or more later', async () => {
    await store.command('CREATE TABLE cleanup_probe (n UInt64) ENGINE = MergeTree ORDER BY n');
    for (let i = 0; i < 20; i++) await store.command(`INSERT INTO cleanup_probe SELECT number FROM numbers(${i * 100}, 100)`);
    await store.command('OPTIMIZE TABLE cleanup_probe FINAL');
    const parts = () => store.query<{ current: string; outdated: string }>("SELECT toString(countIf(active)) AS current, toString(countIf(NOT active)) AS outdated FROM system.parts WHERE database = currentDatabase() AND table = 'cleanup_probe'");
    expect((await parts())[0]).toMatchObject({ current: '1' });
    // chdb's defaults (cleanup every 30 s + up to 10 s, backing off when idle) keep the 20 longer than this.
    await until('the 20 merged-away parts are removed', async () => (await parts())[0]?.outdated === '0', { timeoutMs: 22_000, intervalMs: 250 });
    expect(await store.query<{ c: string }>('SELECT toString(count()) AS c FROM cleanup_probe')).toEqual([{ c: '2000' }]);
  });
});
