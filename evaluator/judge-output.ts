// The judge's answer format per output type: a JSON schema for the provider (OpenAI json_schema
// response format / Anthropic forced tool input) and the zod schema that validates what came
// back. `explanation` is the FIRST property: models write properties in schema order, so the
// reasoning is produced before the verdict and conditions it (not a justification after the fact).
import { z } from 'zod';
import type { OutputConfig } from '../shared/config/evaluators-schema.ts';
import { wellFormedPrefix } from '../shared/text.ts';

export interface JudgeVerdict {
  /** 0..1, higher is better: what llm_evaluations.ScoreValue and the dashboards use. */
  value: number;
  /** Human-readable result: "4/5", "pass", a label name. */
  label: string;
  explanation: string;
  /** The judge's own answer (the scale point, the verdict, the label), for calibration. */
  raw: number | string;
}

export interface JudgeOutputSpec {
  /** Name of the schema / forced tool. */
  name: string;
  jsonSchema: Record<string, unknown>;
  /** Validates the parsed answer and maps it to a verdict; throws a ZodError when invalid. */
  parse(value: unknown): JudgeVerdict;
}

const EXPLANATION = { type: 'string', description: 'Step-by-step reasoning that leads to the result: brief, specific, citing the answer.' };
const MAX_EXPLANATION_CHARS = 4000;

function objectSchema(key: string, property: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', properties: { explanation: EXPLANATION, [key]: property }, required: ['explanation', key], additionalProperties: false };
}

/** Scale points written as "4/5"; a scale not starting at 0 or 1 also names its range. */
export function scaleLabel(score: number, min: number, max: number): string {
  return min === 0 || min === 1 ? `${score}/${max}` : `${score} (${min} to ${max})`;
}

export function judgeOutputSpec(output: OutputConfig): JudgeOutputSpec {
  // Well-formed and cut whole (a judge may write "\ud800", valid JSON): ClickHouse refuses a row with
  // a lone surrogate, and the pass would retry that page, re-paying the judge, for ever.
  const explanation = z.string().trim().min(1).transform((s) => wellFormedPrefix(s, MAX_EXPLANATION_CHARS));
  switch (output.type) {
    case 'scale': {
      const { min, max } = output;
      const points = Array.from({ length: max - min + 1 }, (_, i) => min + i);
      // An enum of the scale's points: supported by every structured-output mode, unlike minimum/maximum.
      const schema = z.object({ explanation, score: z.number().int().min(min).max(max) });
      return {
        name: 'evaluation',
        jsonSchema: objectSchema('score', { type: 'integer', enum: points, description: `The rating, an integer from ${min} to ${max}.` }),
        parse(value) {
          const v = schema.parse(value);
          return { value: (v.score - min) / (max - min), label: scaleLabel(v.score, min, max), explanation: v.explanation, raw: v.score };
        },
      };
    }
    case 'pass_fail': {
      const schema = z.object({ explanation, verdict: z.enum(['pass', 'fail']) });
      return {
        name: 'evaluation',
        jsonSchema: objectSchema('verdict', { type: 'string', enum: ['pass', 'fail'] }),
        parse(value) {
          const v = schema.parse(value);
          return { value: v.verdict === 'pass' ? 1 : 0, label: v.verdict, explanation: v.explanation, raw: v.verdict };
        },
      };
    }
    case 'labels': {
      const names = Object.keys(output.labels) as [string, ...string[]];
      const schema = z.object({ explanation, label: z.enum(names) });
      return {
        name: 'evaluation',
        jsonSchema: objectSchema('label', { type: 'string', enum: names }),
        parse(value) {
          const v = schema.parse(value);
          return { value: output.labels[v.label] as number, label: v.label, explanation: v.explanation, raw: v.label };
        },
      };
    }
  }
}

/** A one-line reason from a ZodError (which field, what was wrong), for the error row's Explanation. */
export function describeInvalid(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
