// Prometheus metrics for the admin listener, with prom-client (the Node norm): request counts,
// tokens, cost, the proxy's own overhead (so its cost is visible in production, not only in a
// benchmark), and prom-client's default process and Node.js metrics (event-loop delay, GC, heap,
// handles). Fed from CallRecords, off the request path.
//
// Bounded by construction: every label value comes from the config or a fixed list. Routes and
// providers are the configured ones; models are those named in routes plus the price table's ids
// and aliases (a dated snapshot of a priced model counts under its priced id); anything else —
// 15,000 model names invented by a client included — is `other`. Tenant and user ids are identities
// and a cardinality risk: they never multiply the per-model families; when `admin.metrics.tenantLabel`
// / `userLabel` switch them on, three small `llm_sidecar_identity_*` families count per identity,
// for the first `maxIdentities` of them (later ones as "other").
//
// A scrape never holds the event loop for long (issue #16: ≤ 5 ms at the cap): the per-model and
// per-identity sums reach prom-client in time slices of ≤ SLICE_MS with a turn of the event loop
// between them, and only the series that changed since the last scrape are pushed (a delta inc);
// then one family at a time is rendered, again with a turn between families. Values are never
// cached across scrapes: every scrape reads the sums as they are (README: measured at the cap). Formats: Prometheus text 0.0.4 by default; OpenMetrics 1.0 when the scraper asks for it
// (Accept), and then the latency histograms carry the trace id of a recent call as an exemplar.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { adminMetrics, type Config } from '../shared/config/schema.ts';
import type { ExporterStats } from '../shared/clickhouse/span-exporter.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import type { CallRecord, CallRecorder } from './call-record.ts';

const OVERHEAD_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TOKEN_TYPES = ['input', 'output', 'cache_read', 'cache_write', 'reasoning'] as const;
/** Budget keys are identities too: at most this many, highest use first, when identities are on. */
const MAX_BUDGET_KEYS = 100;
/** Longest stretch a scrape works on the sums before letting requests run (ms). */
const SLICE_MS = 1;

export const OTHER = 'other';

export interface MetricsOptions {
  config: Config;
  prices?: PriceTable;
}

/** Which label values exist: derived from the config (and the price table) once, swapped on reload. */
class LabelValues {
  private readonly routes: Set<string>;
  private readonly providers: Set<string>;
  private readonly models: Set<string>;

  constructor(
    config: Config,
    private readonly prices: PriceTable | undefined,
  ) {
    this.routes = new Set(['default', ...Object.keys(config.routes)]);
    this.providers = new Set(Object.keys(config.providers));
    this.models = new Set<string>();
    for (const route of Object.values(config.routes)) {
      for (const m of route.models) if (!m.includes('*')) this.models.add(m);
      for (const t of route.targets) if (typeof t.model === 'string') this.models.add(t.model);
    }
    for (const e of prices?.entries() ?? []) {
      this.models.add(e.model);
      for (const a of e.aliases ?? []) this.models.add(a);
    }
  }

  route(name: string): string {
    return this.routes.has(name) ? name : OTHER;
  }

  provider(name: string): string {
    if (name === '') return 'none';
    return this.providers.has(name) ? name : OTHER;
  }

  model(providerType: string, name: string): string {
    if (this.models.has(name)) return name;
    // A dated snapshot (gpt-4o-2024-08-06) of a priced model: its priced id, never the free-form name.
    return this.prices?.find(providerType, name)?.entry.model ?? OTHER;
  }
}

/** Admits tenant/user label values for the first `max` identities (a tenant, a user, or the pair, as switched on). */
class IdentityCap {
  private readonly admitted = new Set<string>();

  constructor(
    readonly tenant: boolean,
    readonly user: boolean,
    private readonly max: number,
  ) {}

  get enabled(): boolean {
    return this.tenant || this.user;
  }

  get labelNames(): string[] {
    return [...(this.tenant ? ['tenant'] : []), ...(this.user ? ['user'] : [])];
  }

  labels(tenant: string | undefined, user: string | undefined): { tenant?: string; user?: string } {
    const t = this.tenant ? (tenant ?? '') : undefined;
    const u = this.user ? (user ?? '') : undefined;
    const key = `${t ?? ''}\u0000${u ?? ''}`;
    if (!this.admitted.has(key)) {
      if (this.admitted.size >= this.max) return { ...(this.tenant ? { tenant: OTHER } : {}), ...(this.user ? { user: OTHER } : {}) };
      this.admitted.add(key);
    }
    return { ...(t !== undefined ? { tenant: t } : {}), ...(u !== undefined ? { user: u } : {}) };
  }
}

/**
 * Running sums of one (route, provider, model): plain numbers on the hot path (prom-client's
 * inc() hashes and validates its labels and allocates on every call: ~25 µs of CPU and GC per
 * call over ten of them, measured), handed to prom-client by `collect` at scrape time.
 */
interface ModelRow {
  labels: { route: string; provider: string; model: string };
  requests: Map<string, number>;
  /** TOKEN_TYPES order; undefined until a call reported usage. */
  tokens: number[] | undefined;
  costUsd: number | undefined;
  costUnknown: number;
  /** What prom-client holds for each series of the row (by its own key), after the last scrape. */
  pushed: Map<string, number>;
}

/** The same per identity (when tenant or user labels are switched on). */
interface IdentityRow {
  labels: { tenant?: string; user?: string };
  ok: number;
  error: number;
  input: number;
  output: number;
  costUsd: number | undefined;
  pushed: Map<string, number>;
}

/**
 * Brings one series of a counter to `value` by adding what changed since the last push (prom-client
 * counters only go up, and so do the sums). An unchanged series costs a map lookup, no label hashing.
 */
function pushSeries(counter: Counter, pushed: Map<string, number>, key: string, labels: () => Record<string, string>, value: number): void {
  const before = pushed.get(key);
  if (before === value) return;
  counter.inc(labels(), value - (before ?? 0));
  pushed.set(key, value);
}

/**
 * The `k` entries with the highest ratio seen, one add() at a time (a min-heap of k): no sort of
 * every budget key, which was the longest single hold of a scrape at 10,000 keys.
 */
class MostUsed<T extends { ratio: number }> {
  readonly heap: T[] = [];

  constructor(private readonly k: number) {}

  add(row: T): void {
    const heap = this.heap;
    const less = (i: number, j: number) => (heap[i] as T).ratio < (heap[j] as T).ratio;
    const swap = (i: number, j: number) => ([heap[i], heap[j]] = [heap[j] as T, heap[i] as T]);
    if (heap.length < this.k) {
      heap.push(row);
      for (let i = heap.length - 1; i > 0 && less(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
    } else if (this.k > 0 && row.ratio > (heap[0] as T).ratio) {
      heap[0] = row;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const m = l + 1 < heap.length && less(l + 1, l) ? l + 1 : l;
        if (l >= heap.length || !less(m, i)) break;
        swap(i, m);
        i = m;
      }
    }
  }
}

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

export interface Scrape {
  contentType: string;
  body: string;
}

export class ProxyMetrics implements CallRecorder {
  /** Created as OpenMetrics so the histograms may carry exemplars; switched per scrape (see scrape()). */
  readonly registry = new Registry<RegistryContentType>();
  private values: LabelValues;
  private readonly identities: IdentityCap;
  /** Scrapes run one at a time: the registry's format is switched for each. */
  private scraping: Promise<unknown> = Promise.resolve();

  /** Set by the sidecar when budgets are configured. */
  budgetSnapshot: () => { scope: string; key: string; ratio: number }[] = () => [];
  /** Set by the sidecar when a ClickHouse exporter runs. */
  telemetryStats: () => ExporterStats | undefined = () => undefined;

  private readonly rows = new Map<string, ModelRow>();
  private readonly identityRows = new Map<string, IdentityRow>();
  private readonly fallbacks: Counter;
  private readonly retries: Counter;
  private readonly breakerOpens: Counter;
  private readonly breakerState: Gauge;
  private readonly cacheLookups: Counter;
  private readonly cacheErrors: Counter;
  private readonly budgetAlerts: Counter;
  private readonly budgetBackendErrors: Counter;
  private readonly overhead: Histogram;
  private readonly duration: Histogram;

  constructor(options: MetricsOptions) {
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const m = adminMetrics(options.config.admin);
    this.values = new LabelValues(options.config, options.prices);
    this.identities = new IdentityCap(m.tenantLabel, m.userLabel, m.maxIdentities);
    const registers = [this.registry];
    const byModel = ['route', 'provider', 'model'];
    // Filled from the rows by pushRows() before each scrape renders them.
    const requests = new Counter({ name: 'llm_sidecar_requests_total', help: 'LLM requests by route, provider, model and outcome (an error code, client_aborted, or the status class).', labelNames: [...byModel, 'status'], registers });
    const tokens = new Counter({ name: 'llm_sidecar_tokens_total', help: 'Tokens by type (input includes cached; output includes reasoning).', labelNames: [...byModel, 'type'], registers });
    const cost = new Counter({ name: 'llm_sidecar_cost_usd_total', help: 'Spend in USD at list prices.', labelNames: byModel, registers });
    const costUnknown = new Counter({ name: 'llm_sidecar_cost_unknown_total', help: 'Calls with usage but no price for the model.', labelNames: byModel, registers });
    this.pushModelRow = (r) => {
      for (const [status, n] of r.requests) pushSeries(requests, r.pushed, `s:${status}`, () => ({ ...r.labels, status }), n);
      r.tokens?.forEach((n, i) => pushSeries(tokens, r.pushed, `t:${i}`, () => ({ ...r.labels, type: TOKEN_TYPES[i] as string }), n));
      if (r.costUsd !== undefined) pushSeries(cost, r.pushed, 'c', () => r.labels, r.costUsd);
      if (r.costUnknown > 0) pushSeries(costUnknown, r.pushed, 'u', () => r.labels, r.costUnknown);
    };
    this.fallbacks = new Counter({ name: 'llm_sidecar_fallbacks_total', help: 'Calls served by a later target of their chain.', labelNames: ['route'], registers });
    this.retries = new Counter({ name: 'llm_sidecar_extra_attempts_total', help: 'Physical attempts beyond the first (retries and fallbacks).', labelNames: ['route'], registers });
    this.breakerOpens = new Counter({ name: 'llm_sidecar_breaker_opens_total', help: 'Circuit breaker trips per target.', labelNames: ['target'], registers });
    this.breakerState = new Gauge({ name: 'llm_sidecar_breaker_state', help: 'Circuit breaker state per target (0 closed, 1 half-open, 2 open).', labelNames: ['target'], registers });
    this.cacheLookups = new Counter({ name: 'llm_sidecar_cache_lookups_total', help: 'Cache outcomes per route: miss, hit, semantic-hit, stale.', labelNames: ['route', 'status'], registers });
    this.cacheErrors = new Counter({ name: 'llm_sidecar_cache_store_errors_total', help: 'Cache store failures (served uncached, never an error).', labelNames: ['op'], registers });
    this.budgetAlerts = new Counter({ name: 'llm_sidecar_budget_alerts_total', help: 'Budgets that crossed their alert threshold (once per window and key).', labelNames: ['scope'], registers });
    this.budgetBackendErrors = new Counter({ name: 'llm_sidecar_budget_backend_errors_total', help: 'Budget backend failures, by what the sidecar did (admitted unmetered, rejected…).', labelNames: ['outcome'], registers });
    const identities = this.identities;
    // Set by the scrape from budgetSnapshot(), in slices (budgetRatios()).
    this.budgetRatio = new Gauge({
      name: 'llm_sidecar_budget_used_ratio',
      help: identities.enabled
        ? `Share of each active budget used in its current window (the ${MAX_BUDGET_KEYS} most used keys; the rest as key="other", their highest share).`
        : 'Highest share used in its current window among the active budgets of each scope (keys are identities: labelled only with admin.metrics.tenantLabel/userLabel).',
      labelNames: identities.enabled ? ['scope', 'key'] : ['scope'],
      registers,
    });
    const stats = (): ExporterStats | undefined => this.telemetryStats();
    new Counter({
      name: 'llm_sidecar_telemetry_spans_total',
      help: 'Spans by fate: exported directly, spooled to disk, replayed from the spool, dropped (spool full).',
      labelNames: ['outcome'],
      registers,
      collect() {
        const t = stats();
        if (!t) return;
        this.reset();
        for (const k of ['exported', 'spooled', 'replayed', 'dropped'] as const) this.inc({ outcome: k }, t[k]);
      },
    });
    new Gauge({
      name: 'llm_sidecar_telemetry_queued_spans',
      help: 'Spans in memory waiting for ClickHouse or the spool.',
      registers,
      collect() {
        const t = stats();
        if (t) this.set(t.queued);
      },
    });
    new Gauge({
      name: 'llm_sidecar_telemetry_spool_bytes',
      help: 'Size of the on-disk spool.',
      registers,
      collect() {
        const t = stats();
        if (t) this.set(t.spoolBytes);
      },
    });
    this.overhead = new Histogram({ name: 'llm_sidecar_overhead_seconds', help: "Time the sidecar itself adds to a call (excluding the provider's time).", buckets: OVERHEAD_BUCKETS_S, enableExemplars: true, registers });
    if (this.identities.enabled) {
      const who = this.identities.labelNames;
      const idRequests = new Counter({ name: 'llm_sidecar_identity_requests_total', help: `LLM requests per ${who.join(' and ')} (first admin.metrics.maxIdentities, then "other"), by outcome: ok or error.`, labelNames: [...who, 'outcome'], registers });
      const idTokens = new Counter({ name: 'llm_sidecar_identity_tokens_total', help: `Input and output tokens per ${who.join(' and ')} (first admin.metrics.maxIdentities, then "other").`, labelNames: [...who, 'type'], registers });
      const idCost = new Counter({ name: 'llm_sidecar_identity_cost_usd_total', help: `Spend in USD at list prices per ${who.join(' and ')} (first admin.metrics.maxIdentities, then "other").`, labelNames: who, registers });
      this.pushIdentityRow = (r) => {
        if (r.ok > 0) pushSeries(idRequests, r.pushed, 'ok', () => ({ ...r.labels, outcome: 'ok' }), r.ok);
        if (r.error > 0) pushSeries(idRequests, r.pushed, 'error', () => ({ ...r.labels, outcome: 'error' }), r.error);
        pushSeries(idTokens, r.pushed, 'in', () => ({ ...r.labels, type: 'input' }), r.input);
        pushSeries(idTokens, r.pushed, 'out', () => ({ ...r.labels, type: 'output' }), r.output);
        if (r.costUsd !== undefined) pushSeries(idCost, r.pushed, 'c', () => r.labels, r.costUsd);
      };
    }
    this.duration = new Histogram({ name: 'llm_sidecar_request_duration_seconds', help: 'End-to-end LLM call duration as seen by the sidecar.', labelNames: ['route', 'provider'], buckets: DURATION_BUCKETS_S, enableExemplars: true, registers });
    collectDefaultMetrics({ register: this.registry });
    // prom-client also writes the handle, request and resource counts as gauges named `*_total`,
    // which promtool rejects (a gauge is not a counter); the same counts by type stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
  }

  /** A hot reload: label values follow the new routes and providers (series already out stay). */
  setConfig(config: Config, prices?: PriceTable): void {
    this.values = new LabelValues(config, prices);
  }

  cacheError(op: string): void {
    this.cacheErrors.inc({ op });
  }

  budgetAlert(scope: string): void {
    this.budgetAlerts.inc({ scope });
  }

  budgetBackendError(outcome: string): void {
    this.budgetBackendErrors.inc({ outcome });
  }

  breakerChanged(target: string, state: string): void {
    this.breakerState.set({ target }, state === 'open' ? 2 : state === 'half_open' ? 1 : 0);
    if (state === 'open') this.breakerOpens.inc({ target });
  }

  record(call: CallRecord): void {
    const v = this.values;
    const route = v.route(call.route);
    const provider = v.provider(call.providerName);
    const model = v.model(call.providerType, call.upstreamModel);
    const key = `${route}\u0000${provider}\u0000${model}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { labels: { route, provider, model }, requests: new Map(), tokens: undefined, costUsd: undefined, costUnknown: 0, pushed: new Map() }));
    if (call.cacheStatus !== 'bypass') this.cacheLookups.inc({ route, status: call.cacheStatus });
    if (call.fallbackIndex > 0) this.fallbacks.inc({ route });
    if (call.attempts > 1) this.retries.inc({ route }, call.attempts - 1);
    const status = call.errorCode ?? (call.clientAborted ? 'client_aborted' : `${Math.floor(call.httpStatus / 100)}xx`);
    row.requests.set(status, (row.requests.get(status) ?? 0) + 1);
    const u = call.usage;
    if (u) {
      const t = (row.tokens ??= [0, 0, 0, 0, 0]); // TOKEN_TYPES order
      t[0] = (t[0] as number) + u.inputTokens;
      t[1] = (t[1] as number) + u.outputTokens;
      t[2] = (t[2] as number) + u.cacheReadTokens;
      t[3] = (t[3] as number) + u.cacheWrite5mTokens + u.cacheWrite1hTokens;
      t[4] = (t[4] as number) + u.reasoningTokens;
    }
    const cost = call.costUsd === undefined ? undefined : Number(call.costUsd);
    if (cost !== undefined) row.costUsd = (row.costUsd ?? 0) + cost;
    else if (u) row.costUnknown++;
    if (this.identities.enabled) {
      const who = this.identities.labels(call.tenant, call.user);
      const idKey = `${who.tenant ?? ''}\u0000${who.user ?? ''}`;
      let id = this.identityRows.get(idKey);
      if (!id) this.identityRows.set(idKey, (id = { labels: who, ok: 0, error: 0, input: 0, output: 0, costUsd: undefined, pushed: new Map() }));
      if (status === '2xx' || status === '1xx' || status === '3xx') id.ok++;
      else id.error++;
      id.input += u?.inputTokens ?? 0;
      id.output += u?.outputTokens ?? 0;
      if (cost !== undefined) id.costUsd = (id.costUsd ?? 0) + cost;
    }
    const exemplarLabels = { trace_id: call.traceId };
    this.overhead.observe({ value: call.overheadMs / 1000, exemplarLabels });
    this.duration.observe({ labels: { route, provider }, value: call.durationMs / 1000, exemplarLabels });
  }

  /**
   * One exposition: the sums pushed to prom-client in slices, then rendered family by family, with
   * a turn of the event loop after each slice and each family (prom-client's registry.metrics()
   * does everything in one go). The registry keeps one format, switched here; OpenMetrics names a
   * counter family without `_total` (its samples keep it), as prom-client's own metrics() does.
   * Scrapes are serialised: the format and the pushed values are shared state.
   */
  scrape(openMetrics = false): Promise<Scrape> {
    const run = async (): Promise<Scrape> => {
      let longest = 0;
      let longestCpu = 0;
      let what = '';
      /** Runs one slice of work, measuring how long it held the event loop, then lets requests run. */
      const slice = async <T>(work: () => T | Promise<T>, name: string): Promise<T> => {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const result = await work();
        const c = process.cpuUsage(c0);
        const cpu = (c.user + c.system) / 1000;
        longest = Math.max(longest, performance.now() - t0);
        if (cpu > longestCpu) [longestCpu, what] = [cpu, name];
        await new Promise<void>((resolve) => setImmediate(resolve));
        return result;
      };
      const push = async <R>(name: string, rows: Iterable<R>, one: (row: R) => void) => {
        const pending = Array.isArray(rows) ? (rows as R[]) : [...rows];
        for (let i = 0; i < pending.length; ) {
          await slice(() => {
            const t0 = performance.now();
            // The clock is read every 32 rows (a row costs microseconds; reading the clock is not free either).
            do one(pending[i++] as R);
            while (i < pending.length && (i % 32 !== 0 || performance.now() - t0 < SLICE_MS));
          }, name);
        }
      };
      await push('push per-model sums', this.rows.values(), this.pushModelRow);
      await push('push per-identity sums', this.identityRows.values(), this.pushIdentityRow);
      // Budget shares: the most used keys by name (when keys are labels), the highest share per scope among the rest.
      const budgets = await slice(() => this.budgetSnapshot(), 'budget snapshot');
      const top = new MostUsed<(typeof budgets)[number]>(this.identities.enabled ? MAX_BUDGET_KEYS : 0);
      await push('most used budgets', budgets, (g) => top.add(g));
      const named = new Set(top.heap);
      const max = new Map<string, number>();
      await push('highest budget share per scope', budgets, (g) => {
        if (!named.has(g)) max.set(g.scope, Math.max(max.get(g.scope) ?? 0, g.ratio));
      });
      await slice(() => {
        this.budgetRatio.reset();
        for (const g of named) this.budgetRatio.set({ scope: g.scope, key: g.key }, g.ratio);
        for (const [scope, ratio] of max) this.budgetRatio.set(this.identities.enabled ? { scope, key: OTHER } : { scope }, ratio);
      }, 'set budget shares');
      this.registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
      const parts: string[] = [];
      // Keyed by the name each metric was registered under (the registry's key), whatever it prints as.
      for (const [key, metric] of this.families()) {
        if (metric instanceof Counter) metric.name = openMetrics ? key.replace(/_total$/, '') : key;
        parts.push(await slice(() => this.registry.getSingleMetricAsString(key), `render ${key}`));
      }
      this.longestSliceMs = longest;
      this.longestSliceCpuMs = longestCpu;
      this.longestSliceName = what;
      return { contentType: this.registry.contentType, body: openMetrics ? `${parts.join('\n')}\n# EOF\n` : `${parts.join('\n\n')}\n` };
    };
    const next = this.scraping.then(run, run);
    this.scraping = next.catch(() => undefined);
    return next;
  }

  private registered: [string, { name: string }][] | undefined;
  /** The longest the last scrape held the event loop in one go (a slice of pushes or one family's render), in ms. */
  longestSliceMs = 0;
  /** The same in CPU time of the process (what the scrape itself cost, without time lost to other processes). */
  longestSliceCpuMs = 0;
  /** What that slice was doing (the harness names the usual culprit). */
  longestSliceName = '';
  /** Pushes a row's sums to its prom-client series (set up in the constructor). */
  private readonly pushModelRow: (row: ModelRow) => void;
  private readonly pushIdentityRow: (row: IdentityRow) => void = () => undefined;
  private readonly budgetRatio: Gauge;

  /** Every metric with its registry key, taken before any scrape renames a counter. */
  private families(): [string, { name: string }][] {
    this.registered ??= (this.registry.getMetricsAsArray() as unknown as { name: string }[]).map((m) => [m.name, m]);
    return this.registered;
  }

  /** Prometheus text format (tests, the demo's report). */
  async render(): Promise<string> {
    return (await this.scrape(false)).body;
  }
}
