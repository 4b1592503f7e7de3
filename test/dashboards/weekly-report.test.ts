// The weekly quality digest: the tests behind its significance flag against textbook values, and
// `llm-sidecar report --weekly` on real ClickHouse (chdb) with two weeks of generated scores — a
// scale that drops, a pass rate that drops, a stable group and a thin one — in every format.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { formatWeekly, weeklyReport, type WeeklyReport } from '../../dashboards/weekly-report.ts';
import { mannWhitneyTest, normalCdf, twoProportionTest, weekOverWeekTest } from '../../dashboards/weekly-stats.ts';
import { msToNs, nsToDateTime64 } from '../../evaluator/time.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS } from '../../shared/clickhouse/schema.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';

const hasChdb = await chdbAvailable();
const DAY = 86_400_000;

describe('significance tests', () => {
  it('normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-2.575829)).toBeCloseTo(0.005, 6);
  });

  it('two-proportion z-test (pooled): 45/100 vs 30/100', () => {
    const r = twoProportionTest(45, 100, 30, 100);
    expect(r.z).toBeCloseTo(-2.1909, 3);
    expect(r.p).toBeCloseTo(0.02846, 4);
    expect(twoProportionTest(10, 10, 5, 5).p).toBe(1); // no variance: nothing to say
    expect(twoProportionTest(0, 0, 5, 10).p).toBe(1);
  });

  it('Mann-Whitney U with the normal approximation and ties', () => {
    const r = mannWhitneyTest([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r.z).toBeCloseTo(2.6112, 3);
    expect(r.p).toBeCloseTo(0.00902, 4);
    expect(mannWhitneyTest([0.5, 0.5, 0.5], [0.5, 0.5]).p).toBe(1);
    // Ties lower the variance: z grows against the untied approximation.
    const tied = mannWhitneyTest([1, 1, 2, 2, 3], [3, 4, 4, 5, 5]);
    expect(tied.z).toBeCloseTo(2.5456, 3);
  });

  it('picks the test by the score type', () => {
    expect(weekOverWeekTest([1, 0, 1], [0, 0, 1]).test).toBe('two-proportion');
    expect(weekOverWeekTest([0.2, 0.8], [1, 0]).test).toBe('mann-whitney');
  });
});

describe.skipIf(!hasChdb)('llm-sidecar report --weekly (chdb)', () => {
  let dir: string;
  let store: ClickHouseStore;
  let report: WeeklyReport;
  const now = Date.now();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weekly-'));
    store = await createEmbeddedStore({ dataDir: join(dir, 'clickhouse') });
    await migrate(store);
    const calls: object[] = [];
    const evals: object[] = [];
    let seq = 0;
    const add = (evaluator: string, feature: string, model: string, n: number, score: (i: number, thisWeek: boolean) => number) => {
      for (const thisWeek of [false, true]) {
        for (let i = 0; i < n; i += 1) {
          seq += 1;
          const at = now - (thisWeek ? 6.5 * DAY : 13.5 * DAY) + i * Math.floor((6 * DAY) / n);
          const ids = { traceId: seq.toString(16).padStart(32, '0'), spanId: seq.toString(16).padStart(16, '0') };
          const ts = nsToDateTime64(msToNs(at));
          calls.push({ [C.Timestamp]: ts, [C.TraceId]: ids.traceId, [C.SpanId]: ids.spanId, [C.Feature]: feature, [C.RequestModel]: model, [C.EvalSampled]: 1 });
          evals.push({ [E.Timestamp]: ts, [E.EvaluatedAt]: ((at + 60_000) / 1000).toFixed(3), [E.TraceId]: ids.traceId, [E.SpanId]: ids.spanId, [E.Evaluator]: evaluator, [E.EvaluatorVersion]: 'v1', [E.RequestModel]: model, [E.ScoreValue]: score(i, thisWeek) });
        }
      }
    };
    const wobble = (i: number) => ((i % 5) - 2) * 0.05;
    add('helpfulness', 'search', 'gpt-4o-mini', 40, (i, w) => Math.round(((w ? 0.45 : 0.8) + wobble(i)) * 100) / 100);
    add('helpfulness', 'chat', 'gpt-4o', 40, (i) => Math.round((0.8 + wobble(i)) * 100) / 100);
    add('valid_json', 'search', 'gpt-4o-mini', 60, (i, w) => (i % 10 < (w ? 6 : 9) ? 1 : 0));
    add('helpfulness', 'rare', 'claude-sonnet-4', 3, (_i, w) => (w ? 0.1 : 0.9));
    await store.insert(`otel.${TABLE_LLM_CALLS}`, calls);
    await store.insert(`otel.${TABLE_LLM_EVALUATIONS}`, evals);
    report = await weeklyReport(store, 'otel', new Date(now));
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('per evaluator × feature × model, biggest drops first, flagged with the test of the score type', () => {
    const key = (r: WeeklyReport['rows'][number]) => `${r.evaluator}/${r.feature}/${r.model}`;
    expect(report.rows.map(key)).toEqual(['helpfulness/rare/claude-sonnet-4', 'helpfulness/search/gpt-4o-mini', 'valid_json/search/gpt-4o-mini', 'helpfulness/chat/gpt-4o']);
    const [rare, search, json, chat] = report.rows;
    expect(rare).toMatchObject({ lastWeek: { scores: 3 }, thisWeek: { scores: 3 }, test: null, p: null, significant: false });
    expect(rare?.change).toBeCloseTo(-0.8, 9);
    expect(json).toMatchObject({ scoreType: 'pass/fail', test: 'two-proportion', significant: true, lastWeek: { scores: 60, mean: 0.9 }, thisWeek: { scores: 60, mean: 0.6 } });
    expect(json?.p).toBeCloseTo(twoProportionTest(54, 60, 36, 60).p, 12);
    expect(search).toMatchObject({ scoreType: 'scale', test: 'mann-whitney', significant: true });
    expect(search?.change).toBeCloseTo(-0.35, 9);
    expect(chat).toMatchObject({ scoreType: 'scale', test: 'mann-whitney', significant: false, change: 0 });
  });

  it('prints text, markdown and JSON', () => {
    const text = formatWeekly(report, 'text');
    expect(text).toMatch(/^Weekly quality: /);
    expect(text).toMatch(/valid_json\s+search\s+gpt-4o-mini\s+pass\/fail\s+0\.900 \(n=60\)\s+0\.600 \(n=60\)\s+-0\.300\s+<0\.001\s+significant drop/);
    const md = formatWeekly(report, 'markdown').split('\n');
    expect(md[2]).toBe('| evaluator | feature | model | type | last week | this week | change | p |  |');
    expect(md).toContain('| helpfulness | rare | claude-sonnet-4 | scale | 0.900 (n=3) | 0.100 (n=3) | -0.800 | n/a |  |');
    expect(md.find((l) => l.startsWith('| helpfulness | search'))).toMatch(/\*\*significant drop\*\* \|$/);
    const json = JSON.parse(formatWeekly(report, 'json')) as WeeklyReport;
    expect(json.rows).toHaveLength(4);
    expect(json.rows[2]?.test).toBe('two-proportion');
  });

  it('the CLI: --weekly --format markdown; a bad --format is a usage error', async () => {
    await store.close();
    const file = join(dir, 'sidecar.yaml');
    await writeFile(file, `telemetry: { clickhouse: { dataDir: "${join(dir, 'clickhouse')}" } }\n`);
    const out: string[] = [];
    const err: string[] = [];
    const stdout = process.stdout.write.bind(process.stdout);
    const stderr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
    process.stderr.write = ((c: string) => err.push(String(c)) > 0) as typeof process.stderr.write;
    let codes: number[];
    try {
      codes = [await main(['report', '--config', file, '--weekly', '--format', 'markdown']), await main(['report', '--config', file, '--weekly', '--format', 'html'])];
    } finally {
      process.stdout.write = stdout;
      process.stderr.write = stderr;
    }
    expect(codes).toEqual([0, 2]);
    expect(out.join('')).toMatch(/\| valid_json \| search \| gpt-4o-mini \| pass\/fail \|/);
    expect(err.join('')).toMatch(/--format must be one of text, markdown, json/);
    store = await createEmbeddedStore({ dataDir: join(dir, 'clickhouse') });
  });
});
