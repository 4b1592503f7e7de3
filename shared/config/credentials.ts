// Where the app's own credentials may go. The sidecar forwards the app's `Authorization` /
// `x-api-key` only to the provider the app addressed: the default provider of the request's API, or
// a route's first target (when it speaks that API). Every other target of a chain — another vendor,
// or another host of the same API — must have its own configured `apiKey`, so a fallback can never
// hand the app's OpenAI key to an Anthropic-type host or to a second gateway. This check refuses a
// config that breaks the rule at load and at hot reload, naming the route and the target.

interface RawProvider {
  apiKey?: unknown;
}
interface RawTarget {
  provider?: unknown;
  route?: unknown;
}

export interface CredentialProblem {
  path: (string | number)[];
  message: string;
}

function hasKey(p: RawProvider | undefined): boolean {
  return typeof p?.apiKey === 'string' && p.apiKey.length > 0;
}

/** The providers of a route's chain in order, nested `route:` targets spliced in (cycles cut). */
function flatten(routes: Record<string, { targets?: unknown } | null | undefined>, name: string, seen: string[]): { provider: string; via: string[] }[] {
  const targets = routes[name]?.targets;
  if (!Array.isArray(targets)) return [];
  const out: { provider: string; via: string[] }[] = [];
  for (const t of targets as (RawTarget | null)[]) {
    if (typeof t?.provider === 'string') out.push({ provider: t.provider, via: [] });
    else if (typeof t?.route === 'string' && !seen.includes(t.route)) {
      for (const inner of flatten(routes, t.route, [...seen, name])) out.push({ provider: inner.provider, via: [t.route, ...inner.via] });
    }
  }
  return out;
}

export function credentialProblems(providers: unknown, routes: unknown): CredentialProblem[] {
  if (providers === null || typeof providers !== 'object' || routes === null || typeof routes !== 'object') return [];
  const provs = providers as Record<string, RawProvider | undefined>;
  const rs = routes as Record<string, { targets?: unknown } | null | undefined>;
  const problems: CredentialProblem[] = [];
  for (const name of Object.keys(rs)) {
    const rawTargets = rs[name]?.targets;
    if (!Array.isArray(rawTargets)) continue;
    const chain = flatten(rs, name, []);
    const addressed = chain[0]?.provider;
    if (addressed === undefined) continue;
    // Report each offending provider once per route, at the route's own target that brings it in.
    const reported = new Set<string>();
    (rawTargets as (RawTarget | null)[]).forEach((t, i) => {
      const inner = typeof t?.provider === 'string' ? [{ provider: t.provider, via: [] as string[] }] : typeof t?.route === 'string' ? flatten(rs, t.route, [name]).map((x) => ({ ...x, via: [t.route as string, ...x.via] })) : [];
      for (const { provider, via } of inner) {
        if (provider === addressed || !(provider in provs) || hasKey(provs[provider]) || reported.has(provider)) continue;
        reported.add(provider);
        const where = via.length > 0 ? ` (through route ${via.map((v) => `"${v}"`).join(' → ')})` : '';
        problems.push({
          path: ['routes', name, 'targets', i],
          message:
            `route "${name}" could send the app's own credentials to provider "${provider}"${where}: they go only to the provider a request addresses ` +
            `(here "${addressed}", the route's first target). Set providers.${provider}.apiKey, or make "${provider}" the first target.`,
        });
      }
    });
  }
  return problems;
}
