// Starting the bench's own processes the same way everywhere (npm run bench and the side benches:
// cache hits, budgets): the fake provider, and a `llm-sidecar proxy` on 127.0.0.1 at free ports with
// its config file and on-disk state in one directory, ready when its /readyz says so.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { REPO_ROOT, freePort, indent, spawnNode, type Child } from './children.ts';

const READY_TIMEOUT_MS = 15_000;

/** The fake provider (OpenAI and Anthropic wire formats, 0 ms unless a request asks otherwise). */
export async function startFakeProvider(): Promise<{ child: Child; origin: string; port: number }> {
  const child = spawnNode('fake-provider', ['--import', 'tsx', 'simulator/main.ts', '--port', '0']);
  const m = await child.waitForOutput(/fake-provider listening on (http:\/\/\S+:(\d+))/, 15_000);
  return { child, origin: m[1] as string, port: Number(m[2]) };
}

/**
 * `config` is the YAML after `listen` and `admin` (providers, telemetry, …). It is written to
 * `dir/sidecar.yaml` (a new temp directory by default), and `dir` is the sidecar's working
 * directory: its default on-disk state (./.llm-sidecar: embedded ClickHouse, spool) lands there and
 * never collides with another sidecar. A sidecar that does not get ready is stopped.
 */
export async function startSidecar(
  name: string,
  config: string,
  opts: { dir?: string; drainMs?: number; readyTimeoutMs?: number; /** Node's own flags, e.g. --cpu-prof (profile.ts). */ nodeArgs?: string[] } = {},
): Promise<{ child: Child; origin: string; dir: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'llm-sidecar-bench-'));
  const configFile = join(dir, 'sidecar.yaml');
  writeFileSync(configFile, [`listen: { host: 127.0.0.1, port: ${port} }`, `admin: { host: 127.0.0.1, port: ${adminPort} }`, config, ''].join('\n'));
  // A short drain, so that stopping it does not hold the run up.
  const child = spawnNode(name, [...(opts.nodeArgs ?? []), join(REPO_ROOT, 'bin/llm-sidecar'), 'proxy', '--config', configFile], { cwd: dir, env: { LLM_SIDECAR_DRAIN_MS: String(opts.drainMs ?? 500) } });
  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeoutMs;
  let gaveUp = false;
  const ready = async (): Promise<void> => {
    while (!gaveUp) {
      try {
        const res = await request(`http://127.0.0.1:${adminPort}/readyz`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`${name}: not ready (GET /readyz on admin port ${adminPort} ≠ 200) within ${readyTimeoutMs / 1000} s\noutput:\n${indent(child.tail())}`);
      }
      await sleep(100);
    }
  };
  try {
    await Promise.race([ready(), child.exited]);
  } catch (err) {
    await child.stop(500);
    throw err;
  } finally {
    gaveUp = true;
  }
  return { child, origin: `http://127.0.0.1:${port}`, dir };
}
