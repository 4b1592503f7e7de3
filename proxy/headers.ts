// Header handling on both legs. Everything the app sends reaches the provider untouched
// (`anthropic-version`, `anthropic-beta`, `openai-organization`, …) except hop-by-hop headers,
// the sidecar's own `x-llm-sidecar-*` controls, headers that front ends read as another host, path
// or method (`forwarded`, `x-forwarded-host`, `x-original-url`, `x-http-method-override`, …), and
// the app's credentials whenever a configured key replaces them (docs/security.md).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProviderConfig } from '../shared/config/schema.ts';
import { REQUEST_HEADERS, SIDECAR_HEADER_PREFIX } from '../shared/sidecar-headers.ts';

type HeaderValue = string | string[] | undefined;
type HeaderBag = Record<string, HeaderValue>;

// RFC 9110 §7.6.1 connection-specific headers, plus those undici computes itself. `expect`: Node
// answers a `100-continue` on this hop (the body arrives), and undici refuses to send the header —
// forwarded, every such request failed as a provider error (502) and counted against the breaker.
const HOP_BY_HOP = new Set([
  'expect',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

// Headers some front ends and frameworks trust to pick the virtual host, the path or the method:
// the target and method were checked at the edge, so nothing may re-decide them upstream.
const ROUTING_OVERRIDES = new Set([
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-original-url',
  'x-rewrite-url',
  'x-original-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/** Every header a client or the sidecar uses to carry a provider credential. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'x-api-key', 'api-key']);


export interface SidecarControls {
  route?: string;
  tenant?: string;
  user?: string;
  feature?: string;
  cache?: string;
}

function first(v: HeaderValue): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function readControls(headers: IncomingHttpHeaders): SidecarControls {
  return {
    route: first(headers[REQUEST_HEADERS.route]),
    tenant: first(headers[REQUEST_HEADERS.tenant]),
    user: first(headers[REQUEST_HEADERS.user]),
    feature: first(headers[REQUEST_HEADERS.feature]),
    cache: first(headers[REQUEST_HEADERS.cache]),
  };
}

/** Names listed in the `Connection` header are hop-by-hop too. */
function connectionTokens(headers: HeaderBag): Set<string> | undefined {
  const c = first(headers.connection);
  if (c === undefined || c === 'keep-alive' || c === 'close') return undefined;
  return new Set(c.split(',').map((t) => t.trim().toLowerCase()));
}

export interface UpstreamHeaderOptions {
  provider: ProviderConfig;
  /**
   * `configured`: the provider's `apiKey` replaces whatever credential the app sent; `app`: the
   * app's own credential headers pass (only to the provider the request addressed, in its own API:
   * see credentialFor in routing.ts). There is no third way: a target with neither is never called.
   */
  credential: 'configured' | 'app';
  /** The body is re-sent as a buffer: drop the app's length, undici sets the right one. */
  bufferedBody: boolean;
  /** Ask for an uncompressed answer so usage can be read from it (loopback to the app needs no compression). */
  identityEncoding: boolean;
}

export function upstreamRequestHeaders(inbound: IncomingHttpHeaders, opts: UpstreamHeaderOptions): Record<string, string | string[]> {
  const extra = connectionTokens(inbound);
  const out: Record<string, string | string[]> = {};
  const injectKey = opts.credential === 'configured';
  if (injectKey && opts.provider.apiKey === undefined) throw new Error('credential "configured" on a provider without an apiKey');
  for (const name in inbound) {
    const value = inbound[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || name.startsWith(SIDECAR_HEADER_PREFIX) || ROUTING_OVERRIDES.has(name) || extra?.has(name)) continue;
    // A buffered body is re-sent as the sidecar read it (plain JSON): its own length, and no
    // compression label (a compressed body would not have parsed).
    if (opts.bufferedBody && (name === 'content-length' || name === 'content-encoding')) continue;
    if (opts.identityEncoding && name === 'accept-encoding') continue;
    if (injectKey && CREDENTIAL_HEADERS.has(name)) continue;
    out[name] = value;
  }
  if (opts.identityEncoding) out['accept-encoding'] = 'identity';
  if (injectKey) {
    if (opts.provider.type === 'anthropic') out['x-api-key'] = opts.provider.apiKey as string;
    else out.authorization = `Bearer ${opts.provider.apiKey as string}`;
  }
  return out;
}

/**
 * Provider response headers as the app will see them: hop-by-hop and length removed (the sidecar
 * frames the body), and the sidecar's own `x-llm-sidecar-*` names: only the sidecar sets those, so
 * a provider's error can never pass for the sidecar's (`x-llm-sidecar-error`) nor set its cost.
 */
export function downstreamResponseHeaders(upstream: HeaderBag): OutgoingHttpHeaders {
  const extra = connectionTokens(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || name === 'content-length' || extra?.has(name) || name.startsWith(SIDECAR_HEADER_PREFIX)) continue;
    out[name] = value;
  }
  return out;
}

/** For logs: headers with every credential masked. */
export function redactHeaders(headers: HeaderBag): HeaderBag {
  const out: HeaderBag = {};
  for (const name in headers) {
    out[name] = /^(authorization|x-api-key|api-key|proxy-authorization|cookie)$/i.test(name) ? '[redacted]' : headers[name];
  }
  return out;
}
