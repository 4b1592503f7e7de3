// The command-line entry points the CLI wires up:
//   llm-sidecar evaluator --config FILE                       → runEvaluatorCommand(config)
//   llm-sidecar evaluator calibrate --labels F --evaluator N  → runCalibrateCommand(config, …)
// Same configuration file as the proxy: telemetry.clickhouse says where the calls are,
// evaluation.evaluators what to score, pricing.models the judge prices, admin where /healthz,
// /readyz and /metrics listen.
import { serviceLogger, setLogLevel } from '../shared/log.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { migrate } from '../shared/clickhouse/migrate.ts';
import { ClickHouseSpanExporter } from '../shared/clickhouse/span-exporter.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import type { Config } from '../shared/config/schema.ts';
import { loadPriceTable } from '../shared/pricing/price-table.ts';
import { AdminServer } from '../shared/admin-server.ts';
import { openStore } from '../shared/clickhouse/open-store.ts';
import { createTracing, type Tracing } from '../shared/telemetry/tracing.ts';
import { runCalibration, type CalibrationResult } from './calibrate.ts';
import { EvaluatorConfigError, parseEvaluatorsConfig } from './config.ts';
import { renderMetrics } from './metrics.ts';
import { startEvaluator, type RunningEvaluator } from './service.ts';
import { createOtlpExporter, resolveOtlp } from '../shared/telemetry/otel-env.ts';

export { runCalibration } from './calibrate.ts';
export { recordFeedback } from './feedback.ts';
export { startEvaluator } from './service.ts';

const say = (message: string): void => serviceLogger('llm-sidecar-evaluator').info(message);
/** Why the command stops (exit 2): plain text for the person who ran it, not a log line. */
const fatal = (message: string): void => void process.stderr.write(`llm-sidecar evaluator: ${message}\n`);

/** `evaluation.evaluators` of a loaded config (the key the lead mounts EvaluatorsSchema under). */
export function evaluatorsOf(config: Config): unknown {
  return (config.evaluation as unknown as { evaluators?: unknown }).evaluators;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function openConfiguredStore(config: Config): Promise<ClickHouseStore | undefined> {
  const c = config.telemetry.clickhouse;
  const store = await openStore(c);
  if (store && c.migrate) await migrate(store, { database: c.database, ttlDays: c.ttlDays, contentTtlDays: c.contentTtlDays, cluster: c.cluster });
  return store;
}

/**
 * Runs the evaluator until SIGTERM/SIGINT (or `options.stop` resolves); returns the exit code (0
 * stopped cleanly, 2 bad configuration). A ClickHouse server that is not reachable yet is waited
 * for (readiness stays false meanwhile). With the embedded store the data directory must not be
 * held by a proxy process: run the evaluator in the proxy's process (startEvaluator with its
 * store) or use a ClickHouse server.
 */
export async function runEvaluatorCommand(config: Config, options: { stop?: Promise<unknown> } = {}): Promise<number> {
  setLogLevel(config.telemetry.logLevel);
  let evaluators;
  try {
    evaluators = parseEvaluatorsConfig(evaluatorsOf(config));
  } catch (err) {
    if (err instanceof EvaluatorConfigError) {
      fatal(err.message);
      return 2;
    }
    throw err;
  }
  const c = config.telemetry.clickhouse;
  if (c.mode === 'off') {
    fatal('telemetry.clickhouse.mode is "off": the evaluator reads calls from ClickHouse and writes scores there; configure a store');
    return 2;
  }
  // Opened before the admin port: on a laptop, a proxy holding the embedded data directory (and
  // admin port 4001) is the likely reason this fails, and the answer is a setting, not a port.
  let store: ClickHouseStore | undefined;
  if (evaluators.enabled && evaluators.list.length > 0) {
    try {
      store = (await openStore(c)) as ClickHouseStore;
    } catch (err) {
      // chdb reports the lock as "Failed to create connection for path …" (its "Cannot lock file"
      // line goes to stderr natively), which the store does not recognise as a lock: match both.
      if (c.mode === 'embedded' && /in use by another process|Cannot lock file|Failed to create connection for path/.test((err as Error).message)) {
        fatal(`${heldDataDirMessage(c.dataDir)} (${(err as Error).message})`);
        return 2;
      }
      throw err;
    }
  }
  let running: RunningEvaluator | undefined;
  const admin = new AdminServer(config.admin.host, config.admin.port, {
    ready: () => running !== undefined || !evaluators.enabled || evaluators.list.length === 0,
    metrics: () => (running ? renderMetrics(running.stats()) : ''),
  });
  let address;
  try {
    address = await admin.listen();
  } catch (err) {
    await store?.close();
    throw err;
  }
  say(`admin on http://${address.address}:${address.port} (/healthz, /readyz, /metrics)`);
  let stopped = false;
  const stopSignal = (options.stop ?? waitForSignal()).then((signal) => {
    stopped = true;
    return signal;
  });
  try {
    if (!store) {
      say(evaluators.enabled ? 'no evaluators configured (evaluation.evaluators.list): idle' : 'evaluation.evaluators.enabled is false: idle');
      await stopSignal;
      return 0;
    }
    let tracing: Tracing | undefined;
    try {
      if (evaluators.emitEvents) tracing = await eventTracing(config, store);
      for (let delay = 1_000; running === undefined && !stopped; delay = Math.min(delay * 2, 30_000)) {
        try {
          if (c.migrate) await migrate(store, { database: c.database, ttlDays: c.ttlDays, contentTtlDays: c.contentTtlDays, cluster: c.cluster });
          running = await startEvaluator({ store, config: evaluators, database: c.database, prices: loadPriceTable(config.pricing.models, undefined, { genaiPrices: config.pricing.genaiPrices }), tracer: tracing?.tracer, log: (level, m) => serviceLogger('llm-sidecar-evaluator')[level](m) });
        } catch (err) {
          say(`cannot start yet, retrying in ${delay / 1000} s: ${(err as Error).message}`);
          await Promise.race([stopSignal, new Promise((r) => setTimeout(r, delay).unref())]);
        }
      }
      const signal = await stopSignal;
      say(`${typeof signal === 'string' ? signal : 'stop'} received: finishing the current page`);
      await running?.stop();
      return 0;
    } finally {
      await tracing?.shutdown().catch(() => undefined);
      await store.close();
    }
  } finally {
    await admin.close();
    say('stopped');
  }
}

/** What to do when the embedded data directory is held by another process (most often the proxy). */
export function heldDataDirMessage(dataDir: string): string {
  return (
    `the embedded store's data directory ${dataDir} is held by another process, most likely a running \`llm-sidecar proxy\` (one process per data directory). ` +
    'With the embedded store the proxy scores in its own process: put this evaluation.evaluators section in the proxy\'s configuration and restart the proxy, ' +
    'instead of running a separate evaluator. To run the evaluator as its own service, point both at a ClickHouse server (telemetry.clickhouse.url).'
  );
}

/** Tracing for the gen_ai.evaluation.result events: the same store (own spool directory) and OTLP when configured. */
async function eventTracing(config: Config, store: ClickHouseStore): Promise<Tracing> {
  const t = config.telemetry;
  // Its own spool directory: one exporter per directory, and a proxy may share this disk.
  const exporters: SpanExporter[] = [new ClickHouseSpanExporter({ store, database: t.clickhouse.database, spoolDir: `${t.spool.dir}/evaluator`, spoolMaxBytes: t.spool.maxBytes })];
  const otlp = resolveOtlp(t.otlp);
  if (otlp) exporters.push(await createOtlpExporter(otlp));
  return createTracing({ serviceName: 'llm-sidecar-evaluator', exporters });
}

export function formatCalibration(r: CalibrationResult): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  const num = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
  const metrics = r.outputType === 'scale' ? `exact ${pct(r.accuracy)}, Spearman ${num(r.spearman)}, MAE ${num(r.mae)}` : `accuracy ${pct(r.accuracy)}, Cohen's kappa ${num(r.kappa)}`;
  return `${r.evaluator}@${r.version} (judge ${r.judgeModel || 'none'}) on ${r.labelsFile} [${r.labelsHash}]: ${r.judged}/${r.examples} judged, ${r.errors} errors; ${metrics}; judge cost ${r.judgeCostUsd ?? 'unknown'} USD`;
}

/** `llm-sidecar evaluator calibrate`: runs the labelled set, stores the agreement, prints it. */
export async function runCalibrateCommand(config: Config, args: { labelsFile: string; evaluator: string }): Promise<number> {
  const store = await openConfiguredStore(config);
  try {
    const r = await runCalibration({ labelsFile: args.labelsFile, evaluator: args.evaluator, evaluators: evaluatorsOf(config), store, database: config.telemetry.clickhouse.database, prices: loadPriceTable(config.pricing.models, undefined, { genaiPrices: config.pricing.genaiPrices }) });
    process.stdout.write(`${formatCalibration(r)}\n`);
    return 0;
  } catch (err) {
    fatal(`calibration failed: ${(err as Error).message}`);
    return err instanceof EvaluatorConfigError ? 2 : 1;
  } finally {
    await store?.close();
  }
}
