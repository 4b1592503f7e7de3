// `llm-sidecar demo`: the whole product on a laptop, with no keys and no network. A simulated
// provider (the same fake the tests and the benchmark use) with realistic latency sits behind a
// real sidecar that stores its telemetry in the embedded ClickHouse; the official OpenAI and
// Anthropic SDKs drive compressed realistic traffic through it — several features and tenants,
// streaming and not, a provider outage that trips a breaker and falls back across providers —
// and a report is printed from what landed in ClickHouse. The data stays in ./.llm-sidecar for
// `llm-sidecar report`. (The SDKs and the fake provider are development dependencies: run it
// after `npm ci`.)
import type { CallRecord } from '../proxy/call-record.ts';
import { startSidecar, type RunningSidecar } from '../proxy/main.ts';
import { parseConfig } from '../shared/config/load.ts';
import { formatPicoUsd, parsePicoUsd } from '../shared/pricing/cost.ts';
import { formatWeekly, weeklyReport } from '../dashboards/weekly-report.ts';
import { buildAll } from '../dashboards/index.ts';
import { expandGrafanaSql } from '../dashboards/macros.ts';
import { DEFAULT_QUALITY_THRESHOLDS } from '../dashboards/quality-alerts.ts';
import { HISTORY_SERVICE, writeDemoHistory } from './demo-history.ts';

export interface DemoOptions {
  /** Rounds of traffic (each round is 7–8 calls); default 30. */
  requests?: number;
  /** Where the embedded ClickHouse and the spool live; default ./.llm-sidecar. */
  dataDir?: string;
  /** Latency the simulated provider adds (ms before headers, ms between stream events). */
  latencyMs?: number;
  out?: (line: string) => void;
}

export interface DemoResult {
  calls: CallRecord[];
  sidecar: RunningSidecar;
}

const QUESTIONS = [
  'How do I reset my password?',
  'What is your refund policy for annual plans?',
  'Can I export my invoices as CSV?',
  'Why was my card declined?',
  'How do I add a teammate to my workspace?',
  'Which regions do you store data in?',
];

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

/** Runs the demo traffic against a fresh sidecar; the caller closes `sidecar` (tests inspect it first). */
export async function demoTraffic(opts: DemoOptions = {}): Promise<DemoResult & { close(): Promise<void> }> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const rounds = Math.max(1, Math.min(opts.requests ?? 30, 200));
  const dataDir = opts.dataDir ?? './.llm-sidecar';
  const latency = opts.latencyMs ?? 60;
  const { startFakeProvider } = await import('../simulator/server.ts');
  const { default: OpenAI } = await import('openai');
  const { default: Anthropic } = await import('@anthropic-ai/sdk');

  const fake = await startFakeProvider();
  const records: CallRecord[] = [];
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    providers: {
      openai: { type: 'openai', baseUrl: `${fake.url}/v1`, apiKey: 'sk-demo-openai' },
      anthropic: { type: 'anthropic', baseUrl: fake.url, apiKey: 'sk-ant-demo' },
    },
    routes: {
      // FAQ answers repeat: cached per tenant (repeats within a tenant are hits, never across tenants).
      support: { models: ['support'], cache: { mode: 'all', ttlSeconds: 600 }, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] },
      // The primary of this route is down for the whole demo: its breaker trips, the chain falls back to Anthropic.
      search: {
        models: ['search'],
        retry: { maxRetries: 1, baseMs: 20 },
        breaker: { minRequests: 4, cooldownMs: 60_000 },
        targets: [{ provider: 'openai', model: 'gpt-4.1-fake-error-503' }, { provider: 'anthropic', model: 'claude-sonnet-4-6' }],
      },
      extract: {
        models: ['extract'],
        strategy: 'cascade',
        targets: [{ provider: 'openai', model: 'gpt-4.1-nano' }, { provider: 'openai', model: 'gpt-4.1' }],
      },
    },
    telemetry: { serviceName: 'demo-shop', clickhouse: { mode: 'embedded', dataDir: `${dataDir}/clickhouse` }, spool: { dir: `${dataDir}/spool` } },
    evaluation: {
      sampleRate: 0.25,
      // The judge is called through this same sidecar (marked feature "judge", never sampled itself).
      evaluators: {
        settleSeconds: 0,
        judge: { provider: 'openai', baseUrl: 'http://127.0.0.1:4000/v1', model: 'gpt-4o-mini', apiKey: 'sk-demo-judge' },
        list: [{ builtin: 'helpfulness' }, { builtin: 'safety' }, { builtin: 'refusal' }, { builtin: 'completeness' }],
      },
    },
    // "initech" is on the free tier: its users run out of daily tokens during the demo.
    budgets: {
      tiers: { free: { userDailyTokens: 1500 }, paid: { userDailyTokens: 500_000, tenantMonthlyUsd: '100' } },
      defaultTier: 'paid',
      tenants: { initech: { tier: 'free' } },
      perRequest: { default: { maxOutputTokens: 400 } },
      rateLimits: [{ scope: 'tenant', requestsPerMinute: 5000 }],
    },
  });
  const sidecar = await startSidecar(config, { recorders: [{ record: (c) => records.push(c) }] });
  // The schema first: spans of calls made before it exist would wait in the spool (and feedback on them would 404).
  await sidecar.telemetry.migrated;
  out(`llm-sidecar demo: simulated provider ${fake.url} · sidecar ${sidecar.url} · admin ${sidecar.adminUrl}`);
  out(`telemetry → embedded ClickHouse in ${dataDir}/clickhouse\n`);

  const openai = new OpenAI({ baseURL: `${sidecar.url}/v1`, apiKey: 'sk-app', maxRetries: 0, logLevel: 'off' });
  const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'sk-ant-app', maxRetries: 0, logLevel: 'off' });
  const realism = `delay=${latency},chunk-delay=${Math.max(1, Math.round(latency / 4))}`;
  const h = (tenant: string, user: string, feature: string) => ({ headers: { 'x-llm-sidecar-tenant': tenant, 'x-llm-sidecar-user': user, 'x-llm-sidecar-feature': feature, 'x-fake-fault': realism } });
  const tenants = ['acme', 'globex', 'initech'];
  // What the apps saw, by the sidecar's error code (or the provider's status): every one is by design.
  const errorKinds = new Map<string, number>();
  const longPolicy = 'Refund policy: annual plans are refundable within 30 days. '.repeat(120);
  let failures = 0;
  const swallow = (e: unknown): void => {
    failures++;
    const err = e as { status?: number; headers?: Headers };
    const kind = err.headers?.get?.('x-llm-sidecar-error') ?? `provider ${err.status ?? 'error'}`;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  };

  const started = Date.now();
  for (let i = 0; i < rounds; i++) {
    const tenant = tenants[i % tenants.length] as string;
    const user = tenant === 'initech' ? 'intern' : `user-${(i * 7) % 11}`;
    const q = QUESTIONS[i % QUESTIONS.length] as string;
    const tasks: Promise<unknown>[] = [
      openai.chat.completions.create({ model: 'support', messages: [{ role: 'user', content: q }] }, h(tenant, user, 'support-bot')).catch(swallow),
      (async () => {
        const s = await openai.chat.completions.create({ model: 'support', stream: true, messages: [{ role: 'user', content: `Explain: ${q}` }] }, h(tenant, user, 'support-bot'));
        for await (const _ of s) {
          // the app renders tokens as they arrive
        }
      })().catch(swallow),
      anthropic.messages.create({ model: 'search', max_tokens: 300, messages: [{ role: 'user', content: `Find docs about ${q}` }] }, h(tenant, user, 'doc-search')).catch(swallow),
      anthropic.messages
        .stream({ model: 'claude-sonnet-4-6', max_tokens: 300, system: [{ type: 'text', text: longPolicy, cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: q }] }, h(tenant, user, 'policy-qa'))
        .finalMessage()
        .catch(swallow),
      openai.chat.completions
        .create(
          {
            model: 'extract',
            messages: [{ role: 'user', content: `Extract the intent of: ${q}` }],
            response_format: { type: 'json_schema', json_schema: { name: 'intent', schema: { type: 'object', properties: { intent: { type: 'string' }, urgent: { type: 'boolean' } }, required: ['intent', 'urgent'] } } },
          },
          h(tenant, user, 'triage'),
        )
        .catch(swallow),
      openai.embeddings.create({ model: 'text-embedding-3-small', input: [q] }, h(tenant, user, 'search-index')).catch(swallow),
      // "onboarding" answers degrade half-way (a prompt change gone wrong): the judge's scores dip.
      openai.chat.completions
        .create(
          { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Onboarding: ${q}` }] },
          { headers: { ...h(tenant, user, 'onboarding').headers, 'x-fake-fault': `${realism},words=${i < rounds / 2 ? 40 : 3}` } },
        )
        .catch(swallow),
      openai.chat.completions.create({ model: 'o4-mini', messages: [{ role: 'user', content: `Think step by step: ${q}` }] }, h(tenant, user, 'reasoning')).catch(swallow),
    ];
    if (i % 5 === 4) tasks.push(openai.chat.completions.create({ model: 'gpt-4o-fake-error-429', messages: [{ role: 'user', content: 'rate limited' }] }, h(tenant, user, 'support-bot')).catch(swallow));
    await Promise.all(tasks);
    const done = i + 1;
    const bar = '█'.repeat(Math.round((done / rounds) * 30)).padEnd(30, '░');
    if (process.stdout.isTTY) process.stdout.write(`\r  traffic ${bar} ${done}/${rounds} rounds · ${records.length} calls · ${((Date.now() - started) / 1000).toFixed(1)} s`);
    else if (done === rounds || done % 5 === 0) out(`  traffic ${done}/${rounds} rounds · ${records.length} calls`);
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  await new Promise((r) => setTimeout(r, 50));
  await sidecar.flush();
  // Users' thumbs on some answers, sent over HTTP as an app would (POST /llm-sidecar/v1/feedback).
  const rated = records.filter((c) => c.httpStatus === 200 && c.user !== undefined).filter((_, k) => k % 9 === 0);
  let thumbsUp = 0;
  let accepted = 0;
  const refusals: string[] = [];
  for (const c of rated) {
    const up = c.feature !== 'onboarding' || (c.usage?.outputTokens ?? 0) > 10;
    const res = await fetch(`${sidecar.url}/llm-sidecar/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: c.requestId, name: 'thumbs', value: up ? 1 : -1, user: c.user }),
    });
    if (res.status === 202) accepted++;
    else refusals.push(`${res.status} ${res.headers.get('x-llm-sidecar-error') ?? ''}`.trim());
    await res.body?.cancel();
    if (res.status === 202 && up) thumbsUp++;
  }
  out(`  feedback: ${accepted} of ${rated.length} thumbs stored over HTTP (POST /llm-sidecar/v1/feedback), ${thumbsUp} up${refusals.length > 0 ? `; refused: ${[...new Set(refusals)].join(', ')}` : ''}`);
  // The evaluator, in this process on the sidecar's embedded store: judge the sampled calls once.
  const evalConfig = structuredClone(config.evaluation.evaluators) as { judge: { baseUrl: string } };
  evalConfig.judge.baseUrl = `${sidecar.url}/v1`;
  const { startEvaluator } = await import('../evaluator/service.ts');
  const evaluator = await startEvaluator({ store: sidecar.telemetry.store!, config: evalConfig, loop: false, log: () => undefined });
  await evaluator.runOnce();
  const stats = evaluator.stats();
  await evaluator.stop();
  await sidecar.flush();
  const scored = Object.values(stats.rows).reduce((a, r) => a + r.scored, 0);
  out(`  evaluator: ${scored} scores written (${Object.keys(stats.rows).join(', ')}), judge spend $${stats.judgeCostUsd}`);
  const why: Record<string, string> = {
    LLM_SIDECAR_BUDGET_EXCEEDED: "initech's free-tier user out of daily tokens",
    LLM_SIDECAR_INPUT_TOO_LARGE: "one request larger than initech's whole daily allowance",
    'provider 429': 'the simulated rate limit of gpt-4o-fake-error-429',
  };
  const kinds = [...errorKinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}${why[k] ? ` (${why[k]})` : ''}`);
  out(`  ${records.length} calls in ${((Date.now() - started) / 1000).toFixed(1)} s; ${failures} surfaced to the apps as errors, as designed${kinds.length > 0 ? `: ${kinds.join(', ')}` : ''}\n`);
  return {
    calls: records,
    sidecar,
    async close() {
      await sidecar.close(1_000);
      await fake.close();
    },
  };
}

/** Summary from ClickHouse: what the dashboards would show. */
async function printReport(sidecar: RunningSidecar, out: (l: string) => void): Promise<void> {
  const store = sidecar.telemetry.store;
  if (!store) return;
  const [cache] = await store.query<Record<string, string>>(
    `SELECT countIf(CacheStatus = 'hit') AS hits, countIf(CacheStatus IN ('hit', 'miss')) AS lookups, toString(sum(ifNull(CostUsd, 0))) AS spent FROM otel.llm_calls WHERE ServiceName = 'demo-shop'`,
  );
  const rows = await store.query<Record<string, string>>(
    `SELECT Route, Provider, RequestModel, count() AS calls, countIf(ErrorType != '') AS errors, countIf(FallbackIndex > 0) AS fallbacks,
            round(quantile(0.95)(DurationMs), 1) AS p95_ms, round(avgOrNull(TtftMs), 1) AS ttft_ms, sum(InputTokens) AS input_tokens,
            sum(CacheReadTokens) AS cached_tokens, sum(OutputTokens) AS output_tokens, toString(sum(ifNull(CostUsd, 0))) AS cost_usd
     FROM otel.llm_calls WHERE ServiceName = 'demo-shop' GROUP BY Route, Provider, RequestModel ORDER BY Route, calls DESC`,
  );
  out(`${pad('route', 9)}${pad('provider', 10)}${pad('model', 24)}${pad('calls', 7)}${pad('errors', 8)}${pad('fallbk', 8)}${pad('p95 ms', 8)}${pad('ttft', 7)}${pad('in', 8)}${pad('cached', 8)}${pad('out', 7)}cost`);
  let total = 0n;
  for (const r of rows) {
    total += parsePicoUsd(r.cost_usd ?? '0');
    out(
      `${pad(r.Route ?? '', 9)}${pad(r.Provider ?? '', 10)}${pad(r.RequestModel ?? '', 24)}${pad(String(r.calls), 7)}${pad(String(r.errors), 8)}${pad(String(r.fallbacks), 8)}${pad(String(r.p95_ms), 8)}${pad(String(r.ttft_ms ?? '-'), 7)}${pad(String(r.input_tokens), 8)}${pad(String(r.cached_tokens), 8)}${pad(String(r.output_tokens), 7)}$${Number(r.cost_usd).toFixed(6)}`,
    );
  }
  out(`\ntotal spend $${formatPicoUsd(total)} at list prices\n`);
  const tenants = await store.query<Record<string, string>>(
    `SELECT Tenant, count() AS calls, countIf(ErrorType = 'budget_exceeded') AS refused, toString(sum(ifNull(CostUsd, 0))) AS cost FROM otel.llm_calls WHERE ServiceName = 'demo-shop' GROUP BY Tenant ORDER BY Tenant`,
  );
  out(`${pad('tenant', 12)}${pad('calls', 8)}${pad('refused', 9)}spend`);
  for (const t of tenants) out(`${pad(t.Tenant || '(none)', 12)}${pad(String(t.calls), 8)}${pad(String(t.refused), 9)}$${formatPicoUsd(parsePicoUsd(t.cost ?? '0'))}`);
  out('');
  const [sampled] = await store.query<Record<string, string>>(`SELECT countIf(EvalSampled = 1) AS sampled, count() AS calls FROM otel.llm_calls WHERE ServiceName = 'demo-shop'`);
  out(`${sampled?.sampled} of ${sampled?.calls} calls sampled for evaluation (content captured, redacted)`);
  const scores = await store.query<Record<string, string>>(
    `SELECT Evaluator, count() AS n, round(avg(ScoreValue), 2) AS avg FROM otel.llm_evaluations FINAL WHERE ScoreValue IS NOT NULL GROUP BY Evaluator ORDER BY Evaluator`,
  );
  out(`quality: ${scores.map((r) => `${r.Evaluator} ${r.avg} (${r.n})`).join(' · ') || 'no scores'}`);
  const bands = await store.query<Record<string, string>>(
    `SELECT ScoreLabel AS label, count() AS n FROM otel.llm_evaluations FINAL WHERE Evaluator = 'helpfulness' AND ScoreValue IS NOT NULL GROUP BY label ORDER BY label`,
  );
  out(`helpfulness distribution: ${bands.map((b) => `${b.label} ×${b.n}`).join(' · ') || 'no scores'}`);
  const byFeature = await store.query<Record<string, string>>(
    `SELECT c.Feature AS feature, round(avgIf(e.ScoreValue, c.Timestamp < mid), 2) AS first_half, round(avgIf(e.ScoreValue, c.Timestamp >= mid), 2) AS second_half
     FROM otel.llm_evaluations AS e FINAL
     INNER JOIN otel.llm_calls AS c ON e.TraceId = c.TraceId AND e.SpanId = c.SpanId
     CROSS JOIN (SELECT fromUnixTimestamp64Nano(toInt64((toUnixTimestamp64Nano(min(Timestamp)) + toUnixTimestamp64Nano(max(Timestamp))) / 2)) AS mid FROM otel.llm_calls WHERE ServiceName = 'demo-shop') AS m
     WHERE e.Evaluator = 'helpfulness' AND e.ScoreValue IS NOT NULL AND c.ServiceName = 'demo-shop'
     GROUP BY feature ORDER BY feature`,
  );
  out(`helpfulness by feature, first half → second half of the run: ${byFeature.map((f) => `${f.feature} ${f.first_half ?? '–'} → ${f.second_half ?? '–'}`).join(' · ')}`);
  const [fb] = await store.query<Record<string, string>>(`SELECT count() AS n, countIf(Score > 0) AS up FROM otel.llm_feedback FINAL WHERE Name = 'thumbs'`);
  out(`user feedback: ${fb?.n ?? 0} thumbs (${fb?.up ?? 0} up), beside the judges' scores on the Quality dashboard`);
  const history = await writeDemoHistory(store, 'otel');
  out(`\nsimulated history: ${history > 0 ? `${history} helpfulness scores written` : 'already there'} for the last five weeks (service ${HISTORY_SERVICE}), so the weekly views have weeks to compare`);
  out(`\n${formatWeekly(await weeklyReport(store, 'otel'), 'text')}`);
  const drop = buildAll().alerts.groups.flatMap((g) => g.rules).find((r) => r.uid === 'llm-sidecar-quality-drop');
  const a = drop?.data.find((d) => d.refId === 'A');
  if (a) {
    const now = Date.now();
    const firing = await store.query<Record<string, string | number>>(expandGrafanaSql(String(a.model.rawSql), { from: new Date(now - (a.relativeTimeRange?.from ?? 0) * 1000), to: new Date(now) }));
    const threshold = -DEFAULT_QUALITY_THRESHOLDS.drop;
    const fired = firing.filter((r) => Number(r.score_change) < threshold);
    out(`\nalert "${drop?.title}" (${drop?.uid}): ${fired.length === 0 ? 'quiet' : `firing for ${fired.map((r) => `${r.evaluator} on ${r.feature} (${Number(r.score_change).toFixed(2)})`).join(', ')}`}`);
  }
  out(`cache: ${cache?.hits} hits of ${cache?.lookups} lookups on cached routes`);
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const demo = await demoTraffic(opts);
  try {
    await printReport(demo.sidecar, out);
    const metrics = await demo.sidecar.metrics.render();
    const opens = /llm_sidecar_breaker_opens_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? '0';
    out(`circuit breakers opened: ${opens} (the "search" route's primary is down; its traffic fell back to Anthropic)`);
  } finally {
    await demo.close();
  }
  out(`\ndata kept in ${opts.dataDir ?? './.llm-sidecar'} — run it again; \`llm-sidecar report --weekly\` prints the quality digest; for the dashboards, run the proxy with telemetry.clickhouse.serve and point a local Grafana at it (README).`);
  return 0;
}
