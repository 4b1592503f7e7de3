// Prometheus metrics for the admin listener: request counts, tokens, cost and the proxy's own
// overhead (so its cost is visible in production, not only in a benchmark). Fed from CallRecords,
// off the request path. Label values are bounded: route, provider, model and status class.
import { formatPicoUsd, parsePicoUsd } from '../shared/pricing/price-table.ts';
import type { CallRecord, CallRecorder } from './call-record.ts';
import type { ExporterStats } from '../shared/clickhouse/span-exporter.ts';

const OVERHEAD_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25];
const DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count += 1;
    for (let i = 0; i < this.buckets.length; i++) if (v <= (this.buckets[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }
}

function labels(obj: Record<string, string>): string {
  return Object.entries(obj)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

export class ProxyMetrics implements CallRecorder {
  private readonly requests = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  /** Exact running sums in 1e-12 USD (the price table's unit), printed as decimals. */
  private readonly costPicoUsd = new Map<string, bigint>();
  private readonly costUnknown = new Map<string, number>();
  private readonly overhead = new Histogram(OVERHEAD_BUCKETS_MS);
  private readonly duration = new Map<string, Histogram>();

  /** Set by the sidecar when budgets are configured. */
  budgetSnapshot: () => { scope: string; key: string; ratio: number }[] = () => [];
  private readonly budgetAlerts = new Map<string, number>();
  private readonly budgetBackendErrors = new Map<string, number>();

  private readonly cacheErrors = new Map<string, number>();
  private readonly cacheResults = new Map<string, number>();

  cacheError(op: string): void {
    this.inc(this.cacheErrors, labels({ op }), 1);
  }

  budgetAlert(scope: string): void {
    this.inc(this.budgetAlerts, labels({ scope }), 1);
  }

  budgetBackendError(outcome: string): void {
    this.inc(this.budgetBackendErrors, labels({ outcome }), 1);
  }

  /** Set by the sidecar when a ClickHouse exporter runs. */
  telemetryStats: () => ExporterStats | undefined = () => undefined;
  private readonly breakers = new Map<string, string>();
  private readonly breakerOpens = new Map<string, number>();
  private readonly fallbacks = new Map<string, number>();
  private readonly retries = new Map<string, number>();

  breakerChanged(target: string, state: string): void {
    this.breakers.set(target, state);
    if (state === 'open') this.inc(this.breakerOpens, labels({ target }), 1);
  }

  /** Label strings per (route, provider, model): built once, not per call. */
  private readonly baseLabels = new Map<string, { base: Record<string, string>; key: string; byType: Record<string, string> }>();

  private labelsFor(route: string, provider: string, model: string): { base: Record<string, string>; key: string; byType: Record<string, string> } {
    const id = `${route}\u0000${provider}\u0000${model}`;
    let l = this.baseLabels.get(id);
    if (!l) {
      const base = { route, provider, model };
      const byType: Record<string, string> = {};
      for (const type of ['input', 'output', 'cache_read', 'cache_write', 'reasoning']) byType[type] = labels({ ...base, type });
      l = { base, key: labels(base), byType };
      // Bounded: routes × providers × models is small, but a model name comes from the request.
      if (this.baseLabels.size < 5000) this.baseLabels.set(id, l);
    }
    return l;
  }

  record(call: CallRecord): void {
    if (call.cacheStatus !== 'bypass') this.inc(this.cacheResults, `route="${call.route}",status="${call.cacheStatus}"`, 1);
    if (call.fallbackIndex > 0) this.inc(this.fallbacks, labels({ route: call.route }), 1);
    if (call.attempts > 1) this.inc(this.retries, labels({ route: call.route }), call.attempts - 1);
    const l = this.labelsFor(call.route, call.providerName, call.upstreamModel);
    const status = call.errorCode ?? (call.clientAborted ? 'client_aborted' : `${Math.floor(call.httpStatus / 100)}xx`);
    this.inc(this.requests, `${l.key},status="${status}"`, 1);
    const u = call.usage;
    if (u) {
      const t = l.byType as Record<'input' | 'output' | 'cache_read' | 'cache_write' | 'reasoning', string>;
      this.inc(this.tokens, t.input, u.inputTokens);
      this.inc(this.tokens, t.output, u.outputTokens);
      this.inc(this.tokens, t.cache_read, u.cacheReadTokens);
      this.inc(this.tokens, t.cache_write, u.cacheWrite5mTokens + u.cacheWrite1hTokens);
      this.inc(this.tokens, t.reasoning, u.reasoningTokens);
    }
    if (call.costUsd !== undefined) this.costPicoUsd.set(l.key, (this.costPicoUsd.get(l.key) ?? 0n) + parsePicoUsd(call.costUsd));
    else if (u) this.inc(this.costUnknown, l.key, 1);
    this.overhead.observe(call.overheadMs);
    const key = `route="${call.route}",provider="${call.providerName}"`;
    let h = this.duration.get(key);
    if (!h) this.duration.set(key, (h = new Histogram(DURATION_BUCKETS_S)));
    h.observe(call.durationMs / 1000);
  }

  private inc(map: Map<string, number>, key: string, by: number): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  render(): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, map: Map<string, number>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [k, v] of map) lines.push(`${name}{${k}} ${v}`);
    };
    counter('llm_sidecar_requests_total', 'LLM requests by route, provider, model and outcome.', this.requests);
    counter('llm_sidecar_tokens_total', 'Tokens by type (input includes cached; output includes reasoning).', this.tokens);
    lines.push('# HELP llm_sidecar_cost_usd_total Spend in USD at list prices.', '# TYPE llm_sidecar_cost_usd_total counter');
    for (const [k, v] of this.costPicoUsd) lines.push(`llm_sidecar_cost_usd_total{${k}} ${formatPicoUsd(v)}`);
    counter('llm_sidecar_cost_unknown_total', 'Calls with usage but no price for the model.', this.costUnknown);
    counter('llm_sidecar_fallbacks_total', 'Calls served by a later target of their chain.', this.fallbacks);
    counter('llm_sidecar_extra_attempts_total', 'Physical attempts beyond the first (retries and fallbacks).', this.retries);
    counter('llm_sidecar_breaker_opens_total', 'Circuit breaker trips per target.', this.breakerOpens);
    lines.push('# HELP llm_sidecar_breaker_state Circuit breaker state per target (0 closed, 1 half-open, 2 open).', '# TYPE llm_sidecar_breaker_state gauge');
    for (const [t, st] of this.breakers) lines.push(`llm_sidecar_breaker_state{${labels({ target: t })}} ${st === 'open' ? 2 : st === 'half_open' ? 1 : 0}`);
    counter('llm_sidecar_cache_lookups_total', 'Cache outcomes per route: miss, hit, semantic-hit, stale.', this.cacheResults);
    counter('llm_sidecar_cache_store_errors_total', 'Cache store failures (served uncached, never an error).', this.cacheErrors);
    counter('llm_sidecar_budget_alerts_total', 'Budgets that crossed their alert threshold (once per window and key).', this.budgetAlerts);
    counter('llm_sidecar_budget_backend_errors_total', 'Budget backend failures, by what the sidecar did (admitted unmetered, rejected…).', this.budgetBackendErrors);
    lines.push('# HELP llm_sidecar_budget_used_ratio Share of each active budget used in its current window.', '# TYPE llm_sidecar_budget_used_ratio gauge');
    for (const g of this.budgetSnapshot()) lines.push(`llm_sidecar_budget_used_ratio{${labels({ scope: g.scope, key: g.key })}} ${g.ratio}`);
    const t = this.telemetryStats();
    if (t) {
      lines.push('# HELP llm_sidecar_telemetry_spans_total Spans by fate: exported directly, spooled to disk, replayed from the spool, dropped (spool full).', '# TYPE llm_sidecar_telemetry_spans_total counter');
      for (const k of ['exported', 'spooled', 'replayed', 'dropped'] as const) lines.push(`llm_sidecar_telemetry_spans_total{outcome="${k}"} ${t[k]}`);
      lines.push('# HELP llm_sidecar_telemetry_queued_spans Spans in memory waiting for ClickHouse or the spool.', '# TYPE llm_sidecar_telemetry_queued_spans gauge', `llm_sidecar_telemetry_queued_spans ${t.queued}`);
      lines.push('# HELP llm_sidecar_telemetry_spool_bytes Size of the on-disk spool.', '# TYPE llm_sidecar_telemetry_spool_bytes gauge', `llm_sidecar_telemetry_spool_bytes ${t.spoolBytes}`);
    }
    const hist = (name: string, help: string, entries: [string, Histogram][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const [k, h] of entries) {
        const pre = k ? `${k},` : '';
        const own = k ? `{${k}}` : '';
        h.buckets.forEach((b, i) => lines.push(`${name}_bucket{${pre}le="${b}"} ${h.counts[i]}`));
        lines.push(`${name}_bucket{${pre}le="+Inf"} ${h.count}`, `${name}_sum${own} ${h.sum}`, `${name}_count${own} ${h.count}`);
      }
    };
    hist('llm_sidecar_overhead_milliseconds', "Time the sidecar itself adds to a call (excluding the provider's time).", [['', this.overhead]]);
    hist('llm_sidecar_request_duration_seconds', 'End-to-end LLM call duration as seen by the sidecar.', [...this.duration]);
    return `${lines.join('\n')}\n`;
  }
}
