// Structured logs for every service, with pino (the Node norm): one JSON line per event on stderr
// with `level`, `time` (ISO 8601), `msg`, the service, and — where a request is involved — its
// `trace_id` and `request_id` (the x-llm-sidecar-request-id the app saw), so a log line, a span and
// an llm_calls row join on the same ids. On a terminal the same events are pretty-printed.
//
// Level: LOG_LEVEL (trace|debug|info|warn|error|fatal|silent) wins over the config's
// `telemetry.logLevel`; default info. Secrets: credential fields are redacted by path wherever they
// appear in a logged object (headers, provider config), and messages never carry a key (messages
// name providers and reasons, as errors do).
//
// stdout stays free for what commands print (reports, `prices`), so logs never mix into them.
//
// pino-pretty is required only when stderr is a terminal: in a pod (stderr a pipe) the process never
// loads it (with its dependencies: ~1.5 MB of RSS beside pino, measured) nor parses its code.
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const REDACT = [
  'apiKey',
  'password',
  'authorization',
  '["x-api-key"]',
  '["api-key"]',
  '*.apiKey',
  '*.password',
  '*.authorization',
  '*["x-api-key"]',
  '*["api-key"]',
  '*.*.apiKey',
  '*.*.password',
  '*.*.authorization',
  '*.*["x-api-key"]',
  '*.*["api-key"]',
];

let sink: ((line: string) => void) | undefined;

/** Where JSON lines go: stderr, or a test's capture. Pretty-printed instead when stderr is a terminal. */
const stream: pino.DestinationStream =
  process.stderr.isTTY && process.env.LOG_FORMAT !== 'json'
    ? (createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty)({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : { write: (line: string) => (sink ? sink(line) : process.stderr.write(line)) };

function envLevel(): LogLevel | undefined {
  const v = process.env.LOG_LEVEL?.trim().toLowerCase();
  return v !== undefined && (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

const root: Logger = pino(
  {
    level: envLevel() ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
  },
  stream,
);

/** The proxy's logger (service `llm-sidecar`). */
export const logger: Logger = root.child({ service: 'llm-sidecar' });

/** The config's level, unless LOG_LEVEL says otherwise. */
export function setLogLevel(configured: LogLevel | undefined): void {
  root.level = envLevel() ?? configured ?? 'info';
  logger.level = root.level;
}

/** A logger for another service of the product (the evaluator), at the current level. */
export function serviceLogger(service: string): Logger {
  const child = root.child({ service });
  child.level = root.level;
  return child;
}

/** A logger for one request: every line carries its trace and request ids. */
export function requestLogger(ids: { requestId: string; traceId?: string }): Logger {
  return logger.child({ request_id: ids.requestId, ...(ids.traceId ? { trace_id: ids.traceId } : {}) });
}

/** Tests: collect the JSON lines instead of writing them to stderr. */
export function captureLogs(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const previous = sink;
  sink = (line) => void lines.push(line);
  return {
    lines,
    restore: () => {
      sink = previous;
    },
  };
}
