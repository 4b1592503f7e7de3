// Static routing: a route is chosen by the `x-llm-sidecar-route` header or by the requested model
// (name, alias or `*` pattern); its first target names the provider and, optionally, the model.
// With no matching route, the request goes to the first provider that speaks its API, model unchanged.
import type { Config, ProviderConfig } from '../shared/config/schema.ts';
import { SidecarError, type ApiDialect } from '../shared/errors.ts';

export interface ResolvedTarget {
  route: string;
  providerName: string;
  provider: ProviderConfig;
  /** The model to send upstream. */
  model: string;
}

interface CompiledRoute {
  name: string;
  providerName: string;
  provider: ProviderConfig;
  model: string | undefined;
}

const DEFAULT_ROUTE = 'default';

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export class Router {
  private readonly byName = new Map<string, CompiledRoute>();
  private readonly byModel = new Map<string, CompiledRoute>();
  private readonly patterns: { re: RegExp; route: CompiledRoute }[] = [];
  private readonly defaults = new Map<ApiDialect, { name: string; provider: ProviderConfig }>();

  constructor(config: Config) {
    for (const [name, provider] of Object.entries(config.providers)) {
      if (!this.defaults.has(provider.type)) this.defaults.set(provider.type, { name, provider });
    }
    for (const [name, route] of Object.entries(config.routes)) {
      const target = route.targets[0];
      if (!target) continue;
      const provider = config.providers[target.provider];
      if (!provider) continue; // rejected by config validation already
      const compiled: CompiledRoute = { name, providerName: target.provider, provider, model: target.model };
      this.byName.set(name, compiled);
      for (const m of route.models) {
        if (m.includes('*')) this.patterns.push({ re: globToRegExp(m), route: compiled });
        else if (!this.byModel.has(m)) this.byModel.set(m, compiled);
      }
    }
  }

  /** The route for an LLM request; throws a SidecarError the client can act on. */
  resolve(dialect: ApiDialect, requestedModel: string, routeHeader: string | undefined): ResolvedTarget {
    let route: CompiledRoute | undefined;
    if (routeHeader !== undefined) {
      route = this.byName.get(routeHeader);
      if (!route) {
        throw new SidecarError('LLM_SIDECAR_UNKNOWN_ROUTE', `unknown route "${routeHeader}" in x-llm-sidecar-route (configured: ${[...this.byName.keys()].join(', ') || 'none'})`);
      }
    } else {
      route = this.byModel.get(requestedModel) ?? this.patterns.find((p) => p.re.test(requestedModel))?.route;
    }
    if (route) {
      if (route.provider.type !== dialect) {
        throw new SidecarError(
          'LLM_SIDECAR_DIALECT_MISMATCH',
          `route "${route.name}" sends to ${route.provider.type} provider "${route.providerName}", but this request uses the ${dialect} API; translation between API formats is not supported yet`,
        );
      }
      return { route: route.name, providerName: route.providerName, provider: route.provider, model: route.model ?? requestedModel };
    }
    const fallback = this.providerFor(dialect);
    return { route: DEFAULT_ROUTE, providerName: fallback.name, provider: fallback.provider, model: requestedModel };
  }

  /** Provider for requests the sidecar does not parse: the header's route, else the first provider of the dialect. */
  resolvePassthrough(dialect: ApiDialect, routeHeader: string | undefined): { route: string; providerName: string; provider: ProviderConfig } {
    if (routeHeader !== undefined) {
      const route = this.byName.get(routeHeader);
      if (!route) throw new SidecarError('LLM_SIDECAR_UNKNOWN_ROUTE', `unknown route "${routeHeader}" in x-llm-sidecar-route`);
      return { route: route.name, providerName: route.providerName, provider: route.provider };
    }
    const p = this.providerFor(dialect);
    return { route: DEFAULT_ROUTE, providerName: p.name, provider: p.provider };
  }

  private providerFor(dialect: ApiDialect): { name: string; provider: ProviderConfig } {
    const p = this.defaults.get(dialect);
    if (!p) throw new SidecarError('LLM_SIDECAR_NO_PROVIDER', `no ${dialect} provider is configured in llm-sidecar`);
    return p;
  }
}
