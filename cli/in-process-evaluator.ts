// With the embedded store (the laptop default) one process holds the data directory, so the
// `proxy` command runs the evaluator in its own process when `evaluation.evaluators` lists any
// (as `demo` does): scores land beside the calls with no second service. With a ClickHouse server
// the evaluator is its own service (`llm-sidecar evaluator`, deploy/), and this stays off.
import { serviceLogger } from '../shared/log.ts';
import type { Config } from '../shared/config/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { loadPriceTable } from '../shared/pricing/price-table.ts';
import { evaluatorsOf } from '../evaluator/main.ts';
import { parseEvaluatorsConfig } from '../evaluator/config.ts';
import { startEvaluator, type RunningEvaluator } from '../evaluator/service.ts';

/** True when the proxy should score in its own process: embedded store and evaluators listed and enabled. */
export function scoresInProcess(config: Config): boolean {
  if (config.telemetry.clickhouse.mode !== 'embedded') return false;
  const raw = evaluatorsOf(config);
  if (raw === undefined) return false;
  const evaluators = parseEvaluatorsConfig(raw);
  return evaluators.enabled && evaluators.list.length > 0;
}

/**
 * Starts the evaluator on the proxy's store once its schema is in place (the proxy migrates in
 * the background); resolves to the running evaluator, or undefined when not configured. The
 * caller logs a start failure and keeps serving traffic (traffic comes first).
 */
export async function startInProcessEvaluator(
  config: Config,
  store: ClickHouseStore | undefined,
  migrated: Promise<void>,
  log: (m: string) => void = (m) => serviceLogger('llm-sidecar-evaluator').info(m),
): Promise<RunningEvaluator | undefined> {
  if (!store || !scoresInProcess(config)) return undefined;
  await migrated;
  return startEvaluator({
    store,
    config: evaluatorsOf(config),
    database: config.telemetry.clickhouse.database,
    prices: loadPriceTable(config.pricing.models, undefined, { genaiPrices: config.pricing.genaiPrices }),
    log: (level, m) => log(level === 'info' ? m : `${level}: ${m}`),
  });
}
