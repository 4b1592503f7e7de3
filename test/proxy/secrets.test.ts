// Keys never leave: not in spans, call records, metrics, logs, error bodies or response headers —
// whether the call succeeds, the provider fails, or the provider is unreachable.
import { request } from 'undici';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { captureLogs, setLogLevel } from '../../shared/log.ts';
import { startStack, type Stack } from '../stack.ts';

const APP_KEY = 'sk-app-SECRET-aaaaaaaaaaaaaaaaaaaa';
const CONFIGURED_KEY = 'sk-ant-CONFIGURED-bbbbbbbbbbbbbbbbbb';
let stack: Stack;
const logged: string[] = [];
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  logs = captureLogs();
  setLogLevel('trace'); // every line the sidecar can write, debug included
  for (const level of ['error', 'warn', 'info', 'log'] as const) vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
  stack = await startStack((url) => ({
    providers: {
      openai: { type: 'openai', baseUrl: `${url}/v1` },
      anthropic: { type: 'anthropic', baseUrl: url, apiKey: CONFIGURED_KEY },
      dead: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' },
    },
    routes: { dead: { targets: [{ provider: 'dead' }] } },
    evaluation: { sampleRate: 1 },
  }));
});

afterAll(async () => {
  await stack?.close();
  vi.restoreAllMocks();
  logs.restore();
  setLogLevel('info');
});

it('keys appear nowhere the sidecar writes', async () => {
  const seen: string[] = [];
  const call = async (path: string, body: object, headers: Record<string, string>) => {
    const res = await request(`${stack.sidecar.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    seen.push(JSON.stringify(res.headers), await res.body.text());
  };
  const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  await call('/v1/chat/completions', chat, { authorization: `Bearer ${APP_KEY}` });
  await call('/v1/chat/completions', { ...chat, model: 'gpt-4o-fake-error-401' }, { authorization: `Bearer ${APP_KEY}` });
  await call('/v1/chat/completions', chat, { authorization: `Bearer ${APP_KEY}`, 'x-llm-sidecar-route': 'dead' });
  await call('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': APP_KEY, 'anthropic-version': '2023-06-01' });
  await call('/v1/chat/completions', { model: 'gpt-4o' }, { authorization: `Bearer ${APP_KEY}` });
  await expect.poll(() => stack.recorder.calls.length).toBe(5);
  await stack.sidecar.flush();
  seen.push(JSON.stringify(stack.recorder.calls));
  seen.push(JSON.stringify(stack.spans.getFinishedSpans().map((s) => ({ a: s.attributes, e: s.events, r: s.resource.attributes }))));
  seen.push(await (await request(`${stack.sidecar.adminUrl}/metrics`)).body.text());
  seen.push(...logged, ...logs.lines);
  const all = seen.join('\n');
  expect(all).toContain('unreachable'); // the failures did produce output to search
  expect(all).not.toContain('SECRET');
  expect(all).not.toContain('CONFIGURED');
  // The configured key did reach the provider, and replaced the app's.
  expect(stack.fake.requests.find((r) => r.path === '/v1/messages')?.headers['x-api-key']).toBe(CONFIGURED_KEY);
});
