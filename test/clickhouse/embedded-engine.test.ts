// The embedded engine starts with bounded caches (issue #18): chdb's defaults are a dedicated
// server's (5 GiB per mark / index cache), which would let an app's pod grow without bound as
// dashboards read through the embedded store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_ENGINE_ARGS, createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
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
});
