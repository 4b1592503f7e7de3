import { describe, expect, it } from 'vitest';
import { BudgetsSchema } from '../../shared/config/budgets.ts';
import { hashApiKey, IdentityResolver, resolveIdentity, type HeaderBag } from '../../proxy/budget/identity.ts';

const KEY = 'sk-test-abc123';
const config = BudgetsSchema.parse({ identity: { defaultTenant: 'dflt', defaultUser: 'anon', apiKeys: { [hashApiKey(KEY)]: { tenant: 'acme' }, [hashApiKey('sk-ant-1').toUpperCase()]: { tenant: 'anthro' } } } }).identity;
const resolver = new IdentityResolver(config);

describe('identity', () => {
  it('hashes API keys with sha256 hex', () => {
    expect(hashApiKey('test')).toBe('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
  });

  it('headers win over everything', () => {
    const id = resolver.resolve(
      { 'x-llm-sidecar-tenant': 'hdr-tenant', 'x-llm-sidecar-user': 'hdr-user', 'x-llm-sidecar-feature': 'search', authorization: `Bearer ${KEY}` },
      { user: 'body-user', metadata: { user_id: 'meta-user' } },
    );
    expect(id).toEqual({ tenant: 'hdr-tenant', user: 'hdr-user', feature: 'search', source: { tenant: 'header', user: 'header', feature: 'header' } });
  });

  it('then the body user (OpenAI user / safety_identifier, Anthropic metadata.user_id), then the API key, then defaults', () => {
    expect(resolver.resolve({ authorization: `Bearer ${KEY}` }, { user: 'u-openai' })).toMatchObject({ tenant: 'acme', user: 'u-openai', feature: undefined, source: { tenant: 'api-key', user: 'body' } });
    expect(resolver.resolve({ 'x-api-key': 'sk-ant-1' }, { metadata: { user_id: 'u-anthropic' } })).toMatchObject({ tenant: 'anthro', user: 'u-anthropic' });
    expect(resolver.resolve({ 'api-key': KEY }, { safety_identifier: 'u-safe' })).toMatchObject({ tenant: 'acme', user: 'u-safe' });
    expect(resolver.resolve({ authorization: 'Bearer sk-unknown' }, {})).toMatchObject({ tenant: 'dflt', user: 'anon', source: { tenant: 'default', user: 'default', feature: 'none' } });
    expect(resolveIdentity(config, {})).toMatchObject({ tenant: 'dflt', user: 'anon' });
  });

  it('skips empty or non-string values and array headers take the first', () => {
    expect(resolver.resolve({ 'x-llm-sidecar-tenant': '  ', 'x-llm-sidecar-user': ['first', 'second'] }, { user: 42 })).toMatchObject({ tenant: 'dflt', user: 'first' });
    expect(resolver.resolve({}, { user: '', metadata: { user_id: 7 } })).toMatchObject({ user: 'anon' });
  });

  it('bounds identifiers: control characters dropped, long ones hashed', () => {
    expect(resolver.resolve({ 'x-llm-sidecar-user': ' a\nb\u0000c ' }).user).toBe('abc');
    const long = resolver.resolve({ 'x-llm-sidecar-user': 'x'.repeat(500) }).user;
    expect(long).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(resolver.resolve({ 'x-llm-sidecar-user': 'x'.repeat(499) }).user).not.toBe(long);
  });

  it('never throws and never exposes the raw key', () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('boom'); } }) as HeaderBag;
    expect(resolver.resolve(hostile, null)).toMatchObject({ tenant: 'dflt', user: 'anon' });
    expect(resolver.resolve(null as unknown as HeaderBag, 'not an object')).toMatchObject({ tenant: 'dflt' });
    const id = resolver.resolve({ authorization: `Bearer ${KEY}` });
    expect(JSON.stringify(id)).not.toContain(KEY);
    expect(JSON.stringify(id)).not.toContain(hashApiKey(KEY));
  });
});
