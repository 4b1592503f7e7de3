// The demo end to end (shortened): its data has calls, cache hits, fallbacks, budget refusals and evaluations.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { demoTraffic, runDemo } from '../../cli/demo-command.ts';
import { chdbAvailable } from '../clickhouse/chdb-available.ts';

const available = await chdbAvailable();

it.skipIf(!available)('runs end to end and leaves the data the dashboards show', async () => {
  const lines: string[] = [];
  const demo = await demoTraffic({ requests: 8, latencyMs: 5, dataDir: mkdtempSync(join(tmpdir(), 'demo-')), out: (l) => lines.push(l) });
  try {
    const store = demo.sidecar.telemetry.store!;
    const [row] = await store.query<Record<string, string>>(
      `SELECT count() AS calls, countIf(CacheStatus = 'hit') AS hits, countIf(FallbackIndex > 0) AS fallbacks,
              countIf(ErrorType = 'budget_exceeded') AS refusals, countIf(EvalSampled = 1) AS sampled, countIf(Stream = 1) AS streams
       FROM otel.llm_calls`,
    );
    expect(Number(row!.calls)).toBe(demo.calls.length);
    expect(Number(row!.hits)).toBeGreaterThan(0);
    expect(Number(row!.fallbacks)).toBeGreaterThan(0);
    expect(Number(row!.refusals)).toBeGreaterThan(0);
    expect(Number(row!.sampled)).toBeGreaterThan(0);
    expect(Number(row!.streams)).toBeGreaterThan(0);
    expect(await demo.sidecar.metrics.render()).toMatch(/llm_sidecar_breaker_opens_total\{[^}]*\} 1/);
    // The in-process evaluator scored the sampled calls.
    const [ev] = await store.query<Record<string, string>>(`SELECT count() AS n, uniqExact(Evaluator) AS evaluators FROM otel.llm_evaluations FINAL WHERE ScoreValue IS NOT NULL`);
    expect(Number(ev!.n)).toBeGreaterThan(0);
    expect(Number(ev!.evaluators)).toBe(4);
    // The simulated judge rates the answers it judges (not the schema's minimum): a spread of
    // helpfulness ratings, and the onboarding answers cut to 3 words rate lowest.
    const ratings = await store.query<{ label: string; feature: string }>(
      `SELECT e.ScoreLabel AS label, c.Feature AS feature FROM otel.llm_evaluations AS e FINAL INNER JOIN otel.llm_calls AS c ON e.SpanId = c.SpanId WHERE e.Evaluator = 'helpfulness' AND e.ScoreValue IS NOT NULL`,
    );
    expect(new Set(ratings.map((r) => r.label)).size).toBeGreaterThanOrEqual(2);
    expect(ratings.filter((r) => r.feature !== 'onboarding').some((r) => r.label === '5/5' || r.label === '4/5')).toBe(true);
    // Users' thumbs went through the HTTP endpoint into llm_feedback.
    const [fb] = await store.query<{ n: string }>(`SELECT count() AS n FROM otel.llm_feedback FINAL WHERE Name = 'thumbs' AND Source = 'http'`);
    expect(Number(fb?.n), lines.join('\n')).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/feedback: \d+ of \d+ thumbs stored over HTTP/);
  } finally {
    await demo.close();
  }
}, 60_000);

it.skipIf(!available)('its summary: spend by tenant as a table, the weekly digest and the drop alert on the dipping feature', async () => {
  const lines: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'demo-summary-'));
  expect(await runDemo({ requests: 6, latencyMs: 5, dataDir, out: (l) => lines.push(l) })).toBe(0);
  const text = lines.join('\n');
  expect(text).toMatch(/^tenant\s+calls\s+refused\s+spend$/m);
  expect(text).toMatch(/^acme\s+\d+\s+0\s+\$0\.\d+$/m);
  expect(text).not.toMatch(/by tenant: \[/);
  expect(text).toMatch(/^helpfulness\s+onboarding\s+gpt-4o-mini\s+scale\s+0\.\d+ \(n=\d+\)\s+0\.\d+ \(n=\d+\)\s+-0\.\d+\s+<0\.001\s+significant drop$/m);
  expect(text).toMatch(/alert "LLM quality drop" \(llm-sidecar-quality-drop\): firing for .*helpfulness on onboarding/);
  expect(text).toMatch(/user feedback: [1-9]\d* thumbs/);
}, 120_000);
