// The evaluator's reading of its configuration: `evaluation.evaluators` validated on its own (the
// service, the in-process evaluator and calibration take the section raw or already parsed) with
// every problem reported at once, and the replica index resolved from the pod name. The section's
// schema is shared/config/evaluators-schema.ts, which the config schema composes: a file loaded by
// any command has already passed the same checks.
import { hostname } from 'node:os';
import { EvaluatorsSchema, type EvaluatorsConfig } from '../shared/config/evaluators-schema.ts';

export class EvaluatorConfigError extends Error {
  override readonly name = 'EvaluatorConfigError';
  constructor(readonly problems: { path: string; message: string }[]) {
    super(`invalid evaluation.evaluators:\n${problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
  }
}

/** Validates `evaluation.evaluators` (fields and cross-references) and reports every problem at once. */
export function parseEvaluatorsConfig(raw: unknown): EvaluatorsConfig {
  const parsed = EvaluatorsSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new EvaluatorConfigError(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  return parsed.data;
}

/** This replica's index: a number, or the pod ordinal (`evaluator-2` → 2) for `ordinal`. */
export function replicaIndex(replicas: EvaluatorsConfig['replicas'], env: NodeJS.ProcessEnv = process.env): number {
  if (typeof replicas.index === 'number') return replicas.index;
  const name = env.POD_NAME || env.HOSTNAME || hostname();
  const m = /-(\d+)$/.exec(name);
  if (!m) throw new Error(`evaluation.evaluators.replicas.index is "ordinal" but the pod name "${name}" does not end in -<number> (use a StatefulSet, or set the index)`);
  const index = Number(m[1]);
  if (index >= replicas.count) throw new Error(`replica ordinal ${index} (from "${name}") is not below replicas.count ${replicas.count}`);
  return index;
}
