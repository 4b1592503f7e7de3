// The schema of `evaluation.evaluators`: the evaluator service's judges and checks (the proxy's
// `evaluation` section decides WHICH calls keep their content; this decides how they are scored).
// It lives in shared/ so the config schema composes it: every command (proxy, evaluator, demo,
// report) refuses a bad evaluator entry at load, with its full path, without shared/ importing
// evaluator/. Strict objects like the rest of the config: an unknown key is a typo until proven
// otherwise. The cross-references a field cannot express (an LLM evaluator needs a judge, a
// name@version appears once, the replica index is inside the count) are refinements of the section.
import { z } from 'zod';

/**
 * The evaluators that ship with the product, as the configuration sees them: name, kind (an LLM
 * judge or a check without an LLM) and version. Their rubrics and outputs are in
 * evaluator/builtins.ts, which takes name, kind and version from here: bump the version here when
 * a rubric or output changes (a new version re-scores the backfill window).
 */
export const BUILTIN_EVALUATORS = {
  helpfulness: { name: 'helpfulness', kind: 'llm', version: '1' },
  faithfulness: { name: 'faithfulness', kind: 'llm', version: '1' },
  instruction_following: { name: 'instruction_following', kind: 'llm', version: '1' },
  safety: { name: 'safety', kind: 'llm', version: '1' },
  valid_json: { name: 'valid_json', kind: 'check', version: '1' },
  refusal: { name: 'refusal', kind: 'check', version: '1' },
  completeness: { name: 'completeness', kind: 'check', version: '1' },
  cache_equivalence: { name: 'cache_equivalence', kind: 'llm', version: '1' },
} as const satisfies Record<string, { name: string; kind: 'llm' | 'check'; version: string }>;

export type BuiltinName = keyof typeof BUILTIN_EVALUATORS;
export const BUILTIN_NAMES = Object.keys(BUILTIN_EVALUATORS) as [BuiltinName, ...BuiltinName[]];

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A whole number that may arrive as a string (`${ENV}` interpolation always yields strings). */
const wholeNumber = (min: number) => z.union([z.number(), z.string().regex(/^\d+$/, 'a whole number').transform(Number)]).pipe(z.number().int().min(min));

export const JudgeSchema = z.strictObject({
  /** Which official SDK talks to the judge. */
  provider: z.enum(['openai', 'anthropic']),
  /**
   * As that SDK takes it (`…/v1` for OpenAI). Point it at a sidecar proxy to get the judge's own
   * traces and cost there: every judge request carries `x-llm-sidecar-feature: judge`, which the
   * proxy strips and which keeps judge traffic out of evaluation sampling.
   */
  baseUrl: url,
  /** Absent: OPENAI_API_KEY / ANTHROPIC_API_KEY from the environment, else a placeholder (a proxy that injects its own key). */
  apiKey: z.string().min(1).optional(),
  model: z.string().min(1),
  /** Extra request headers (e.g. `x-llm-sidecar-route`). */
  headers: z.record(z.string(), z.string()).default({}),
  maxOutputTokens: z.number().int().positive().default(1024),
  /** 0 for reproducible verdicts; null omits it (reasoning models accept only their default). */
  temperature: z.number().min(0).max(2).nullable().default(0),
  timeoutMs: z.number().int().positive().default(60_000),
  /** Retries on 429, 5xx and connection errors, with exponential backoff or the server's retry-after. */
  maxRetries: z.number().int().min(0).max(10).default(3),
  /** A longer retry-after than this is not waited for: the call is left for the next pass. */
  maxRetryAfterMs: z.number().int().min(0).default(60_000),
});

const LabelValue = z.number().min(0).max(1);

export const OutputSchema = z.discriminatedUnion('type', [
  /** An integer rating from min to max; stored normalised to 0..1 (min → 0, max → 1). */
  z.strictObject({ type: z.literal('scale'), min: z.number().int(), max: z.number().int() }).refine((o) => o.max > o.min, { message: 'max must be greater than min', path: ['max'] }),
  /** pass → 1, fail → 0. */
  z.strictObject({ type: z.literal('pass_fail') }),
  /** One of these labels, each with the 0..1 value stored for it (higher = better). */
  z.strictObject({ type: z.literal('labels'), labels: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'labels use letters, digits, _ and -'), LabelValue).refine((l) => Object.keys(l).length >= 2, 'at least two labels') }),
]);

const names = z.array(z.string().min(1)).min(1);

export const FiltersSchema = z.strictObject({
  /** Each list, when given, must contain the call's value; `*` matches any run of characters. */
  routes: names.optional(),
  /** Matched against the requested model. */
  models: names.optional(),
  services: names.optional(),
  features: names.optional(),
  /** `x-llm-sidecar-cache` values: `[semantic-hit]` limits a judge to semantic cache hits (cache_equivalence). */
  cacheStatuses: z.array(z.enum(['miss', 'hit', 'semantic-hit', 'stale', 'bypass'])).min(1).optional(),
});

const VARIABLE = /\{\{\s*[#/]?\s*([A-Za-z_]+)\s*\}\}/g;
export const TEMPLATE_VARIABLES = ['input', 'output', 'system', 'context'] as const;

export const EvaluatorSchema = z
  .strictObject({
    /** Stored in llm_evaluations.Evaluator (and gen_ai.evaluation.name). Default: the builtin's name. */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'names use letters, digits, _ . -').optional(),
    /** Stored in EvaluatorVersion: bump it whenever the rubric, output or judge model changes (a new version re-scores the backfill window). */
    version: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'versions use letters, digits, _ . -').optional(),
    /** A shipped evaluator (evaluator/builtins.ts): its rubric, output and requirements are the defaults. */
    builtin: z.enum(BUILTIN_NAMES).optional(),
    /** LLM judges only. Falls back to `evaluators.judge`. */
    judge: JudgeSchema.optional(),
    /** LLM judges only: the instructions, with {{input}}, {{output}}, {{system}}, {{context}} and {{#var}}…{{/var}} sections shown only when var is present. */
    rubric: z.string().min(1).optional(),
    output: OutputSchema.optional(),
    /** Calls missing one of these get a `not_applicable` row instead of a judge call. */
    requires: z.array(z.enum(['system', 'context'])).optional(),
    /** Share (0–1) of the sampled calls this evaluator scores, decided from the trace id (the same calls for every evaluator at the same rate). */
    sampleRate: z.number().min(0).max(1).default(1),
    filters: FiltersSchema.default({}),
    /** LLM judges only: judge spend per UTC day (list prices); then judging pauses until the next day. Default `evaluators.dailySpendCapUsd`. */
    dailySpendCapUsd: z.number().positive().optional(),
    /** Judge calls in flight for this evaluator. Default `evaluators.concurrency`. */
    concurrency: z.number().int().positive().max(64).optional(),
  })
  .superRefine((e, ctx) => {
    if (e.builtin === undefined) {
      if (e.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a custom evaluator needs a name (or use builtin: …)' });
      if (e.rubric === undefined) ctx.addIssue({ code: 'custom', path: ['rubric'], message: 'a custom evaluator needs a rubric' });
      if (e.output === undefined) ctx.addIssue({ code: 'custom', path: ['output'], message: 'a custom evaluator needs an output (scale, pass_fail or labels)' });
    } else if ((e.rubric !== undefined || e.output !== undefined) && e.version === undefined) {
      // Scores of a changed rubric must never mix with the builtin's under the same version.
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'set a version when you change a built-in rubric or output' });
    }
    if (e.rubric !== undefined) {
      for (const m of e.rubric.matchAll(VARIABLE)) {
        const v = m[1] as string;
        if (!(TEMPLATE_VARIABLES as readonly string[]).includes(v)) ctx.addIssue({ code: 'custom', path: ['rubric'], message: `unknown variable {{${v}}} (use ${TEMPLATE_VARIABLES.map((t) => `{{${t}}}`).join(', ')})` });
      }
    }
  });

export const ReplicasSchema = z.strictObject({
  /** How many evaluator replicas split the work (by a hash of the span id). Every replica must say the same. */
  count: wholeNumber(1).default(1),
  /** This replica, 0..count-1; `ordinal`: the trailing number of the pod name (StatefulSet `…-2` → 2). */
  index: z.union([wholeNumber(0), z.literal('ordinal')]).default(0),
});

/** The section's fields, before the cross-references. */
const EvaluatorsFields = z.strictObject({
  /** Off: `llm-sidecar evaluator` starts, says so and idles (health endpoints only). */
  enabled: z.boolean().default(true),
  /** Pause between two passes once a pass found nothing left to do. */
  pollIntervalMs: z.number().int().positive().default(30_000),
  /** Calls read per page (and judged before the page's rows are written). */
  batchSize: z.number().int().positive().max(10_000).default(50),
  /** First start (or a new evaluator version): how far back to score. Keep it within the content TTL (7 days by default). */
  backfillHours: z.number().positive().default(24),
  /** Calls are rescanned this far behind the checkpoint, for spans that land late (long streams, spool replay after an outage). */
  lateArrivalMinutes: z.number().min(0).default(60),
  /** Calls younger than this are left for the next pass (their spans may still be in flight). */
  settleSeconds: z.number().min(0).default(10),
  /** Each read covers at most this much time (bounded scans even with a long backlog). */
  scanWindowMinutes: z.number().positive().default(60),
  replicas: ReplicasSchema.default({ count: 1, index: 0 }),
  /** Default judge of the LLM evaluators. */
  judge: JudgeSchema.optional(),
  /** Default daily judge spend cap (USD, per evaluator version). */
  dailySpendCapUsd: z.number().positive().optional(),
  concurrency: z.number().int().positive().max(64).default(4),
  /** Also emit each result as a `gen_ai.evaluation.result` span event parented to the evaluated span. */
  emitEvents: z.boolean().default(false),
  list: z.array(EvaluatorSchema).default([]),
});

export type JudgeConfig = z.infer<typeof JudgeSchema>;
export type OutputConfig = z.infer<typeof OutputSchema>;
export type FiltersConfig = z.infer<typeof FiltersSchema>;
export type EvaluatorEntry = z.infer<typeof EvaluatorSchema>;
/** An entry as written in the config (before defaults). */
export type EvaluatorEntryInput = z.input<typeof EvaluatorSchema>;

export interface EvaluatorIdentity {
  name: string;
  version: string;
  kind: 'llm' | 'check';
}

/** The name and version an entry's scores are stored under, and whether it needs an LLM. */
export function resolveIdentity(entry: EvaluatorEntry): EvaluatorIdentity {
  const builtin = entry.builtin !== undefined ? BUILTIN_EVALUATORS[entry.builtin] : undefined;
  return {
    name: entry.name ?? builtin?.name ?? 'unnamed',
    version: entry.version ?? builtin?.version ?? '1',
    kind: builtin?.kind ?? 'llm',
  };
}

export interface EvaluatorsProblem {
  /** Relative to `evaluation.evaluators`. */
  path: (string | number)[];
  message: string;
}

function crossReferences(c: z.infer<typeof EvaluatorsFields>): EvaluatorsProblem[] {
  const problems: EvaluatorsProblem[] = [];
  const seen = new Map<string, number>();
  c.list.forEach((entry, i) => {
    const resolved = resolveIdentity(entry);
    const key = `${resolved.name}@${resolved.version}`;
    const first = seen.get(key);
    if (first !== undefined) problems.push({ path: ['list', i], message: `evaluator "${resolved.name}" version "${resolved.version}" is configured twice (also list[${first}])` });
    else seen.set(key, i);
    if (resolved.kind === 'llm' && entry.judge === undefined && c.judge === undefined) {
      problems.push({ path: ['list', i, 'judge'], message: `"${resolved.name}" is an LLM judge: set its judge or evaluators.judge` });
    }
    if (resolved.kind === 'check') {
      for (const field of ['judge', 'rubric', 'output', 'dailySpendCapUsd'] as const) {
        if (entry[field] !== undefined) problems.push({ path: ['list', i, field], message: `"${resolved.name}" is a check without an LLM: ${field} does not apply` });
      }
    }
  });
  if (typeof c.replicas.index === 'number' && c.replicas.index >= c.replicas.count) {
    problems.push({ path: ['replicas', 'index'], message: `must be below replicas.count (${c.replicas.count})` });
  }
  return problems;
}

/**
 * The cross-references alone, on a raw section value (none when its fields are invalid: the schema
 * reports those). The schema below runs the same checks; this is for callers that list them apart.
 */
export function crossCheckEvaluators(raw: unknown): EvaluatorsProblem[] {
  const parsed = EvaluatorsFields.safeParse(raw ?? {});
  return parsed.success ? crossReferences(parsed.data) : [];
}

/**
 * `evaluation.evaluators`, composed into the config schema (shared/config/schema.ts). The
 * cross-references run only once every field is valid (as before: one problem per cause).
 */
export const EvaluatorsSchema = EvaluatorsFields.superRefine(
  (c, ctx) => {
    for (const p of crossReferences(c)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  },
  { when: (payload) => payload.issues.length === 0 },
);

export type EvaluatorsConfig = z.infer<typeof EvaluatorsSchema>;
/** The section as written in the config (before defaults). */
export type EvaluatorsConfigInput = z.input<typeof EvaluatorsSchema>;
