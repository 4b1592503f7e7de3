// Loads the one YAML configuration file: parse, interpolate `${ENV}` in string values, validate.
// Every problem is collected with its path, so an invalid file is reported in one go, never as a
// stack trace, and never with the value of a secret in the message.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigSchema, crossCheck, type Config } from './schema.ts';

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  readonly source: string;

  constructor(source: string, problems: ConfigProblem[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.source = source;
    this.problems = problems;
  }
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string value (never in keys), recording missing variables. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, problems: ConfigProblem[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_match, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/**
 * Every `baseUrl` of the file (providers, the cache embedder) in the one form the proxy uses as
 * written: the URL parser accepts `https://user:pass@host/v1`, a query, a fragment, `\\` (read as
 * `/`) and `..` (removed), and the proxy then silently dropped the credentials, the query and the
 * fragment and sent `/tenant-a/../tenant-b/v1` requests to `/tenant-b/v1`. Refused at load
 * instead, naming the part.
 */
function baseUrlProblems(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => baseUrlProblems(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    if (k !== 'baseUrl' || typeof v !== 'string') return baseUrlProblems(v, [...path, k]);
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      return []; // the schema reports it
    }
    const why =
      url.username !== '' || url.password !== ''
        ? 'must not carry credentials (user:password@): configure the key as apiKey'
        : url.search !== '' || url.hash !== '' || /[?#]$/.test(v)
          ? 'must not have a query or a fragment'
          : v.includes('\\')
            ? 'must not contain a backslash (URL parsers disagree on it)'
            : /\/(\.|%2e)(\.|%2e)?(\/|$)/i.test(v.slice(url.protocol.length + 2))
              ? 'must not contain . or .. segments'
              : undefined;
    return why ? [{ path: [...path, k], message: why }] : [];
  });
}

/** Validates an already-parsed object (also used by tests and by the demo, which builds its config in code). */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  const problems: ConfigProblem[] = [];
  const interpolated = interpolateEnv(raw ?? {}, env, problems);
  const result = ConfigSchema.safeParse(interpolated);
  // A variable that is not set already explains why its value is empty: one problem per path.
  const seen = new Set(problems.map((p) => p.path));
  const add = (path: readonly PropertyKey[], message: string): void => {
    const p = formatPath(path);
    if (!seen.has(p)) problems.push({ path: p, message });
  };
  if (!result.success) for (const issue of result.error.issues) add(issue.path, issue.message);
  for (const c of crossCheck(interpolated)) add(c.path, c.message);
  for (const c of baseUrlProblems(interpolated)) add(c.path, c.message);
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  return result.data;
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  return parseConfig(doc.toJS(), source, env);
}

/** Resolves the file from `--config` or LLM_SIDECAR_CONFIG; with neither, the defaults apply. */
export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ config: Config; source: string }> {
  const path = file ?? env.LLM_SIDECAR_CONFIG;
  if (!path) return { config: parseConfig({}, 'defaults', env), source: 'defaults' };
  let text: string;
  try {
    text = await readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(path, [{ path: '', message: reason }]);
  }
  return { config: parseConfigText(text, path, env), source: path };
}

/** A configuration file is a few KiB; 1 MiB is a mistake (a log, a dump), not a config. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads a regular file (symlinks followed: Kubernetes mounts ConfigMaps through them) of at most
 * MAX_CONFIG_BYTES. A FIFO or a device (`--config /dev/zero`, `/dev/stdin`) would block start-up
 * for ever or read until memory runs out: refused before reading, as is an oversized file.
 */
async function readConfigFile(path: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO without a writer must not wait for one.
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ConfigError(path, [{ path: '', message: 'not a regular file (a FIFO, a device or a directory): give the configuration file itself' }]);
    if (stat.size > MAX_CONFIG_BYTES) throw new ConfigError(path, [{ path: '', message: `the file is ${stat.size} bytes; a configuration is at most ${MAX_CONFIG_BYTES}` }]);
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) throw new ConfigError(path, [{ path: '', message: `the file grew past ${MAX_CONFIG_BYTES} bytes while read` }]);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}
