// The request pipeline (proxy/pipeline/) attacked at its seams: clients that leave while a stage
// waits, cache scopes an app can slip out of, budget reservations under faults. Each case names the
// attack and the outcome the sidecar must keep; a controllable upstream (held answers, scripted
// statuses, a count of calls) stands in for the provider.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CacheStore } from '../../proxy/cache/store.ts';
import type { ActualUsage } from '../../proxy/budget/enforcer.ts';
import type { BudgetGate } from '../../proxy/pipeline/budget.ts';
import type { PipelineEnv } from '../../proxy/pipeline/context.ts';
import type { Config } from '../../shared/config/schema.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';
import { startStack, type Stack } from '../stack.ts';
import { until } from '../support/wait.ts';

interface Held {
  body: string;
  headers: IncomingMessage['headers'];
  answer(status: number, json: unknown, headers?: Record<string, string>): void;
}

/** An OpenAI-shaped upstream whose answers the test releases one by one. */
interface ScriptedUpstream {
  url: string;
  calls: Held[];
  /** Answer immediately with this instead of holding (undefined: hold). */
  auto: ((body: string) => { status: number; json: unknown; headers?: Record<string, string> }) | undefined;
  close(): Promise<void>;
}

const completion = (text: string, model = 'gpt-4o') => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});

async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const up: ScriptedUpstream = {
    url: '',
    calls: [],
    auto: undefined,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
        if (res.destroyed) return;
        const text = JSON.stringify(json);
        res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      up.calls.push({ body, headers: req.headers, answer });
      const auto = up.auto?.(body);
      if (auto) answer(auto.status, auto.json, auto.headers);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

let upstream: ScriptedUpstream;
let stack: Stack;
/** Users whose reservation was asked for; the reservation of `heldUser` waits for `reserveGate` (a slow budget backend). */
const reserving = new Set<string>();
let heldUser = '';
let reserveGate: Promise<void> = Promise.resolve();
/** How each user's reservations ended. */
const settled = new Map<string, ({ commit: ActualUsage } | 'release')[]>();
/** Cache keys looked up, in order (the store's get, wrapped): a request is past its lookup once its key is here. */
const lookups: string[] = [];

/** Open connections to the sidecar's traffic port. */
function sidecarConnections(): Promise<number> {
  return new Promise((resolve, reject) => stack.sidecar.proxy.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** A request written on its own socket, left open: the test destroys the socket to leave. */
async function rawPost(body: string, headers: Record<string, string>): Promise<Socket> {
  const socket = connect(Number(new URL(stack.sidecar.url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);
  return socket;
}

function pipelineEnv(): PipelineEnv {
  return (stack.sidecar.proxy as unknown as { env: PipelineEnv }).env;
}

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  stack = await startStack(() => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-hostile-pipeline-key' },
      // The app's own key is forwarded to this one: the cache scope includes that key.
      byok: { type: 'openai', baseUrl: `${upstream.url}/byok/v1` },
    },
    cache: { mode: 'all', ttlSeconds: 60, coalesce: true },
    budgets: { tiers: { t: { userDailyTokens: 10_000_000 } }, defaultTier: 't' },
    routes: {
      chat: { models: ['gpt-4o'], targets: [{ provider: 'openai' }], retry: { maxRetries: 0 } },
      byok: { models: ['gpt-byok'], targets: [{ provider: 'byok' }], retry: { maxRetries: 0 } },
      retried: { models: ['retried'], targets: [{ provider: 'openai', model: 'gpt-4o' }], retry: { maxRetries: 1, on: ['5xx'], baseMs: 1, maxMs: 1 } },
      stale: { models: ['stale-then-leave'], targets: [{ provider: 'openai', model: 'gpt-4o' }], retry: { maxRetries: 0 }, cache: { ttlSeconds: 1 } },
      fb: { models: ['primary-or-fallback'], targets: [{ provider: 'openai', model: 'gpt-4o' }, { provider: 'openai', model: 'gpt-4o-mini' }], retry: { maxRetries: 0 } },
      strong: { models: ['strong-direct'], targets: [{ provider: 'openai', model: 'gpt-4o' }], retry: { maxRetries: 0 } },
      mini: { models: ['mini-direct'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }], retry: { maxRetries: 0 } },
      cascade: { models: ['cheap-first'], strategy: 'cascade', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'openai', model: 'gpt-4o' }], retry: { maxRetries: 0 } },
    },
  }));
  // Every reservation's end, by user: committed (with what) or released.
  const enforcer = (pipelineEnv().budgets as BudgetGate).enforcer;
  const reserve = enforcer.reserve.bind(enforcer);
  enforcer.reserve = async (req) => {
    reserving.add(req.user);
    if (req.user === heldUser) await reserveGate;
    const r = await reserve(req);
    if (r.rejected) return r;
    const ends = settled.get(req.user) ?? [];
    settled.set(req.user, ends);
    return {
      ...r,
      rejected: false,
      enforced: r.enforced,
      tokens: r.tokens,
      usdMicros: r.usdMicros,
      commit: (actual) => (ends.push({ commit: actual }), r.commit(actual)),
      release: (now) => (ends.push('release'), r.release(now)),
    };
  };
  const store = pipelineEnv().cacheStore as CacheStore;
  const get = store.get.bind(store);
  store.get = (key) => {
    lookups.push(key);
    return get(key);
  };
});

afterAll(async () => {
  await stack?.close();
  await upstream?.close();
});

afterEach(() => {
  upstream.auto = undefined;
});

const chat = (content: string) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] });

function post(body: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return request(`${stack.sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal });
}

describe('a client that leaves while a stage waits', () => {
  it('a single-flight follower whose client left does not call the provider when the leader fails, and is recorded as a client abort', async () => {
    const body = chat('follower leaves');
    const callsBefore = upstream.calls.length;
    // The leader reaches the provider and is held there.
    const leader = post(body, { 'x-request-id': 'sf-leader', 'x-llm-sidecar-user': 'sf-leader' });
    await until('the leader reached the provider', () => upstream.calls.length === callsBefore + 1);
    // The follower waits on the leader's key; its client leaves while it waits.
    const lookupsBefore = lookups.length;
    const connectionsBefore = await sidecarConnections();
    const follower = await rawPost(body, { 'x-request-id': 'sf-follower', 'x-llm-sidecar-user': 'sf-follower' });
    await until('the follower looked the cache up (then waits on the leader)', () => lookups.length > lookupsBefore);
    follower.destroy();
    await until('the sidecar saw the follower leave', async () => (await sidecarConnections()) === connectionsBefore);
    // The leader fails (not cacheable): the follower would now call the provider itself.
    const fail = { status: 500, json: { error: { message: 'boom', type: 'server_error' } } };
    upstream.auto = () => fail;
    upstream.calls[callsBefore]?.answer(fail.status, fail.json);
    const leaderRes = await leader;
    await leaderRes.body.text();
    const rec = await stack.recorder.byRequestId('sf-follower');
    expect(rec).toMatchObject({ httpStatus: 499, clientAborted: true, attempts: 0 });
    expect(upstream.calls.length).toBe(callsBefore + 1);
    // Its budget reservation is given back, once; the leader's is committed.
    await until('both reservations ended', () => settled.get('sf-follower')?.length && settled.get('sf-leader')?.length);
    expect(settled.get('sf-follower')).toEqual(['release']);
    expect(settled.get('sf-leader')).toEqual([{ commit: expect.objectContaining({ tokens: 0 }) }]);
  });

  it('a client that leaves while its budget reservation is in flight: no provider call, the reservation given back, a 499', async () => {
    let open!: () => void;
    reserveGate = new Promise<void>((r) => (open = r));
    heldUser = 'leaves-in-budget';
    const callsBefore = upstream.calls.length;
    const connectionsBefore = await sidecarConnections();
    const client = await rawPost(chat('budget is slow'), { 'x-request-id': 'leaves-in-budget', 'x-llm-sidecar-user': 'leaves-in-budget' });
    await until('the reservation was asked for', () => reserving.has('leaves-in-budget'));
    client.destroy();
    await until('the sidecar saw the client leave', async () => (await sidecarConnections()) === connectionsBefore);
    open();
    const rec = await stack.recorder.byRequestId('leaves-in-budget');
    expect(rec).toMatchObject({ httpStatus: 499, clientAborted: true, attempts: 0, decision: 'client left before cache read' });
    await until('the reservation ended', () => settled.get('leaves-in-budget')?.length);
    expect(settled.get('leaves-in-budget')).toEqual(['release']);
    expect(upstream.calls.length).toBe(callsBefore);
  });

  it('a client that leaves while the stale fallback is looked up is recorded as a client abort (not as an answer nobody received)', async () => {
    const store = pipelineEnv().cacheStore as CacheStore;
    const getStale = store.getStale.bind(store);
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    let asked = 0;
    store.getStale = async (key, ms) => {
      asked++;
      await open;
      return getStale(key, ms);
    };
    try {
      upstream.auto = () => ({ status: 500, json: { error: { message: 'down', type: 'server_error' } } });
      const connectionsBefore = await sidecarConnections();
      const client = await rawPost(JSON.stringify({ model: 'stale-then-leave', messages: [{ role: 'user', content: 'stale' }] }), { 'x-request-id': 'stale-leaves' });
      await until('the sidecar looks for a stale entry', () => asked > 0);
      client.destroy();
      await until('the sidecar saw the client leave', async () => (await sidecarConnections()) === connectionsBefore);
      opened();
      const rec = await stack.recorder.byRequestId('stale-leaves');
      expect(rec).toMatchObject({ httpStatus: 499, clientAborted: true, errorType: 'client_aborted', attempts: 1 });
    } finally {
      store.getStale = getStale;
      opened();
    }
  });

  it('a single-flight follower whose client left while the leader answered is not recorded as a cache hit it never received', async () => {
    const body = chat('follower leaves, leader answers');
    const callsBefore = upstream.calls.length;
    const leader = post(body, { 'x-request-id': 'sf-leader-2' });
    await until('the leader reached the provider', () => upstream.calls.length === callsBefore + 1);
    const lookupsBefore = lookups.length;
    const connectionsBefore = await sidecarConnections();
    const follower = await rawPost(body, { 'x-request-id': 'sf-follower-2' });
    await until('the follower looked the cache up (then waits on the leader)', () => lookups.length > lookupsBefore);
    follower.destroy();
    await until('the sidecar saw the follower leave', async () => (await sidecarConnections()) === connectionsBefore);
    upstream.calls[callsBefore]?.answer(200, completion('the answer'));
    expect((await leader).statusCode).toBe(200);
    const rec = await stack.recorder.byRequestId('sf-follower-2');
    expect(rec).toMatchObject({ httpStatus: 499, clientAborted: true, attempts: 0, decision: 'client left before call' });
    expect(upstream.calls.length).toBe(callsBefore + 1);
  });
});

describe('the cache scope of a forwarded app key', () => {
  const ask = async (auth: Record<string, string>, content: string) => {
    const res = await post(JSON.stringify({ model: 'gpt-byok', messages: [{ role: 'user', content }] }), auth);
    await res.body.text();
    return { status: res.statusCode, cache: res.headers['x-llm-sidecar-cache'] };
  };

  it('an entry made with one app key is never served to another key, whatever the case of the auth scheme', async () => {
    upstream.auto = () => ({ status: 200, json: completion('for key A only') });
    // The auth scheme is case-insensitive (RFC 9110 §11.1): the provider accepts `bearer` as it does `Bearer`.
    expect(await ask({ authorization: 'bearer sk-app-key-A-0123456789' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'miss' });
    expect(await ask({ authorization: 'bearer sk-app-key-A-0123456789' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'hit' });
    // Another key, or none at all: never the entry made with key A.
    expect(await ask({ authorization: 'bearer sk-app-key-C-0123456789' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'miss' });
    expect(await ask({}, 'scoped 1')).toMatchObject({ status: 200, cache: 'miss' });
    expect(await ask({ authorization: 'Bearer sk-app-key-B-0123456789' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'miss' });
    // The same key with the scheme written either way is the same scope.
    expect(await ask({ authorization: 'Bearer sk-app-key-A-0123456789' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'hit' });
    expect(await ask({ authorization: 'Basic dXNlcjpwYXNz' }, 'scoped 1')).toMatchObject({ status: 200, cache: 'miss' });
  });

  it('a second credential header is part of the scope: an entry made with api-key A is not served to api-key B behind the same authorization', async () => {
    upstream.auto = () => ({ status: 200, json: completion('for the pair') });
    expect(await ask({ authorization: 'Bearer sk-shared-0123456789', 'api-key': 'azure-key-A-0123456789' }, 'scoped 2')).toMatchObject({ status: 200, cache: 'miss' });
    expect(await ask({ authorization: 'Bearer sk-shared-0123456789', 'api-key': 'azure-key-A-0123456789' }, 'scoped 2')).toMatchObject({ status: 200, cache: 'hit' });
    expect(await ask({ authorization: 'Bearer sk-shared-0123456789', 'api-key': 'azure-key-B-0123456789' }, 'scoped 2')).toMatchObject({ status: 200, cache: 'miss' });
    expect(await ask({ 'api-key': 'azure-key-A-0123456789' }, 'scoped 2')).toMatchObject({ status: 200, cache: 'miss' });
  });
});

describe('what an escalated cascade costs', () => {
  it('the cheap answer the cascade rejected was paid for: it is in the call\'s cost', async () => {
    upstream.auto = (body) => {
      const model = (JSON.parse(body) as { model: string }).model;
      return { status: 200, json: completion(model === 'gpt-4o-mini' ? "I'm sorry, I can't help with that." : 'Here it is.', model) };
    };
    const res = await post(JSON.stringify({ model: 'cheap-first', messages: [{ role: 'user', content: 'escalate me' }] }), { 'x-request-id': 'cascade-cost', 'x-llm-sidecar-user': 'cascade' });
    expect(await res.body.text()).toContain('Here it is.');
    const rec = await stack.recorder.byRequestId('cascade-cost');
    expect(rec.attempts).toBe(2);
    const usage = { inputTokens: 5, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
    const price = pipelineEnv().price;
    const cheap = Number(price('openai', 'gpt-4o-mini', { ...ZERO_USAGE, ...usage }));
    const strong = Number(price('openai', 'gpt-4o', { ...ZERO_USAGE, ...usage }));
    expect(strong).toBeGreaterThan(0);
    expect(Number(rec.costUsd)).toBeCloseTo(cheap + strong, 12);
    // The app is told the same cost as the record says.
    expect(res.headers['x-llm-sidecar-cost-usd']).toBe(rec.costUsd);
    // The budget is charged both answers' tokens and cost.
    await until('the reservation ended', () => settled.get('cascade')?.length);
    expect(settled.get('cascade')).toEqual([{ commit: { tokens: 14, usd: rec.costUsd } }]);
  });
});

describe('a hot reload while a request is in flight', () => {
  it('a retry after the reload still goes out (on the pools the request started with) and answers', async () => {
    const callsBefore = upstream.calls.length;
    const pending = post(JSON.stringify({ model: 'retried', messages: [{ role: 'user', content: 'reload under me' }] }), { 'x-request-id': 'reload-retry', 'x-llm-sidecar-user': 'reload-retry' });
    await until('the first attempt reached the provider', () => upstream.calls.length === callsBefore + 1);
    const before = (stack.sidecar.proxy as unknown as { config: Config }).config;
    const oldPool = pipelineEnv().call.pools.get('openai').pool;
    stack.sidecar.reload({ ...before, evaluation: { ...before.evaluation, sampleRate: before.evaluation.sampleRate === 0 ? 0.5 : 0 } });
    upstream.auto = () => ({ status: 200, json: completion('after the reload') });
    upstream.calls[callsBefore]?.answer(500, { error: { message: 'try again', type: 'server_error' } });
    const res = await pending;
    const text = await res.body.text();
    const rec = await stack.recorder.byRequestId('reload-retry');
    expect({ status: res.statusCode, code: res.headers['x-llm-sidecar-error'], attempts: rec.attempts }).toEqual({ status: 200, code: undefined, attempts: 2 });
    expect(text).toContain('after the reload');
    // The pools the request started with close once it ended (not before, not never).
    expect(pipelineEnv().call.pools.get('openai').pool).not.toBe(oldPool);
    await until('the previous pools are closed', () => oldPool.closed);
    // Two attempts, one reservation, committed once with the answer's usage.
    await until('the reservation ended', () => settled.get('reload-retry')?.length);
    expect(settled.get('reload-retry')).toEqual([{ commit: expect.objectContaining({ tokens: 7 }) }]);
  });
});

describe('whose answer a cache entry holds', () => {
  const ask = async (model: string, content: string) => {
    const res = await post(JSON.stringify({ model, messages: [{ role: 'user', content }] }));
    const body = (await res.body.json()) as { model: string };
    return { cache: res.headers['x-llm-sidecar-cache'], model: body.model };
  };

  it('a fallback target\'s answer is not served later as the primary\'s (same route, or a route straight to the primary)', async () => {
    let primaryDown = true;
    upstream.auto = (body) => {
      const model = (JSON.parse(body) as { model: string }).model;
      if (model === 'gpt-4o' && primaryDown) return { status: 500, json: { error: { message: 'down', type: 'server_error' } } };
      return { status: 200, json: completion(`answered by ${model}`, model) };
    };
    expect(await ask('primary-or-fallback', 'while the primary is down')).toEqual({ cache: 'miss', model: 'gpt-4o-mini' });
    primaryDown = false;
    // The primary is back: its own answer, not the fallback's kept under the primary's key.
    expect(await ask('primary-or-fallback', 'while the primary is down')).toEqual({ cache: 'miss', model: 'gpt-4o' });
    expect(await ask('primary-or-fallback', 'while the primary is down')).toEqual({ cache: 'hit', model: 'gpt-4o' });
    primaryDown = true;
    expect(await ask('primary-or-fallback', 'down again')).toEqual({ cache: 'miss', model: 'gpt-4o-mini' });
    expect(await ask('strong-direct', 'down again')).not.toEqual({ cache: 'hit', model: 'gpt-4o-mini' });
    // The fallback's answer is the fallback model's own: a route straight to it may use it.
    expect(await ask('mini-direct', 'down again')).toEqual({ cache: 'hit', model: 'gpt-4o-mini' });
  });

  it('a cascade\'s escalated answer is not served to a route that asks the cheap model itself', async () => {
    upstream.auto = (body) => {
      const model = (JSON.parse(body) as { model: string }).model;
      return { status: 200, json: completion(model === 'gpt-4o-mini' ? "I'm sorry, I can't help with that." : 'Here it is.', model) };
    };
    expect(await ask('cheap-first', 'cascade then direct')).toEqual({ cache: 'miss', model: 'gpt-4o' });
    // The same cascade again: served from the cache (no second escalation).
    expect(await ask('cheap-first', 'cascade then direct')).toEqual({ cache: 'hit', model: 'gpt-4o' });
    expect(await ask('mini-direct', 'cascade then direct')).toEqual({ cache: 'miss', model: 'gpt-4o-mini' });
  });

  it('a cache hit gives its budget reservation back, once', async () => {
    upstream.auto = () => ({ status: 200, json: completion('cached for the budget test') });
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hit and budget' }] });
    for (const user of ['hit-first', 'hit-second']) {
      const res = await post(body, { 'x-llm-sidecar-user': user });
      await res.body.text();
      expect(res.headers['x-llm-sidecar-cache']).toBe(user === 'hit-first' ? 'miss' : 'hit');
    }
    await until('both reservations ended', () => settled.get('hit-first')?.length && settled.get('hit-second')?.length);
    expect(settled.get('hit-first')).toEqual([{ commit: expect.objectContaining({ tokens: 7 }) }]);
    expect(settled.get('hit-second')).toEqual(['release']);
  });
});

describe('headers a provider sends', () => {
  it('a provider cannot pass its error off as the sidecar\'s: x-llm-sidecar-* headers from upstream never reach the app', async () => {
    upstream.auto = () => ({
      status: 429,
      json: { error: { message: 'slow down', type: 'rate_limit_error' } },
      headers: { 'x-llm-sidecar-error': 'LLM_SIDECAR_BUDGET_EXCEEDED', 'x-llm-sidecar-cost-usd': '999', 'retry-after': '1' },
    });
    const res = await post(chat('provider 429 dressed as the sidecar'));
    await res.body.text();
    expect(res.statusCode).toBe(429);
    expect(res.headers['x-llm-sidecar-error']).toBeUndefined();
    expect(res.headers['x-llm-sidecar-cost-usd']).not.toBe('999');
    expect(res.headers['retry-after']).toBe('1');
  });
});
