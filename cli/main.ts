// `llm-sidecar <command>`: the one command line for every part of the product.
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config/load.ts';
import { OtelEnvError } from '../shared/telemetry/otel-env.ts';
import { loadProductConfig } from './config.ts';

const USAGE = `Usage: llm-sidecar <command> [options]

Commands:
  proxy       Run the sidecar proxy (default command)
  demo        Run the whole product in one process against a simulated provider, then print a report
  evaluator   Run the evaluation service: LLM-as-judge on sampled calls, scores into ClickHouse
  report      Summarise the dashboards' key figures from the store (last 24 h and 7 days); --weekly: quality digest
  feedback    Send a user's feedback on a call to a running sidecar (POST /llm-sidecar/v1/feedback)
  migrate     Apply the ClickHouse schema (numbered, idempotent migrations) and exit
  prices      Show the price the sidecar charges a model at, and where it comes from

Options:
  -c, --config FILE   Configuration file (YAML); default: $LLM_SIDECAR_CONFIG, else built-in defaults
  -h, --help          Show help for a command
`;

const HELP: Record<string, string> = {
  proxy: `Usage: llm-sidecar proxy [--config FILE]

Runs the transparent LLM proxy. Apps point their SDK at it:
  OpenAI SDK:     baseURL http://127.0.0.1:4000/v1
  Anthropic SDK:  baseURL http://127.0.0.1:4000
Traffic listens on listen.host:listen.port (default 127.0.0.1:4000); /healthz, /readyz and /metrics
on admin.host:admin.port (default 0.0.0.0:4001). SIGTERM/SIGINT drain in-flight requests, then exit 0.
`,
  evaluator: `Usage: llm-sidecar evaluator [--config FILE]
       llm-sidecar evaluator calibrate --config FILE --labels labels.jsonl --evaluator NAME[@VERSION]

Scores the calls the proxy sampled (evaluation.sampleRate) with the evaluators of
evaluation.evaluators, and writes one row per call × evaluator × version to llm_evaluations.
Runs until SIGTERM/SIGINT; /healthz, /readyz and /metrics on admin.port. "calibrate" measures a
judge's agreement with human labels (JSONL of {input, output, context?, label}) and stores it.
`,
  migrate: `Usage: llm-sidecar migrate [--config FILE]

Applies the ClickHouse schema to the store of telemetry.clickhouse (embedded by default, or the
server at telemetry.clickhouse.url): otel_traces in the collector's layout, llm_calls and its
materialized view, per-minute rollups, llm_evaluations, llm_feedback. Safe to run again: applied
migrations are recorded in schema_migrations. The proxy also runs it at start unless
telemetry.clickhouse.migrate is false.
`,
  feedback: `Usage: llm-sidecar feedback (--request-id ID | --trace-id ID) --name NAME --value VALUE
                            [--user USER] [--comment TEXT] [--url URL | --config FILE]

Sends end-user feedback on a call to the running sidecar, which stores it in llm_feedback beside the
call (the Quality dashboard shows it next to the judges' scores). The call is named by the
x-llm-sidecar-request-id its response carried, or its trace id. VALUE is a whole number −100..100
(thumbs: --value=-1 or --value 1; stars 1–5) or a label (wrong-order). Sending the same call, name
and user again replaces the earlier value. --url defaults to the listen address of the config
(http://127.0.0.1:4000). Exit 0 stored, 1 refused or unreachable, 2 bad arguments.
`,
  prices: `Usage: llm-sidecar prices MODEL [--provider openai|anthropic] [--config FILE]

Prints the effective price of MODEL (USD per million tokens: input, output, cache reads and writes,
long-context tiers) and its source: pricing.models in the config, the shipped prices.json, or the
bundled genai-prices table for models prices.json lacks (pricing.genaiPrices: false turns it off).
Dated snapshots resolve to their model (gpt-4o-2024-08-06 → gpt-4o). Exit 1 when it has no price.
`,
  report: `Usage: llm-sidecar report [--config FILE] [--weekly [--format text|markdown|json]]

Prints the dashboards' key figures (last 24 h and 7 days) from the configured store. --weekly prints
the quality digest instead: per evaluator × feature × model, this week's mean score against last
week's with the counts, the change and a significance flag (two-proportion test for pass/fail
scores, Mann-Whitney U for scales; p < 0.05 with at least 5 scores a week), biggest drops first.
--format markdown pastes into a team channel; json is for scripts. With the embedded store, run it
while no proxy holds the data directory.
`,
  demo: `Usage: llm-sidecar demo [--requests ROUNDS]

Runs the whole product on this machine with no keys and no network: a simulated OpenAI/Anthropic
provider with realistic latency, the sidecar in front of it storing telemetry in the embedded
ClickHouse (./.llm-sidecar), and the official SDKs driving traffic through it — several features
and tenants, streaming and not, JSON extraction on a cascade route, a provider outage that trips a
circuit breaker and falls back across providers. Prints a report from ClickHouse at the end.
ROUNDS defaults to 30 (about 250 calls from the apps; about 300 with the judge's).
`,
};

function fail(message: string): number {
  process.stderr.write(`llm-sidecar: ${message}\n`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const explicit = argv[0] !== undefined && !argv[0].startsWith('-');
  const command = explicit ? (argv[0] as string) : 'proxy';
  const rest = explicit ? argv.slice(1) : argv;
  let values: {
    config?: string;
    help?: boolean;
    requests?: string;
    labels?: string;
    evaluator?: string;
    url?: string;
    'request-id'?: string;
    'trace-id'?: string;
    name?: string;
    value?: string;
    comment?: string;
    user?: string;
    provider?: string;
    weekly?: boolean;
    format?: string;
  };
  let positionals: string[] = [];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        requests: { type: 'string' },
        labels: { type: 'string' },
        evaluator: { type: 'string' },
        url: { type: 'string' },
        'request-id': { type: 'string' },
        'trace-id': { type: 'string' },
        name: { type: 'string' },
        value: { type: 'string' },
        comment: { type: 'string' },
        user: { type: 'string' },
        provider: { type: 'string' },
        weekly: { type: 'boolean' },
        format: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (command === 'help' || (values.help && (!explicit || !(command in HELP)))) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.help) {
    process.stdout.write(HELP[command] ?? USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'proxy': {
        const { runProxy } = await import('./proxy-command.ts');
        const { config, source } = await loadProductConfig(values.config);
        return await runProxy(config, source);
      }
      case 'demo': {
        const { runDemo } = await import('./demo-command.ts');
        return await runDemo({ requests: values.requests ? Number(values.requests) : undefined });
      }
      case 'migrate': {
        const { runMigrate } = await import('./migrate-command.ts');
        const { config } = await loadProductConfig(values.config);
        return await runMigrate(config);
      }
      case 'prices': {
        const { runPricesCommand } = await import('./prices-command.ts');
        const { config } = await loadProductConfig(values.config);
        return runPricesCommand(config, { model: positionals[0], provider: values.provider });
      }
      case 'report': {
        const { runReportCommand } = await import('./report-command.ts');
        const { config } = await loadProductConfig(values.config);
        return await runReportCommand(config, { weekly: values.weekly ?? false, format: values.format });
      }
      case 'feedback': {
        const { runFeedbackCommand } = await import('./feedback-command.ts');
        let url = values.url;
        if (url === undefined) {
          const { config } = await loadProductConfig(values.config);
          const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
          url = `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
        }
        return await runFeedbackCommand({
          url,
          requestId: values['request-id'],
          traceId: values['trace-id'],
          name: values.name,
          value: values.value,
          comment: values.comment,
          user: values.user,
        });
      }
      case 'evaluator': {
        const { runCalibrateCommand, runEvaluatorCommand } = await import('../evaluator/main.ts');
        const { config } = await loadProductConfig(values.config);
        if (positionals[0] === 'calibrate') {
          if (!values.labels || !values.evaluator) return fail('usage: llm-sidecar evaluator calibrate --config FILE --labels labels.jsonl --evaluator NAME[@VERSION]');
          return await runCalibrateCommand(config, { labelsFile: values.labels, evaluator: values.evaluator });
        }
        if (positionals.length > 0) return fail(`unknown evaluator subcommand "${positionals[0]}" (try: calibrate)`);
        return await runEvaluatorCommand(config);
      }
      default:
        return fail(`unknown command "${command}"\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    if (err instanceof OtelEnvError) return fail(`invalid OpenTelemetry environment: ${err.message}`);
    if (err instanceof Error && err.message.startsWith('the embedded ClickHouse')) {
      // chdb reports a directory another process holds as "Failed to create connection for path …"
      // (its "Cannot lock file" line goes to stderr natively): the fix is to stop that process, not
      // to configure a server, which is what the generic message suggests.
      const cause = err.cause instanceof Error ? err.cause.message : err.message;
      if (/in use by another process|Cannot lock file|Failed to create connection for path/.test(cause)) {
        return fail(
          `the embedded ClickHouse cannot open its data directory, most likely because another process holds it (one process per directory: a running \`llm-sidecar proxy\` or \`demo\`). ` +
            `Stop that process and run this again, or use a ClickHouse server (telemetry.clickhouse.url). (${cause})`,
        );
      }
      return fail(err.message);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') return fail(`cannot listen: address already in use (${e.message.replace(/^listen EADDRINUSE: address already in use /, '')})`);
    if (e.code === 'EACCES') return fail(`cannot listen: permission denied (${e.message})`);
    throw err;
  }
}
