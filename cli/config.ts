// The configuration as every command loads it: the shared schema, plus the sections a component
// owns and validates with its own schema (today the evaluator's `evaluation.evaluators`), so the
// proxy refuses a file whose evaluator section is wrong as surely as the evaluator does.
import { loadConfig, type SectionCheck } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { checkEvaluatorsSection } from '../evaluator/config.ts';

export const SECTION_CHECKS: readonly SectionCheck[] = [checkEvaluatorsSection];

export function loadProductConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ config: Config; source: string }> {
  return loadConfig(file, env, SECTION_CHECKS);
}
