// `llm-sidecar report` (dashboards/report.ts) on seeded traffic in real ClickHouse (chdb): the
// figures it prints are the seeded ones.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCount, formatPercent, formatUsd, runReport } from '../../dashboards/report.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';
import { BURST_ROUTE, picoToNumber, seed, sumPico, type Seed, type SeedCall } from './seed.ts';

const hasChdb = await chdbAvailable();

describe('report formatting', () => {
  it('formats counts, shares and dollars, with a dash for unknown values', () => {
    expect(formatCount('12345')).toBe('12,345');
    expect(formatPercent(0.0934)).toBe('9.3 %');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(0.00123456)).toBe('$0.00123');
    expect(formatUsd(null)).toBe('–');
    expect(formatPercent(undefined)).toBe('–');
  });
});

describe.skipIf(!hasChdb)('runReport on seeded traffic (chdb)', () => {
  let dataDir: string;
  let store: ClickHouseStore;
  let s: Seed;
  let now: Date;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dash-report-'));
    store = await createEmbeddedStore({ dataDir, database: 'otel' });
    await migrate(store);
    s = await seed(store);
    now = new Date(s.now + 1000);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** The lines of one section of the report. */
  const section = (text: string, title: string): string => {
    const start = text.indexOf(title);
    expect(start, `section ${title}`).toBeGreaterThanOrEqual(0);
    const end = text.indexOf('\n\n', start);
    return text.slice(start, end === -1 ? undefined : end);
  };
  const since = (ms: number) => s.calls.filter((c) => c.startMs >= Math.floor(ms / 60_000) * 60_000);
  const spend = (calls: SeedCall[]) => picoToNumber(sumPico(calls.map((c) => c.costPico)));

  it('last 24 hours and last 7 days: calls, error rate, spend, fallbacks, cache, breaker, top errors', async () => {
    const text = await runReport({ store, database: 'otel', now });
    expect(text).toMatch(/^llm-sidecar report — ClickHouse embedded/);
    for (const [title, days] of [
      ['Last 24 hours', 1],
      ['Last 7 days', 7],
    ] as const) {
      const part = section(text, title);
      const calls = since(now.getTime() - days * 86_400_000);
      const errors = calls.filter((c) => c.error).length;
      expect(part).toMatch(new RegExp(`calls\\s+${formatCount(calls.length)}\\s+error rate ${formatPercent(errors / calls.length).replace('.', '\\.')}`));
      expect(part).toContain(`spend           ${formatUsd(spend(calls))}`);
      const fallbacks = calls.filter((c) => c.fallbackIndex > 0).length;
      expect(part).toContain(`fallbacks ${formatCount(fallbacks)} (${formatPercent(fallbacks / calls.length)})`);
      expect(part).toContain('breakers        8 calls turned away by an open circuit breaker');
      expect(part).toContain(`spend avoided ${formatUsd(picoToNumber(sumPico(calls.map((c) => c.savedPico))))} (recorded on hits)`);
      expect(part).toMatch(/latency p95\s+\d[\d,]* ms\s+TTFT p95\s+\d[\d,.]* ms/);
      const hits = calls.filter((c) => ['hit', 'semantic-hit', 'stale'].includes(c.cacheStatus)).length;
      expect(part).toContain(`cache hit rate  ${formatPercent(hits / calls.length)}`);
      // The incident is the top error, with its latest trace.
      const burst = calls.filter((c) => c.route === BURST_ROUTE && c.error?.type === 'server_error' && c.provider === 'openai');
      const latest = burst.reduce((a, b) => (b.startMs > a.startMs ? b : a));
      const top = part.split('top errors\n')[1]?.split('\n')[0] ?? '';
      expect(top).toMatch(new RegExp(`^\\s+${burst.length}\\s+server_error\\s+openai/gpt-4o\\s+route search\\s+HTTP 500\\s+trace ${latest.traceId}$`));
      if (calls.some((c) => c.requestModel === 'local-llama')) expect(part).toContain('local-llama (no price)');
      // Spend by tenant lists every tenant with its share.
      for (const tenant of ['acme', 'globex', 'initech']) expect(part).toContain(`${tenant} ${formatUsd(spend(calls.filter((c) => c.tenant === tenant)))}`);
    }
  });

  it('quality: average per evaluator this week vs the week before, and user feedback', async () => {
    const text = await runReport({ store, database: 'otel', now });
    const part = section(text, '\nQuality  (');
    const weekS = 7 * 86_400;
    const toS = Math.floor(now.getTime() / 1000);
    for (const evaluator of ['relevance', 'faithfulness']) {
      const scores = s.evaluations.filter((e) => e.evaluator === evaluator && e.score !== null && e.call.startMs / 1000 > toS - weekS).map((e) => e.score as number);
      const avg = scores.reduce((a, b) => a + b, 0) / scores.length;
      expect(part).toMatch(new RegExp(`${evaluator}\\s+avg ${avg.toFixed(3)}\\s+\\(${scores.length} evaluations\\)`));
    }
    const feedback = s.feedback.filter((f) => f.atMs >= Math.floor((now.getTime() - weekS * 1000) / 1000) * 1000);
    expect(part).toContain(`${formatCount(feedback.length)} ratings, ${formatPercent(feedback.filter((f) => f.score > 0).length / feedback.length, 0)} thumbs up`);
  });

  it('an explicit window, an empty one, bad dates and a store without the schema', async () => {
    const from = new Date(now.getTime() - 3 * 3600_000);
    const text = await runReport({ store, database: 'otel', from: from.toISOString(), to: now, now });
    const calls = since(from.getTime());
    expect(section(text, 'Window')).toMatch(new RegExp(`calls\\s+${calls.length}\\s`));
    expect(text).not.toContain('Last 7 days');

    const empty = await runReport({ store, database: 'otel', from: '2001-01-01', to: '2001-01-02', now });
    expect(empty).toContain('no LLM calls recorded in this window');

    await expect(runReport({ store, database: 'otel', from: 'yesterday-ish', now })).rejects.toThrow(/not a date/);
    await expect(runReport({ store, database: 'otel', from: now, to: from, now })).rejects.toThrow(/must be before/);
    await expect(runReport({ store, database: 'nothing_here', now })).rejects.toThrow(/llm-sidecar migrate/);
  });
});
