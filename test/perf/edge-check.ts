// `node --import tsx test/perf/edge-check.ts`: what the key-safety checks cost per request on the
// hot path — the edge check of the request target, the upstream URL build with its assertion, and
// the key masker on a typical JSON answer (docs/security.md). Prints ns per call.
import { checkRequestTarget } from '../../proxy/request-target.ts';
import { SecretMasker } from '../../proxy/secret-mask.ts';
import { upstreamPath, upstreamUrl } from '../../proxy/upstream.ts';

function time(label: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < n / 10; i++) fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns`);
}

const target = { origin: 'https://api.openai.com', basePath: '/v1' };
const answer = Buffer.from(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(2_000) }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 500 } }));
const masker = new SecretMasker(['sk-proj-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'sk-ant-api03-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb']);

const N = 1_000_000;
time('checkRequestTarget /v1/chat/completions', N, () => checkRequestTarget('/v1/chat/completions'));
time('checkRequestTarget /v1/files/file-%41bc?limit=10', N, () => checkRequestTarget('/v1/files/file-%41bc?limit=10'));
time('upstreamPath (string join, what main did before)', N, () => upstreamPath(target.basePath, '/v1/chat/completions'));
time('upstreamUrl (URL API + assertion, every time)', N, () => upstreamUrl(target, '/v1/chat/completions'));
const pooled = { ...target, paths: new Map<string, string>() };
time('upstreamUrl (as a pool target: built once per path)', N, () => upstreamUrl(pooled, '/v1/chat/completions'));
time(`masker on a ${answer.length}-byte JSON answer, 2 keys, no match`, N / 10, () => masker.maskBuffer(answer));
