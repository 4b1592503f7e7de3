// `llm-sidecar proxy`: run until SIGTERM/SIGINT, then drain and exit 0.
import type { Config } from '../shared/config/schema.ts';
import { startSidecar } from '../proxy/main.ts';

const DRAIN_GRACE_MS = Number(process.env.LLM_SIDECAR_DRAIN_MS ?? 25_000);

export async function runProxy(config: Config, source: string): Promise<number> {
  const sidecar = await startSidecar(config);
  const providers = Object.entries(config.providers).map(([name, p]) => `${name}(${p.type})`).join(', ') || 'none';
  process.stderr.write(
    `llm-sidecar: proxy listening on ${sidecar.url} (admin ${sidecar.adminUrl}); config ${source}; providers: ${providers}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.stderr.write(`llm-sidecar: ${signal} received, draining in-flight requests (up to ${DRAIN_GRACE_MS} ms)\n`);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await sidecar.close(DRAIN_GRACE_MS);
  process.stderr.write('llm-sidecar: stopped\n');
  return 0;
}
