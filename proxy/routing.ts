// Choosing where a request goes. A route is selected by the `x-llm-sidecar-route` header, by the
// requested model (name, alias or `*` pattern), or by match rules on the request; its strategy
// orders its targets into a chain the attempt loop walks (fallback). With no route, a request goes
// to the first provider that speaks its API, model unchanged.
import type { AttemptTimeouts, Config, ProviderConfig, RouteConfig } from '../shared/config/schema.ts';
import { credentialProblems } from '../shared/config/credentials.ts';
import { SidecarError, type ApiDialect } from '../shared/errors.ts';
import type { PriceTable } from '../shared/pricing/price-table.ts';
import { CircuitBreaker, type BreakerState } from './resilience/circuit-breaker.ts';
import { RetryBudget } from './resilience/retry-budget.ts';
import type { RequestFeatures } from './token-estimate.ts';

/** One target of a route, with its health state. Shared by every request of the route. */
export interface Target {
  key: string;
  providerName: string;
  provider: ProviderConfig;
  /** Undefined: keep the requested model. */
  model: string | undefined;
  weight: number;
  timeouts: AttemptTimeouts;
  breaker: CircuitBreaker;
  budget: RetryBudget;
  latency: PeakEwma;
}

export interface CompiledRoute {
  name: string;
  config: RouteConfig;
  targets: Target[];
}

/** An ordered chain for one request, and why it is in that order. */
export interface RoutePlan {
  route: CompiledRoute | undefined;
  routeName: string;
  strategy: string;
  candidates: { target: Target; model: string }[];
  decision: string;
}

/**
 * Peak-EWMA of latency (Finagle's load-balancer metric): jumps up at once on a slow answer and
 * decays slowly, so a target that just got slow is avoided quickly.
 */
export class PeakEwma {
  private value = 0;
  private last = 0;
  constructor(private readonly decayMs = 10_000) {}

  observe(ms: number, now = Date.now()): void {
    if (this.last === 0 || ms > this.value) this.value = ms;
    else {
      const w = Math.exp(-(now - this.last) / this.decayMs);
      this.value = this.value * w + ms * (1 - w);
    }
    this.last = now;
  }

  get score(): number {
    return this.value;
  }
}

/**
 * Which credential a request of `dialect` carries to `provider`: its configured key, else the app's
 * own — only when the provider speaks the request's API (the config check guarantees that a keyless
 * target is the provider the route addressed). Undefined: no credential may go there.
 */
export function credentialFor(provider: ProviderConfig, dialect: ApiDialect): 'configured' | 'app' | undefined {
  if (provider.apiKey !== undefined) return 'configured';
  return provider.type === dialect ? 'app' : undefined;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

const DEFAULT_ROUTE = 'default';

export interface RouterOptions {
  prices?: PriceTable;
  onBreakerChange?: (target: string, from: BreakerState, to: BreakerState) => void;
  random?: () => number;
}

export class Router {
  private readonly routes = new Map<string, CompiledRoute>();
  private readonly byModel = new Map<string, CompiledRoute>();
  private readonly patterns: { re: RegExp; route: CompiledRoute }[] = [];
  private readonly matchRules: CompiledRoute[] = [];
  private readonly defaults = new Map<ApiDialect, { name: string; provider: ProviderConfig; target: Target }>();
  private readonly random: () => number;

  constructor(
    config: Config,
    private readonly options: RouterOptions = {},
  ) {
    this.random = options.random ?? Math.random;
    // Defence in depth: config loading refuses these already; a Config built any other way is refused here.
    const unsafe = credentialProblems(config.providers, config.routes);
    if (unsafe.length > 0) throw new Error(unsafe.map((p) => p.message).join('; '));
    for (const [name, provider] of Object.entries(config.providers)) {
      if (!this.defaults.has(provider.type)) {
        // Without a configured route the sidecar stays transparent: no breaker, the provider's own errors.
        const target = this.makeTarget(`${DEFAULT_ROUTE}/${name}`, name, provider, undefined, 1, {}, undefined);
        target.breaker = new CircuitBreaker({ failureRatio: 1, windowMs: 30_000, minRequests: Number.MAX_SAFE_INTEGER, cooldownMs: 0 });
        this.defaults.set(provider.type, { name, provider, target });
      }
    }
    for (const name of Object.keys(config.routes)) this.compile(config, name, []);
    for (const route of this.routes.values()) {
      for (const m of route.config.models) {
        if (m.includes('*')) this.patterns.push({ re: globToRegExp(m), route });
        else if (!this.byModel.has(m)) this.byModel.set(m, route);
      }
      if (route.config.match) this.matchRules.push(route);
    }
  }

  private makeTarget(key: string, providerName: string, provider: ProviderConfig, model: string | undefined, weight: number, timeouts: AttemptTimeouts, route: RouteConfig | undefined): Target {
    return {
      key,
      providerName,
      provider,
      model,
      weight,
      timeouts,
      breaker: new CircuitBreaker(route?.breaker, (from, to) => this.options.onBreakerChange?.(key, from, to)),
      budget: new RetryBudget(route ? { ratio: route.retry.budgetRatio, windowMs: 10_000, minRetries: 3 } : undefined),
      latency: new PeakEwma(),
    };
  }

  /** Flattens `route:` targets (nested chains); cycles were rejected by config validation. */
  private compile(config: Config, name: string, seen: string[]): CompiledRoute {
    const existing = this.routes.get(name);
    if (existing) return existing;
    const rc = config.routes[name] as RouteConfig;
    const targets: Target[] = [];
    rc.targets.forEach((t, i) => {
      if (t.route !== undefined) {
        if (seen.includes(t.route)) return;
        targets.push(...this.compile(config, t.route, [...seen, name]).targets);
        return;
      }
      const provider = config.providers[t.provider as string] as ProviderConfig;
      targets.push(this.makeTarget(`${name}/${i}/${t.provider}/${t.model ?? '*'}`, t.provider as string, provider, t.model, t.weight, { ...rc.timeouts, ...t.timeouts }, rc));
    });
    const compiled = { name, config: rc, targets };
    this.routes.set(name, compiled);
    return compiled;
  }

  /** Selects the route; throws a SidecarError the client can act on. */
  select(requestedModel: string, routeHeader: string | undefined, features: () => RequestFeatures, tenant: string | undefined, feature: string | undefined): CompiledRoute | undefined {
    if (routeHeader !== undefined) {
      const r = this.routes.get(routeHeader);
      if (!r) throw new SidecarError('LLM_SIDECAR_UNKNOWN_ROUTE', `unknown route "${routeHeader}" in x-llm-sidecar-route (configured: ${[...this.routes.keys()].join(', ') || 'none'})`);
      return r;
    }
    const byModel = this.byModel.get(requestedModel) ?? this.patterns.find((p) => p.re.test(requestedModel))?.route;
    if (byModel) return byModel;
    for (const route of this.matchRules) {
      const m = route.config.match;
      if (!m) continue;
      if (m.models && !m.models.some((g) => globToRegExp(g).test(requestedModel))) continue;
      if (m.features && (feature === undefined || !m.features.includes(feature))) continue;
      if (m.tenants && (tenant === undefined || !m.tenants.includes(tenant))) continue;
      if (m.hasTools !== undefined || m.hasImages !== undefined || m.minInputTokens !== undefined || m.maxInputTokens !== undefined) {
        const f = features();
        if (m.hasTools !== undefined && f.hasTools !== m.hasTools) continue;
        if (m.hasImages !== undefined && f.hasImages !== m.hasImages) continue;
        if (m.minInputTokens !== undefined && f.inputTokens < m.minInputTokens) continue;
        if (m.maxInputTokens !== undefined && f.inputTokens > m.maxInputTokens) continue;
      }
      return route;
    }
    return undefined;
  }

  /** The ordered chain for a request. */
  plan(dialect: ApiDialect, requestedModel: string, route: CompiledRoute | undefined, features: () => RequestFeatures): RoutePlan {
    if (!route) {
      const d = this.defaults.get(dialect);
      if (!d) throw new SidecarError('LLM_SIDECAR_NO_PROVIDER', `no ${dialect} provider is configured in llm-sidecar`);
      return { route: undefined, routeName: DEFAULT_ROUTE, strategy: 'default', candidates: [{ target: d.target, model: requestedModel }], decision: `first ${dialect} provider` };
    }
    const withModel = (t: Target) => ({ target: t, model: t.model ?? requestedModel });
    const targets = route.targets;
    switch (route.config.strategy) {
      case 'weighted': {
        // Weighted shuffle: the first pick is proportional to weight; the rest stay as fallbacks.
        const pool = [...targets];
        const order: Target[] = [];
        while (pool.length > 0) {
          const total = pool.reduce((a, t) => a + t.weight, 0);
          let x = this.random() * total;
          let i = 0;
          while (i < pool.length - 1 && x >= (pool[i] as Target).weight) x -= (pool[i++] as Target).weight;
          order.push(...pool.splice(i, 1));
        }
        return { route, routeName: route.name, strategy: 'weighted', candidates: order.map(withModel), decision: `weighted pick ${order[0]?.key}` };
      }
      case 'cost': {
        const f = features();
        const scored = targets.map((t) => ({ t, ...this.costOf(t, t.model ?? requestedModel, f) }));
        const fits = scored.filter((s) => s.fits).sort((a, b) => a.cost - b.cost);
        const rest = scored.filter((s) => !s.fits);
        const order = [...fits, ...rest].map((s) => s.t);
        return { route, routeName: route.name, strategy: 'cost', candidates: order.map(withModel), decision: `cheapest fitting ${f.inputTokens} input tokens: ${order[0]?.key}` };
      }
      case 'latency': {
        // Mostly the lowest peak-EWMA; 5 % of requests explore another target so scores stay fresh.
        const order = [...targets].sort((a, b) => a.latency.score - b.latency.score);
        if (order.length > 1 && this.random() < 0.05) order.unshift(...order.splice(1 + Math.floor(this.random() * (order.length - 1)), 1));
        return { route, routeName: route.name, strategy: 'latency', candidates: order.map(withModel), decision: `lowest latency ${order[0]?.key} (${order[0]?.latency.score.toFixed(1)} ms)` };
      }
      default:
        return { route, routeName: route.name, strategy: route.config.strategy, candidates: targets.map(withModel), decision: `${route.config.strategy} chain` };
    }
  }

  private costOf(t: Target, model: string, f: RequestFeatures): { cost: number; fits: boolean } {
    const entry = this.options.prices?.find(t.provider.type, model)?.entry;
    if (!entry) return { cost: Number.POSITIVE_INFINITY, fits: true };
    const fits = entry.contextWindow === undefined || f.inputTokens + f.maxOutputTokens <= entry.contextWindow;
    return { cost: f.inputTokens * Number(entry.input) + f.maxOutputTokens * Number(entry.output), fits };
  }

  /** Provider for requests the sidecar does not parse: the header's route, else the first provider of the dialect. */
  resolvePassthrough(dialect: ApiDialect, routeHeader: string | undefined): { route: string; providerName: string; provider: ProviderConfig } {
    if (routeHeader !== undefined) {
      const route = this.routes.get(routeHeader);
      const t = route?.targets[0];
      if (!route || !t) throw new SidecarError('LLM_SIDECAR_UNKNOWN_ROUTE', `unknown route "${routeHeader}" in x-llm-sidecar-route`);
      return { route: route.name, providerName: t.providerName, provider: t.provider };
    }
    const d = this.defaults.get(dialect);
    if (!d) throw new SidecarError('LLM_SIDECAR_NO_PROVIDER', `no ${dialect} provider is configured in llm-sidecar`);
    return { route: DEFAULT_ROUTE, providerName: d.name, provider: d.provider };
  }

  /** Breaker states for /metrics. */
  breakerStates(): { target: string; state: BreakerState }[] {
    const out: { target: string; state: BreakerState }[] = [];
    for (const r of this.routes.values()) for (const t of r.targets) out.push({ target: t.key, state: t.breaker.current });
    for (const d of this.defaults.values()) out.push({ target: d.target.key, state: d.target.breaker.current });
    return out;
  }
}
