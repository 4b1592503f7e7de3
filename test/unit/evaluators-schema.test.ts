// `evaluation.evaluators` is part of the config schema (shared/config/evaluators-schema.ts): a bad
// evaluator entry stops every command's load with its full path, the cross-references (judge,
// duplicates, checks without an LLM, replica index) are reported the same way, the parsed config is
// typed with the section's defaults, and the built-in catalog the config checks against is the one
// the evaluator runs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTINS } from '../../evaluator/builtins.ts';
import { parseEvaluatorsConfig } from '../../evaluator/config.ts';
import { BUILTIN_EVALUATORS, BUILTIN_NAMES } from '../../shared/config/evaluators-schema.ts';
import { ConfigError, parseConfig, parseConfigText } from '../../shared/config/load.ts';

const judge = { provider: 'openai', baseUrl: 'http://127.0.0.1:4000/v1', model: 'gpt-4o-mini' };

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw, 'test', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('the configuration was accepted');
}

describe('evaluation.evaluators in the config schema', () => {
  it('names the full path of a bad field in an evaluator entry, beside problems elsewhere in the file', () => {
    const problems = problemsOf({
      listen: { port: -1 },
      evaluation: { evaluators: { judge, list: [{ builtin: 'helpfulness' }, { name: 'tone', version: '2', rubric: 'Is {{output}} polite?', output: { type: 'scale', min: 5, max: 1 } }, { builtin: 'nonsense' }, { builtin: 'refusal', colour: 'red' }] } },
    });
    expect(problems).toContainEqual(expect.stringMatching(/^listen\.port: /));
    expect(problems).toContainEqual('evaluation.evaluators.list[1].output.max: max must be greater than min');
    expect(problems).toContainEqual(expect.stringMatching(/^evaluation\.evaluators\.list\[2\]\.builtin: Invalid option: expected one of "helpfulness"\|"faithfulness"\|/));
    expect(problems).toContainEqual(expect.stringMatching(/^evaluation\.evaluators\.list\[3\]: Unrecognized key: "colour"/));
  });

  it('reports the cross-references with their paths: a judge is missing, a name@version twice, a check given an LLM field, the replica index out of range', () => {
    const problems = problemsOf({
      evaluation: { evaluators: { replicas: { count: 2, index: 2 }, list: [{ builtin: 'helpfulness' }, { builtin: 'helpfulness' }, { builtin: 'refusal', judge }] } },
    });
    expect(problems).toEqual([
      'evaluation.evaluators.list[0].judge: "helpfulness" is an LLM judge: set its judge or evaluators.judge',
      'evaluation.evaluators.list[1]: evaluator "helpfulness" version "1" is configured twice (also list[0])',
      'evaluation.evaluators.list[1].judge: "helpfulness" is an LLM judge: set its judge or evaluators.judge',
      'evaluation.evaluators.list[2].judge: "refusal" is a check without an LLM: judge does not apply',
      'evaluation.evaluators.replicas.index: must be below replicas.count (2)',
    ]);
  });

  it('runs the cross-references only once the fields are valid: one problem per cause', () => {
    // The entry's bad sampleRate is the problem; "needs a judge" would be noise on top of it.
    expect(problemsOf({ evaluation: { evaluators: { list: [{ builtin: 'helpfulness', sampleRate: 2 }] } } })).toEqual([expect.stringMatching(/^evaluation\.evaluators\.list\[0\]\.sampleRate: /)]);
  });

  it('parses into the typed section with its defaults; absent stays absent', () => {
    const config = parseConfig({ evaluation: { evaluators: { judge, list: [{ builtin: 'helpfulness' }], replicas: { count: '3', index: '${REPLICA_INDEX}' } } } }, 'test', { REPLICA_INDEX: '2' });
    const evaluators = config.evaluation.evaluators;
    expect(evaluators?.list[0]).toEqual({ builtin: 'helpfulness', sampleRate: 1, filters: {} });
    expect(evaluators?.replicas).toEqual({ count: 3, index: 2 });
    expect(evaluators?.judge?.temperature).toBe(0);
    expect(evaluators?.enabled).toBe(true);
    expect(parseConfig({}, 'test', {}).evaluation.evaluators).toBeUndefined();
  });

  it('the parsed section is accepted again by the evaluator (parseEvaluatorsConfig is idempotent on it)', () => {
    const config = parseConfig({ evaluation: { evaluators: { judge, list: [{ builtin: 'faithfulness' }, { builtin: 'valid_json' }], replicas: { count: 2, index: 'ordinal' } } } }, 'test', {});
    expect(parseEvaluatorsConfig(config.evaluation.evaluators)).toEqual(config.evaluation.evaluators);
  });

  it('accepts the documented example section of evaluator/README.md', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../evaluator/README.md'), 'utf8');
    const block = /```yaml\n(evaluation:\n {2}sampleRate[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const config = parseConfigText(block as string, 'evaluator/README.md', { OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'sk-ant-x' });
    expect(config.evaluation.evaluators?.list.map((e) => e.builtin ?? e.name)).toContain('tone');
  });
});

describe('the built-in catalog', () => {
  it('is the one the evaluator runs: same names, kinds and versions', () => {
    expect(Object.keys(BUILTINS).sort()).toEqual([...BUILTIN_NAMES].sort());
    for (const name of BUILTIN_NAMES) {
      const { kind, version } = BUILTINS[name];
      expect({ name: BUILTINS[name].name, kind, version }, name).toEqual(BUILTIN_EVALUATORS[name]);
    }
  });
});
