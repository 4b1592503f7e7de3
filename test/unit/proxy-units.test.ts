import { describe, expect, it } from 'vitest';
import { errorBody, errorEvent, SidecarError } from '../../shared/errors.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { upstreamRequestHeaders, downstreamResponseHeaders } from '../../proxy/headers.ts';
import { hideInjectedUsage } from '../../proxy/response-observer.ts';
import { withIncludeUsage } from '../../proxy/request-body.ts';
import { Router } from '../../proxy/routing.ts';
import { loadPriceTable } from '../../shared/pricing/price-table.ts';
import { parseEvent, SseSplitter } from '../../proxy/sse.ts';
import { upstreamPath } from '../../proxy/upstream.ts';

describe('upstreamPath', () => {
  it('does not double /v1 for OpenAI-style base URLs and keeps prefixes and queries', () => {
    expect(upstreamPath('/v1', '/v1/chat/completions')).toBe('/v1/chat/completions');
    expect(upstreamPath('/openai/v1', '/v1/models?limit=2')).toBe('/openai/v1/models?limit=2');
    expect(upstreamPath('', '/v1/messages')).toBe('/v1/messages');
    expect(upstreamPath('/proxy', '/v1/messages')).toBe('/proxy/v1/messages');
  });
});

describe('headers', () => {
  const provider = parseConfig({ providers: { p: { type: 'anthropic', baseUrl: 'https://api.anthropic.com' } } }).providers.p!;
  const inbound = {
    host: 'localhost:4000',
    connection: 'keep-alive, x-hop',
    'x-hop': 'drop me',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'content-length': '10',
    'x-api-key': 'sk-ant-app',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'prompt-caching-2024-07-31',
    'x-llm-sidecar-tenant': 'acme',
    'accept-encoding': 'gzip',
  };

  it('forwards end-to-end headers untouched and drops hop-by-hop and sidecar controls', () => {
    const out = upstreamRequestHeaders(inbound, { provider, credential: 'app', bufferedBody: true, identityEncoding: true });
    expect(out).toEqual({ 'x-api-key': 'sk-ant-app', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31', 'accept-encoding': 'identity' });
  });

  it('injects the configured key and drops the app’s', () => {
    const out = upstreamRequestHeaders({ ...inbound, authorization: 'Bearer app' }, { provider: { ...provider, apiKey: 'sk-ant-conf' }, credential: 'configured', bufferedBody: false, identityEncoding: false });
    expect(out['x-api-key']).toBe('sk-ant-conf');
    expect(out.authorization).toBeUndefined();
    expect(out['content-length']).toBe('10');
    expect(out['accept-encoding']).toBe('gzip');
  });

  it('removes framing from provider response headers', () => {
    expect(downstreamResponseHeaders({ 'content-length': '5', 'transfer-encoding': 'chunked', connection: 'close', 'x-request-id': 'req_1' })).toEqual({ 'x-request-id': 'req_1' });
  });
});

describe('SSE handling', () => {
  it('splits events across arbitrary chunk boundaries, including multi-byte characters', () => {
    const text = 'event: a\ndata: {"x":"é"}\n\ndata: two\r\n\r\ndata: [DONE]\n\n';
    const bytes = Buffer.from(text);
    const s = new SseSplitter();
    const events: string[] = [];
    for (let i = 0; i < bytes.length; i += 3) events.push(...s.push(bytes.subarray(i, i + 3)));
    expect(events.map((e) => parseEvent(e).data)).toEqual(['{"x":"é"}', 'two', '[DONE]']);
    expect(parseEvent(events[0]!).event).toBe('a');
    expect(s.end()).toBe('');
  });

  it('hides the usage the sidecar asked for but keeps content that merely mentions it', () => {
    const chunk = parseEvent('data: {"id":"c","choices":[{"index":0,"delta":{"content":"say \\"usage\\":null"}}],"usage":null}');
    expect(hideInjectedUsage(chunk)).toBe('data: {"id":"c","choices":[{"index":0,"delta":{"content":"say \\"usage\\":null"}}]}');
    expect(hideInjectedUsage(parseEvent('data: {"id":"c","choices":[],"usage":{"prompt_tokens":1}}'))).toBeUndefined();
    expect(hideInjectedUsage(parseEvent('data: [DONE]'))).toBe('data: [DONE]');
  });
});

describe('request rewriting', () => {
  it('splices include_usage without touching the other bytes', () => {
    const raw = Buffer.from('{ "model" : "gpt-4o",   "stream": true }');
    expect(withIncludeUsage(raw, JSON.parse(raw.toString())).toString()).toBe('{"stream_options":{"include_usage":true}, "model" : "gpt-4o",   "stream": true }');
  });

  it('keeps the app’s other stream_options', () => {
    const body = { model: 'm', stream: true, stream_options: { include_obfuscation: false } };
    expect(JSON.parse(withIncludeUsage(Buffer.from(JSON.stringify(body)), body).toString())).toEqual({ ...body, stream_options: { include_obfuscation: false, include_usage: true } });
  });
});

describe('routing', () => {
  const config = parseConfig({
    // `oa` is a fallback of `claude`: it needs its own key (the app's go only to a route's first provider).
    providers: { oa: { type: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-test-oa-key' }, an: { type: 'anthropic', baseUrl: 'https://api.anthropic.com' } },
    routes: {
      fast: { models: ['fast', 'gpt-4o-mini*'], targets: [{ provider: 'oa', model: 'gpt-4o-mini' }] },
      claude: { models: ['smart'], targets: [{ provider: 'an', model: 'claude-sonnet-4-6' }, { route: 'fast' }] },
      tools: { match: { hasTools: true, features: ['agent'] }, targets: [{ provider: 'oa', model: 'gpt-4.1' }] },
      big: { match: { minInputTokens: 1000 }, strategy: 'cost', targets: [{ provider: 'oa', model: 'gpt-4o' }, { provider: 'oa', model: 'gpt-4.1-mini' }] },
    },
  });
  const router = new Router(config, { prices: loadPriceTable() });
  const small = () => ({ inputTokens: 10, maxOutputTokens: 100, hasTools: false, hasImages: false });
  const plan = (dialect: 'openai' | 'anthropic', model: string, header?: string, f = small, feature?: string) => {
    const route = router.select(model, header, f, undefined, feature);
    return router.plan(dialect, model, route, f);
  };

  it('maps aliases and patterns, and falls back to the dialect’s first provider', () => {
    expect(plan('openai', 'fast')).toMatchObject({ routeName: 'fast', candidates: [{ model: 'gpt-4o-mini' }] });
    expect(plan('openai', 'gpt-4o-mini-2024-07-18')).toMatchObject({ routeName: 'fast', candidates: [{ model: 'gpt-4o-mini' }] });
    expect(plan('openai', 'gpt-4.1')).toMatchObject({ routeName: 'default', candidates: [{ model: 'gpt-4.1' }] });
    expect(plan('openai', 'gpt-4.1').candidates[0]?.target.providerName).toBe('oa');
    expect(plan('anthropic', 'x', 'claude').routeName).toBe('claude');
  });

  it('splices nested routes into the chain and applies match rules and the cost strategy', () => {
    expect(plan('anthropic', 'smart').candidates.map((c) => c.model)).toEqual(['claude-sonnet-4-6', 'gpt-4o-mini']);
    expect(plan('openai', 'anything', undefined, () => ({ ...small(), hasTools: true }), 'agent').routeName).toBe('tools');
    expect(plan('openai', 'anything', undefined, () => ({ ...small(), hasTools: true }), 'chat').routeName).toBe('default');
    const costly = plan('openai', 'anything', undefined, () => ({ ...small(), inputTokens: 5000 }));
    expect(costly.routeName).toBe('big');
    expect(costly.candidates.map((c) => c.model)).toEqual(['gpt-4.1-mini', 'gpt-4o']);
  });

  it('rejects unknown routes with a stable code', () => {
    expect(() => plan('openai', 'x', 'nope')).toThrow(expect.objectContaining({ code: 'LLM_SIDECAR_UNKNOWN_ROUTE' }));
    expect(() => new Router(parseConfig({})).plan('openai', 'x', undefined, small)).toThrow(expect.objectContaining({ code: 'LLM_SIDECAR_NO_PROVIDER', status: 404 }));
  });
});

describe('error shapes', () => {
  const err = new SidecarError('LLM_SIDECAR_UPSTREAM_UNREACHABLE', 'provider "x" is unreachable');
  it('uses each API’s own error shape', () => {
    expect(errorBody('openai', err)).toEqual({ error: { message: 'provider "x" is unreachable', type: 'server_error', param: null, code: 'LLM_SIDECAR_UPSTREAM_UNREACHABLE' } });
    expect(errorBody('anthropic', err)).toEqual({ type: 'error', error: { type: 'api_error', message: 'provider "x" is unreachable' } });
    expect(err).toMatchObject({ status: 502, retryable: true });
    expect(errorEvent('anthropic', err)).toMatch(/^event: error\ndata: \{"type":"error"/);
  });
});
