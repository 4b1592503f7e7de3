// `llm-sidecar demo`: the product end to end on a laptop, with no keys and no network. A simulated
// provider (the same fake the tests and the benchmark use) sits behind a real sidecar; the official
// OpenAI and Anthropic SDKs send a mix of traffic through it; the calls the sidecar measured are
// printed. (The SDKs and the fake provider are development dependencies: the demo needs `npm ci`.)
import type { CallRecord } from '../proxy/call-record.ts';
import { startSidecar } from '../proxy/main.ts';
import { parseConfig } from '../shared/config/load.ts';

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

function fmtUsd(cost: string | undefined): string {
  if (cost === undefined) return 'unknown';
  return `$${Number(cost).toFixed(6)}`;
}

export async function runDemo(opts: { requests?: number }): Promise<number> {
  const rounds = Math.max(1, Math.min(opts.requests ?? 1, 50));
  const { startFakeProvider } = await import('../test/fake-provider/server.ts');
  const { default: OpenAI } = await import('openai');
  const { default: Anthropic } = await import('@anthropic-ai/sdk');

  const fake = await startFakeProvider();
  const records: CallRecord[] = [];
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    providers: { openai: { type: 'openai', baseUrl: `${fake.url}/v1` }, anthropic: { type: 'anthropic', baseUrl: fake.url } },
    routes: { fast: { models: ['fast'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  });
  const sidecar = await startSidecar(config, { recorders: [{ record: (c) => records.push(c) }] });
  process.stdout.write(`llm-sidecar demo: simulated provider at ${fake.url}, sidecar at ${sidecar.url} (admin ${sidecar.adminUrl})\n\n`);

  const openai = new OpenAI({ baseURL: `${sidecar.url}/v1`, apiKey: 'sk-demo', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'sk-ant-demo', maxRetries: 0 });
  const headers = (user: string, feature: string) => ({ headers: { 'x-llm-sidecar-tenant': 'demo-co', 'x-llm-sidecar-user': user, 'x-llm-sidecar-feature': feature } });
  const longContext = 'Tide tables for the Atlantic coast. '.repeat(200);

  for (let i = 0; i < rounds; i++) {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Summarise the water cycle in one line' }] }, headers('alice', 'summaries'));
    const stream = await openai.chat.completions.create({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'Stream a short greeting to the demo' }] }, headers('bob', 'chat'));
    for await (const _chunk of stream) {
      // The app sees the provider's chunks; the sidecar reads usage on the side.
    }
    await openai.chat.completions.create({ model: 'o4-mini', messages: [{ role: 'user', content: 'Think, then answer: 17 × 23?' }] }, headers('alice', 'math'));
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['first document', 'second document'] }, headers('carol', 'search'));
    const system = [{ type: 'text' as const, text: longContext, cache_control: { type: 'ephemeral' as const } }];
    await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 200, system, messages: [{ role: 'user', content: 'When is high tide?' }] }, headers('dave', 'tides'));
    await anthropic.messages
      .stream({ model: 'claude-sonnet-4-6', max_tokens: 200, system, messages: [{ role: 'user', content: 'And low tide?' }] }, headers('dave', 'tides'))
      .finalMessage();
    await openai.chat.completions
      .create({ model: 'gpt-4o-fake-error-429', messages: [{ role: 'user', content: 'this one is rate limited' }] }, headers('erin', 'chat'))
      .catch((e: unknown) => process.stdout.write(`  (expected) provider error passed through to the SDK: ${(e as Error).constructor.name} ${(e as { status?: number }).status}\n`));
  }

  // Records are written just after each response: give the last one a tick.
  await new Promise((r) => setTimeout(r, 50));
  await sidecar.close(1_000);
  await fake.close();

  const header = `${pad('api', 10)}${pad('model', 24)}${pad('stream', 7)}${pad('status', 7)}${pad('in', 7)}${pad('cached', 7)}${pad('out', 6)}${pad('cost', 12)}${pad('ttfb ms', 9)}overhead ms`;
  process.stdout.write(`\n${header}\n${'-'.repeat(header.length)}\n`);
  let total = 0n;
  let scale = 0;
  for (const r of records) {
    const u = r.usage;
    process.stdout.write(
      `${pad(r.dialect, 10)}${pad(r.upstreamModel, 24)}${pad(r.stream ? 'yes' : 'no', 7)}${pad(String(r.httpStatus), 7)}${pad(String(u?.inputTokens ?? '-'), 7)}${pad(String(u?.cacheReadTokens ?? '-'), 7)}${pad(String(u?.outputTokens ?? '-'), 6)}${pad(fmtUsd(r.costUsd), 12)}${pad(r.timeToFirstChunkMs?.toFixed(1) ?? '-', 9)}${r.overheadMs.toFixed(3)}\n`,
    );
    if (r.costUsd !== undefined) {
      // Sum exact decimals as integers at a common scale.
      const [int = '0', frac = ''] = r.costUsd.split('.');
      const s = Math.max(scale, frac.length);
      total = total * 10n ** BigInt(s - scale) + BigInt(int + frac.padEnd(s, '0'));
      scale = s;
    }
  }
  const totalStr = scale === 0 ? total.toString() : `${total / 10n ** BigInt(scale)}.${(total % 10n ** BigInt(scale)).toString().padStart(scale, '0')}`;
  const overheads = records.map((r) => r.overheadMs).sort((a, b) => a - b);
  const p50 = overheads[Math.floor(overheads.length / 2)] ?? 0;
  process.stdout.write(`\n${records.length} calls, total spend $${totalStr} at list prices, median sidecar overhead ${p50.toFixed(3)} ms\n`);
  return 0;
}
