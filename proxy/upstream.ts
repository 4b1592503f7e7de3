// Outbound connections: one undici keep-alive Pool per provider, and the mapping from an inbound
// path to the provider's URL. Transport failures are mapped to stable sidecar error codes here,
// in one place.
import { Pool, errors as undiciErrors } from 'undici';
import type { ProviderConfig } from '../shared/config/schema.ts';
import { SidecarError } from '../shared/errors.ts';

export interface UpstreamTarget {
  pool: Pool;
  origin: string;
  /** Path prefix of the provider's base URL, without a trailing slash (`/v1` for OpenAI). */
  basePath: string;
  /** `server.address` / `server.port` for spans. */
  hostname: string;
  port: number;
  /** Checked upstream paths already built for this provider (upstreamUrl): the LLM endpoints are a handful. */
  paths?: Map<string, string>;
}

const MAX_CACHED_PATHS = 256;

export class UpstreamPools {
  private readonly targets = new Map<string, UpstreamTarget>();

  constructor(providers: Record<string, ProviderConfig>) {
    for (const [name, p] of Object.entries(providers)) {
      const url = new URL(p.baseUrl);
      const pool = new Pool(url.origin, {
        connections: p.connections,
        pipelining: 1,
        connectTimeout: p.timeouts.connectMs,
        headersTimeout: p.timeouts.headersMs,
        bodyTimeout: p.timeouts.idleMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
      });
      this.targets.set(name, {
        pool,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        hostname: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
        paths: new Map(),
      });
    }
  }

  get(providerName: string): UpstreamTarget {
    const t = this.targets.get(providerName);
    if (!t) throw new SidecarError('LLM_SIDECAR_NO_PROVIDER', `provider "${providerName}" is not configured`);
    return t;
  }

  /** In-flight work per provider: requests running on a socket, and waiting for one. */
  stats(): Record<string, { connected: number; running: number; pending: number }> {
    const out: Record<string, { connected: number; running: number; pending: number }> = {};
    for (const [name, t] of this.targets) out[name] = { connected: t.pool.stats.connected, running: t.pool.stats.running, pending: t.pool.stats.pending };
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.targets.values()].map((t) => t.pool.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.targets.values()].map((t) => t.pool.destroy()));
  }
}

/**
 * Provider path for an inbound path. Base URLs are written as the provider's SDK takes them, so
 * `https://api.openai.com/v1` + `/v1/chat/completions` → `/v1/chat/completions` (the `/v1` is not
 * doubled) and `https://gw.example.com/openai/v1` + `/v1/models` → `/openai/v1/models`.
 */
export function upstreamPath(basePath: string, inboundPathAndQuery: string): string {
  if (basePath === '') return inboundPathAndQuery;
  if (basePath.endsWith('/v1') && (inboundPathAndQuery.startsWith('/v1/') || inboundPathAndQuery.startsWith('/v1?') || inboundPathAndQuery === '/v1')) {
    return basePath + inboundPathAndQuery.slice(3);
  }
  return basePath + inboundPathAndQuery;
}

/**
 * The path and query to send to a provider, built with the URL API from its configured base URL
 * and an inbound path already checked at the edge (proxy/request-target.ts). The one place every
 * upstream URL comes from, and its last line of defence: a result off the provider's origin or
 * outside its base path throws, whatever the inbound path was.
 */
export function upstreamUrl(target: Pick<UpstreamTarget, 'origin' | 'basePath' | 'paths'>, checkedPathAndQuery: string): string {
  const cached = target.paths?.get(checkedPathAndQuery);
  if (cached !== undefined) return cached;
  const url = new URL(upstreamPath(target.basePath, checkedPathAndQuery), target.origin);
  assertOnProvider(target, url);
  const built = url.pathname + url.search;
  // Only results that passed the assertion are kept; once full, paths are built every time.
  if (target.paths && target.paths.size < MAX_CACHED_PATHS) target.paths.set(checkedPathAndQuery, built);
  return built;
}

export function assertOnProvider(target: Pick<UpstreamTarget, 'origin' | 'basePath'>, url: URL): void {
  const p = url.pathname;
  const underBase = target.basePath === '' || p === target.basePath || p.startsWith(`${target.basePath}/`);
  const dotSegment = /(^|\/)\.\.?(\/|$)/.test(p) || /%2e|%2f|%5c/i.test(p);
  if (url.origin !== target.origin || !underBase || dotSegment || url.username !== '' || url.password !== '' || url.hash !== '') {
    throw new SidecarError('LLM_SIDECAR_BAD_REQUEST_TARGET', 'request target refused: it would leave the provider\'s base URL');
  }
}

/** One mapping from undici/socket failures to sidecar errors; messages name the provider, never a key. */
export function mapUpstreamError(err: unknown, providerName: string): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `provider "${providerName}" did not send response headers in time`, { cause: err });
  }
  if (err instanceof undiciErrors.BodyTimeoutError) {
    return new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `provider "${providerName}" went silent mid-response`, { cause: err });
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return new SidecarError('LLM_SIDECAR_UPSTREAM_TIMEOUT', `connecting to provider "${providerName}" timed out`, { cause: err });
  }
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SidecarError('LLM_SIDECAR_UPSTREAM_UNREACHABLE', `provider "${providerName}" is unreachable (${e.code})`, { cause: err });
    default:
      return new SidecarError('LLM_SIDECAR_UPSTREAM_CONNECTION_RESET', `connection to provider "${providerName}" failed (${e.code ?? 'closed'})`, { cause: err });
  }
}
