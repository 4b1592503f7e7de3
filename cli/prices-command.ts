// `llm-sidecar prices MODEL`: the price the sidecar will charge a model at, and where it comes from
// (config override, the reviewed prices.json, or genai-prices for models prices.json lacks).
import type { Config } from '../shared/config/schema.ts';
import { GENAI_PRICES_VERSION } from '../shared/pricing/genai-prices.ts';
import { loadPriceTable, type CompiledEntry } from '../shared/pricing/price-table.ts';

function describe(c: CompiledEntry, version: string): string {
  const e = c.entry;
  const source = c.source === 'config' ? 'pricing.models in the config' : c.source === 'prices.json' ? `prices.json (checked ${version})` : `genai-prices ${GENAI_PRICES_VERSION} (bundled data; prices.json has no entry)`;
  const rate = (label: string, v: string | undefined) => (v === undefined ? [] : [`  ${label.padEnd(22)} ${v} USD / 1M tokens`]);
  const lines = [
    `${e.provider} ${e.model}${e.aliases?.length ? ` (aliases: ${e.aliases.join(', ')})` : ''}`,
    `  source                 ${source}`,
    ...rate('input', e.input),
    ...rate('output', e.output),
    ...rate('cache read', e.cacheRead),
    ...rate('cache write (5 min)', e.cacheWrite5m),
    ...rate('cache write (1 h)', e.cacheWrite1h),
  ];
  for (const t of e.tiers ?? []) lines.push(`  above ${t.aboveInputTokens} input tokens: input ${t.input}, output ${t.output}${t.cacheRead ? `, cache read ${t.cacheRead}` : ''}`);
  if (e.contextWindow !== undefined) lines.push(`  context window         ${e.contextWindow} tokens`);
  return `${lines.join('\n')}\n`;
}

export function runPricesCommand(config: Config, args: { model: string | undefined; provider: string | undefined }): number {
  if (!args.model) {
    process.stderr.write('usage: llm-sidecar prices MODEL [--provider openai|anthropic] [--config FILE]\n');
    return 2;
  }
  if (args.provider !== undefined && args.provider !== 'openai' && args.provider !== 'anthropic') {
    process.stderr.write(`llm-sidecar: --provider is openai or anthropic (the API the calls use), not "${args.provider}"\n`);
    return 2;
  }
  const table = loadPriceTable(config.pricing.models, undefined, { genaiPrices: config.pricing.genaiPrices });
  const providers = args.provider ? [args.provider] : (['openai', 'anthropic'] as const);
  let found = 0;
  for (const p of providers) {
    const c = table.find(p, args.model);
    if (!c) continue;
    found++;
    process.stdout.write(describe(c, table.version));
  }
  if (found === 0) {
    process.stdout.write(`${args.model}: no price (calls are recorded with cost "unknown", never 0). Add it under pricing.models.\n`);
    return 1;
  }
  return 0;
}
