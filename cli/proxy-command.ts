// `llm-sidecar proxy`: run until SIGTERM/SIGINT, then drain and exit 0.
import { logger } from '../shared/log.ts';
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Config } from '../shared/config/schema.ts';
import { ConfigError } from '../shared/config/load.ts';
import { loadProductConfig } from './config.ts';
import { startSidecar, type RunningSidecar } from '../proxy/main.ts';
import { scoresInProcess, startInProcessEvaluator } from './in-process-evaluator.ts';
import type { RunningEvaluator } from '../evaluator/service.ts';

/** Re-read the config file; a bad file is refused with its reasons and the running config stays. */
async function reload(sidecar: RunningSidecar, source: string, why: string): Promise<void> {
  try {
    const { config } = await loadProductConfig(source);
    sidecar.reload(config);
    logger.info({ source, why }, `configuration reloaded from ${source} (${why})`);
  } catch (err) {
    const reason = err instanceof ConfigError ? err.message : (err as Error).message;
    logger.error({ source, why, reason }, `configuration NOT reloaded (${why}), keeping the running one: ${reason}`);
  }
}

const DRAIN_GRACE_MS = Number(process.env.LLM_SIDECAR_DRAIN_MS ?? 25_000);

export async function runProxy(config: Config, source: string): Promise<number> {
  const sidecar = await startSidecar(config);
  // Embedded store + evaluation.evaluators: the evaluator runs here (one process per data directory).
  // Started once the schema is in place; a stop before that stops it as soon as it starts.
  let evaluator: RunningEvaluator | undefined;
  let stopping = false;
  void (async () => {
    try {
      const ev = await startInProcessEvaluator(config, sidecar.telemetry.store, sidecar.telemetry.migrated);
      if (stopping) await ev?.stop();
      else evaluator = ev;
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'the in-process evaluator did not start (the proxy keeps serving; no scores until a restart)');
    }
  })();
  if (sidecar.clickhouseServe) logger.info(`read-only ClickHouse endpoint for Grafana on ${sidecar.clickhouseServe.url} (telemetry.clickhouse.serve)`);
  if (scoresInProcess(config)) logger.info('scoring sampled calls in this process (embedded store, evaluation.evaluators configured)');
  const providers = Object.entries(config.providers).map(([name, p]) => `${name}(${p.type})`).join(', ') || 'none';
  logger.info({ url: sidecar.url, admin: sidecar.adminUrl, config: source, providers }, `proxy listening on ${sidecar.url} (admin ${sidecar.adminUrl}); config ${source}; providers: ${providers}`);
  const fromFile = source !== 'defaults';
  const onHup = (): void => {
    if (fromFile) void reload(sidecar, source, 'SIGHUP');
  };
  process.on('SIGHUP', onHup);
  // Kubernetes updates a mounted ConfigMap by swapping a symlink in its directory: watch the
  // directory (a watch on the file itself would stay on the old inode) and debounce.
  let timer: NodeJS.Timeout | undefined;
  const watcher = fromFile
    ? watch(dirname(source), (_event, name) => {
        // Only the file itself, or Kubernetes' `..data` symlink swap; not its neighbours.
        if (name !== null && name !== basename(source) && name !== '..data') return;
        clearTimeout(timer);
        timer = setTimeout(() => void reload(sidecar, source, 'file changed'), 200);
      })
    : undefined;
  watcher?.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, `${signal} received, draining in-flight requests (up to ${DRAIN_GRACE_MS} ms)`);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.off('SIGHUP', onHup);
  watcher?.close();
  clearTimeout(timer);
  // Judge calls in flight are aborted (those calls are scored after the next start), then traffic drains.
  stopping = true;
  await evaluator?.stop();
  await sidecar.close(DRAIN_GRACE_MS);
  logger.info('stopped');
  return 0;
}
