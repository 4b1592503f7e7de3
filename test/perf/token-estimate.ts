// `node --import tsx test/perf/token-estimate.ts`: cost of token estimation on the hot path
// (only paid by routes with token match rules or the cost strategy). Prints µs per request.
import { requestFeatures } from '../../proxy/token-estimate.ts';

const sentence = 'The quick brown fox jumps over the lazy dog while the tide comes in over the sand. ';
function body(chars: number, turns: number) {
  const per = Math.max(1, Math.floor(chars / turns / sentence.length));
  return {
    model: 'gpt-4o',
    messages: Array.from({ length: turns }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: sentence.repeat(per) })),
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
  };
}

for (const [label, chars, turns] of [
  ['short chat (500 chars)', 500, 2],
  ['medium (5k chars)', 5_000, 8],
  ['long (50k chars)', 50_000, 20],
  ['very long (400k chars, approximated)', 400_000, 40],
] as const) {
  const b = body(chars, turns);
  for (const dialect of ['openai', 'anthropic'] as const) {
    for (let i = 0; i < 20; i++) requestFeatures(dialect, b); // warm-up
    const n = chars > 100_000 ? 50 : 500;
    const t0 = process.hrtime.bigint();
    let tokens = 0;
    for (let i = 0; i < n; i++) tokens = requestFeatures(dialect, b).inputTokens;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(`${label.padEnd(38)} ${dialect.padEnd(10)} ${String(tokens).padStart(7)} tokens  ${us.toFixed(1).padStart(8)} µs`);
  }
}
