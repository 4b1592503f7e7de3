// The configuration as every command loads it: one schema (shared/config/schema.ts), the
// evaluator's `evaluation.evaluators` section included (shared/config/evaluators-schema.ts), so the
// proxy refuses a file whose evaluator section is wrong as surely as the evaluator does.
import { loadConfig } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';

export function loadProductConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ config: Config; source: string }> {
  return loadConfig(file, env);
}
