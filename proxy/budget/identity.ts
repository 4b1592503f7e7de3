// Who a request is for: tenant, user and feature, for budgets, rate limits and span attributes.
//
// Precedence, first found wins:
//   tenant:  x-llm-sidecar-tenant header → the API key's tenant (identity.apiKeys) → defaultTenant
//   user:    x-llm-sidecar-user header → body `user` (OpenAI) / `safety_identifier` (OpenAI) /
//            `metadata.user_id` (Anthropic) → defaultUser
//   feature: x-llm-sidecar-feature header → undefined
// API keys are looked up by their sha256: the raw key is hashed on each request and neither the
// key nor its hash is kept, returned or logged. Call this on the INBOUND headers, before a
// provider key is injected. Values are trimmed, control characters dropped, and identifiers
// longer than 128 characters are replaced by a hash of themselves (bounded key sizes, no
// collisions). Never throws.
import { createHash } from 'node:crypto';
import { REQUEST_HEADERS } from '../../shared/sidecar-headers.ts';
import type { IdentityConfig } from '../../shared/config/budgets.ts';

const TENANT_HEADER = REQUEST_HEADERS.tenant;
const USER_HEADER = REQUEST_HEADERS.user;
const FEATURE_HEADER = REQUEST_HEADERS.feature;

export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export interface Identity {
  tenant: string;
  user: string;
  feature: string | undefined;
  /** Where each value came from (span attributes, debugging). */
  source: {
    tenant: 'header' | 'api-key' | 'default';
    user: 'header' | 'body' | 'default';
    feature: 'header' | 'none';
  };
}

const MAX_ID_LENGTH = 128;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** sha256 of an API key as lowercase hex: the form `identity.apiKeys` lists keys in. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A usable identifier, or undefined for anything empty or not a string. */
function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.replace(CONTROL, '').trim();
  if (v.length === 0) return undefined;
  if (v.length <= MAX_ID_LENGTH) return v;
  return `sha256:${createHash('sha256').update(v, 'utf8').digest('hex').slice(0, 32)}`;
}

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The app's API key as sent: `Authorization: Bearer <key>` (OpenAI), `x-api-key` (Anthropic) or `api-key` (Azure). */
function apiKeyOf(headers: HeaderBag): string | undefined {
  const auth = header(headers, 'authorization');
  if (typeof auth === 'string') {
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1]) return m[1];
  }
  const key = header(headers, 'x-api-key') ?? header(headers, 'api-key');
  return typeof key === 'string' && key.trim().length > 0 ? key.trim() : undefined;
}

function bodyUser(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const direct = clean(b.user) ?? clean(b.safety_identifier);
  if (direct !== undefined) return direct;
  const meta = b.metadata;
  if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) return clean((meta as Record<string, unknown>).user_id);
  return undefined;
}

/** Resolves identities with a prepared API-key table; build one per configuration. */
export class IdentityResolver {
  private readonly keyTenants: ReadonlyMap<string, string>;
  private readonly defaultTenant: string;
  private readonly defaultUser: string;

  constructor(config: IdentityConfig) {
    this.keyTenants = new Map(Object.entries(config.apiKeys).map(([hash, v]) => [hash.toLowerCase(), v.tenant]));
    this.defaultTenant = clean(config.defaultTenant) ?? 'default';
    this.defaultUser = clean(config.defaultUser) ?? 'anonymous';
  }

  resolve(headers: HeaderBag, body?: unknown): Identity {
    try {
      return this.resolveUnsafe(headers, body);
    } catch {
      return { tenant: this.defaultTenant, user: this.defaultUser, feature: undefined, source: { tenant: 'default', user: 'default', feature: 'none' } };
    }
  }

  private resolveUnsafe(headers: HeaderBag, body: unknown): Identity {
    const h: HeaderBag = headers !== null && typeof headers === 'object' ? headers : {};
    let tenant = clean(header(h, TENANT_HEADER));
    let tenantSource: Identity['source']['tenant'] = 'header';
    if (tenant === undefined && this.keyTenants.size > 0) {
      const key = apiKeyOf(h);
      tenant = key === undefined ? undefined : this.keyTenants.get(hashApiKey(key));
      tenantSource = 'api-key';
    }
    if (tenant === undefined) {
      tenant = this.defaultTenant;
      tenantSource = 'default';
    }

    let user = clean(header(h, USER_HEADER));
    let userSource: Identity['source']['user'] = 'header';
    if (user === undefined) {
      user = bodyUser(body);
      userSource = 'body';
    }
    if (user === undefined) {
      user = this.defaultUser;
      userSource = 'default';
    }

    const feature = clean(header(h, FEATURE_HEADER));
    return { tenant, user, feature, source: { tenant: tenantSource, user: userSource, feature: feature === undefined ? 'none' : 'header' } };
  }
}

/** One-off resolution (tests, tools); the proxy keeps an IdentityResolver per configuration. */
export function resolveIdentity(config: IdentityConfig, headers: HeaderBag, body?: unknown): Identity {
  return new IdentityResolver(config).resolve(headers, body);
}
