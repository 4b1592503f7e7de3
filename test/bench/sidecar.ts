// Starts one `llm-sidecar proxy` for the side benches (cache hits, budgets): its own working
// directory (on-disk state and config file), 127.0.0.1 on free ports, ready when /readyz says so.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { REPO_ROOT, freePort, indent, spawnNode, type Child } from './children.ts';

const READY_TIMEOUT_MS = 15_000;

/** `config` is the YAML after `listen` and `admin` (providers, telemetry, …). */
export async function startSidecar(name: string, config: string): Promise<{ child: Child; origin: string; dir: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'llm-sidecar-side-bench-'));
  const configFile = join(dir, 'sidecar.yaml');
  writeFileSync(configFile, [`listen: { host: 127.0.0.1, port: ${port} }`, `admin: { host: 127.0.0.1, port: ${adminPort} }`, config, ''].join('\n'));
  const child = spawnNode(name, [join(REPO_ROOT, 'bin/llm-sidecar'), 'proxy', '--config', configFile], { cwd: dir, env: { LLM_SIDECAR_DRAIN_MS: '500' } });
  const ready = async (): Promise<void> => {
    for (const deadline = Date.now() + READY_TIMEOUT_MS; ; ) {
      try {
        const res = await request(`http://127.0.0.1:${adminPort}/readyz`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name}: not ready within ${READY_TIMEOUT_MS / 1000} s\noutput:\n${indent(child.tail())}`);
      await sleep(100);
    }
  };
  await Promise.race([ready(), child.exited]);
  return { child, origin: `http://127.0.0.1:${port}`, dir };
}
