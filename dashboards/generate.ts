// Writes dashboards/generated/{sre,cost,quality}.json, alerts.yaml and datasource.yaml.
//
//   node --import tsx dashboards/generate.ts                 the committed files (database otel, placeholder budgets)
//   node --import tsx dashboards/generate.ts --check         exit 1 when the committed files are stale
//   node --import tsx dashboards/generate.ts --config sidecar.yaml --out /tmp/grafana
//        budgets from the sidecar configuration (budgets.tiers/tenants/defaultTier → tenantMonthlyUsd)
//   --database NAME                    the ClickHouse database (default otel)
//   --default-monthly-budget-usd N     budget of tenants the configuration gives none
//   --quality-drop 0.1 --quality-min-scores 30 --evaluator-stall-seconds 3600   the quality rules' thresholds
//   (the judge spend caps of the quality rules come from --config: evaluation.evaluators)
//   --cache-equivalence-floor 0.95     the semantic cache's watch: a route's cache_equivalence pass rate that fires
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../shared/config/load.ts';
import { PLACEHOLDER_BUDGETS, budgetsFromConfig } from './budgets.ts';
import { buildAll, GENERATED_FILES, type BuildOptions } from './index.ts';
import { DEFAULT_QUALITY_THRESHOLDS, judgeCapsFromConfig } from './quality-alerts.ts';
import { DEFAULT_CACHE_EQUIVALENCE } from './cache-equivalence.ts';

export const GENERATED_DIR = fileURLToPath(new URL('./generated/', import.meta.url));

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      database: { type: 'string' },
      config: { type: 'string' },
      'default-monthly-budget-usd': { type: 'string' },
      'quality-drop': { type: 'string' },
      'quality-min-scores': { type: 'string' },
      'evaluator-stall-seconds': { type: 'string' },
      'cache-equivalence-floor': { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node --import tsx dashboards/generate.ts [--out DIR] [--database NAME] [--config FILE] [--default-monthly-budget-usd N] [--quality-drop 0.1] [--quality-min-scores 30] [--evaluator-stall-seconds 3600] [--cache-equivalence-floor 0.95] [--check]');
    return 0;
  }
  const fallback = values['default-monthly-budget-usd'] !== undefined ? Number(values['default-monthly-budget-usd']) : undefined;
  if (fallback !== undefined && !(Number.isFinite(fallback) && fallback > 0)) {
    console.error('--default-monthly-budget-usd must be a positive number');
    return 2;
  }
  const options: BuildOptions = {};
  const quality = { ...DEFAULT_QUALITY_THRESHOLDS };
  for (const [flag, key, valid] of [
    ['quality-drop', 'drop', (n: number) => n > 0 && n < 1],
    ['quality-min-scores', 'minScores', (n: number) => Number.isInteger(n) && n >= 1],
    ['evaluator-stall-seconds', 'stallSeconds', (n: number) => Number.isInteger(n) && n >= 60],
  ] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!valid(n)) {
      console.error(`--${flag}: ${raw} is out of range (drop: between 0 and 1; min scores: a whole number ≥ 1; stall: whole seconds ≥ 60)`);
      return 2;
    }
    quality[key] = n;
  }
  options.qualityThresholds = quality;
  const floor = values['cache-equivalence-floor'];
  if (floor !== undefined) {
    const n = Number(floor);
    if (!(n > 0 && n <= 1)) {
      console.error(`--cache-equivalence-floor: ${floor} is out of range (a pass rate above 0, at most 1)`);
      return 2;
    }
    options.cacheEquivalence = { ...DEFAULT_CACHE_EQUIVALENCE, floor: n };
  }
  if (values.database) options.database = values.database;
  if (values.config) {
    const { config } = await loadConfig(values.config);
    options.budgets = budgetsFromConfig(config.budgets, fallback);
    options.judgeCaps = judgeCapsFromConfig(config.evaluation.evaluators);
  } else if (fallback !== undefined) {
    options.budgets = { tenants: {}, defaultUsd: fallback };
  } else {
    options.budgets = PLACEHOLDER_BUDGETS;
  }
  const { files } = buildAll(options);
  const out = resolve(values.out ?? GENERATED_DIR);

  if (values.check) {
    const stale: string[] = [];
    for (const name of GENERATED_FILES) {
      const current = await readFile(join(out, name), 'utf8').catch(() => undefined);
      if (current !== files[name]) stale.push(name);
    }
    if (stale.length > 0) {
      console.error(`stale generated files in ${out}: ${stale.join(', ')} — run: node --import tsx dashboards/generate.ts`);
      return 1;
    }
    console.log(`${out}: up to date`);
    return 0;
  }

  await mkdir(out, { recursive: true });
  for (const name of GENERATED_FILES) await writeFile(join(out, name), files[name] as string);
  console.log(`wrote ${GENERATED_FILES.map((f) => join(out, f)).join(', ')}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
