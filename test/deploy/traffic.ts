// Traffic generator of the docker-compose `demo` profile: the official OpenAI and Anthropic SDKs call
// a running sidecar (the compose `proxy` service) on its `demo-openai` / `demo-anthropic` routes,
// which lead to the simulated provider. A mix of JSON and streams, tenants, users and features, a
// cached Anthropic prefix, and a rate-limited call every fifth round, so every dashboard has data.
//
//   node --import tsx test/deploy/traffic.ts --url http://127.0.0.1:4000 [--rounds 300] [--pause-ms 2000]
//
// Bounded: it stops after --rounds rounds (or on SIGTERM/SIGINT) and exits 0 unless no call at all
// succeeded. A failed call is counted, never fatal: errors are part of the traffic.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const QUESTIONS = ['How do I reset my password?', 'Can I get a refund on an annual plan?', 'Why was my card declined?', 'How do I export my invoices?', 'Is there a student discount?'];
const TENANTS = ['acme', 'globex', 'initech'];
const POLICY = 'Refund policy: annual plans are refundable within 30 days of purchase. '.repeat(60);

export interface TrafficResult {
  ok: number;
  failed: number;
}

export async function runTraffic(opts: { url: string; rounds: number; pauseMs: number; log?: (line: string) => void; signal?: AbortSignal }): Promise<TrafficResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const url = opts.url.replace(/\/+$/, '');
  // The sidecar forwards these keys to the fake provider, which accepts any key.
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-demo', maxRetries: 0, timeout: 30_000 });
  const anthropic = new Anthropic({ baseURL: url, apiKey: 'sk-ant-demo', maxRetries: 0, timeout: 30_000 });
  const result: TrafficResult = { ok: 0, failed: 0 };
  const track = (p: Promise<unknown>): Promise<void> =>
    p.then(
      () => void result.ok++,
      () => void result.failed++,
    );

  for (let i = 0; i < opts.rounds && !opts.signal?.aborted; i++) {
    const q = QUESTIONS[i % QUESTIONS.length] as string;
    const meta = { 'x-llm-sidecar-tenant': TENANTS[i % TENANTS.length] as string, 'x-llm-sidecar-user': `user-${(i * 7) % 11}` };
    const oa = (feature: string) => ({ headers: { ...meta, 'x-llm-sidecar-feature': feature, 'x-llm-sidecar-route': 'demo-openai' } });
    const an = (feature: string) => ({ headers: { ...meta, 'x-llm-sidecar-feature': feature, 'x-llm-sidecar-route': 'demo-anthropic' } });
    const calls = [
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }, oa('support-bot')),
      (async () => {
        const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `Explain: ${q}` }] }, oa('support-bot'));
        for await (const _chunk of stream) {
          // An app would render each token as it arrives.
        }
      })(),
      openai.chat.completions.create({ model: 'o4-mini', messages: [{ role: 'user', content: `Think step by step: ${q}` }] }, oa('reasoning')),
      openai.embeddings.create({ model: 'text-embedding-3-small', input: [q] }, oa('search-index')),
      anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 300, messages: [{ role: 'user', content: q }] }, an('doc-search')),
      anthropic.messages
        .stream({ model: 'claude-sonnet-4-6', max_tokens: 300, system: [{ type: 'text', text: POLICY, cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: q }] }, an('policy-qa'))
        .finalMessage(),
    ];
    // The fake provider answers this model name with a 429 in OpenAI's shape.
    if (i % 5 === 4) calls.push(openai.chat.completions.create({ model: 'gpt-4o-mini-fake-error-429', messages: [{ role: 'user', content: q }] }, oa('support-bot')));
    await Promise.all(calls.map(track));
    if ((i + 1) % 10 === 0 || i + 1 === opts.rounds) log(`traffic: ${i + 1}/${opts.rounds} rounds, ${result.ok} calls ok, ${result.failed} failed`);
    if (i + 1 < opts.rounds && opts.pauseMs > 0) await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
  return result;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:4000' }, rounds: { type: 'string', default: '300' }, 'pause-ms': { type: 'string', default: '2000' } } });
  const rounds = Number(values.rounds);
  const pauseMs = Number(values['pause-ms']);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(pauseMs) || pauseMs < 0) {
    process.stderr.write('traffic: --rounds must be an integer ≥ 1 and --pause-ms an integer ≥ 0\n');
    return 2;
  }
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  process.stdout.write(`traffic: ${rounds} rounds against ${values.url} (routes demo-openai, demo-anthropic)\n`);
  const r = await runTraffic({ url: values.url as string, rounds, pauseMs, signal: stop.signal });
  return r.ok > 0 ? 0 : 1;
}

// Run as a script, not when a test imports runTraffic.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
