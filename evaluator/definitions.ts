// Configured entries → the evaluators the service runs: built-in defaults filled in, service-wide
// defaults (judge, spend cap, concurrency) applied, money turned into exact pico-USD.
import { parsePicoUsd } from '../shared/pricing/cost.ts';
import { BUILTINS, type CheckName } from './builtins.ts';
import type { EvaluatorEntry, EvaluatorsConfig, FiltersConfig, JudgeConfig, OutputConfig } from '../shared/config/evaluators-schema.ts';

interface Common {
  name: string;
  version: string;
  sampleRate: number;
  filters: FiltersConfig;
  concurrency: number;
}

export interface LlmEvaluator extends Common {
  kind: 'llm';
  judge: JudgeConfig;
  rubric: string;
  output: OutputConfig;
  requires: ('system' | 'context')[];
  /** Daily judge spend cap in pico-USD (1e-12 USD); undefined = no cap. */
  dailyCapPico: bigint | undefined;
}

export interface CheckEvaluator extends Common {
  kind: 'check';
  check: CheckName;
}

export type Evaluator = LlmEvaluator | CheckEvaluator;

/** USD (a config number) → pico-USD, exact to the micro-dollar the config can sensibly say. */
export function usdToPico(usd: number): bigint {
  return parsePicoUsd(usd.toFixed(6));
}

export function resolveEvaluator(entry: EvaluatorEntry, service: Pick<EvaluatorsConfig, 'judge' | 'dailySpendCapUsd' | 'concurrency'>): Evaluator {
  const builtin = entry.builtin !== undefined ? BUILTINS[entry.builtin] : undefined;
  const common: Common = {
    name: entry.name ?? builtin?.name ?? 'unnamed',
    version: entry.version ?? builtin?.version ?? '1',
    sampleRate: entry.sampleRate,
    filters: entry.filters,
    concurrency: entry.concurrency ?? service.concurrency,
  };
  if (builtin?.kind === 'check') return { ...common, kind: 'check', check: builtin.check };
  const judge = entry.judge ?? service.judge;
  const rubric = entry.rubric ?? (builtin?.kind === 'llm' ? builtin.rubric : undefined);
  const output = entry.output ?? (builtin?.kind === 'llm' ? builtin.output : undefined);
  if (judge === undefined || rubric === undefined || output === undefined) {
    throw new Error(`evaluator "${common.name}" needs a judge, a rubric and an output (see crossCheckEvaluators)`);
  }
  const cap = entry.dailySpendCapUsd ?? service.dailySpendCapUsd;
  return {
    ...common,
    kind: 'llm',
    judge,
    rubric,
    output,
    requires: entry.requires ?? (builtin?.kind === 'llm' ? builtin.requires : []),
    dailyCapPico: cap !== undefined ? usdToPico(cap) : undefined,
  };
}

export function resolveEvaluators(config: EvaluatorsConfig): Evaluator[] {
  return config.list.map((entry) => resolveEvaluator(entry, config));
}
