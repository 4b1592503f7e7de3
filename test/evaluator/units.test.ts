// The evaluator's pure parts, without ClickHouse or a judge: configuration, rubric templates, the
// stored-message parser, the non-LLM checks, the judge answer format, retry decisions, agreement maths.
import { describe, expect, it, vi } from 'vitest';
import { accuracy, cohensKappa, meanAbsoluteError, ranks, spearman } from '../../evaluator/agreement.ts';
import { globToLike } from '../../evaluator/calls.ts';
import { completeness, refusal, validJson } from '../../evaluator/checks.ts';
import { EvaluatorConfigError, parseEvaluatorsConfig, replicaIndex } from '../../evaluator/config.ts';
import { EvaluatorsSchema, crossCheckEvaluators } from '../../shared/config/evaluators-schema.ts';
import { resolveEvaluators, usdToPico } from '../../evaluator/definitions.ts';
import { judgeOutputSpec } from '../../evaluator/judge-output.ts';
import { runEvaluatorCommand } from '../../evaluator/main.ts';
import { exampleContent, parseCallContent, type CallContent } from '../../evaluator/messages.ts';
import { renderMetrics } from '../../evaluator/metrics.ts';
import { JudgeRejectedError, JudgeUnavailableError, classifyFailure, withRetries } from '../../evaluator/retry.ts';
import { renderTemplate } from '../../evaluator/template.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { until } from '../support/wait.ts';

const judge = { provider: 'openai', baseUrl: 'http://127.0.0.1:4000/v1', model: 'gpt-4o-mini' };

describe('configuration', () => {
  it('fills defaults and resolves built-ins', () => {
    const c = parseEvaluatorsConfig({ judge, dailySpendCapUsd: 5, list: [{ builtin: 'helpfulness' }, { builtin: 'valid_json' }, { name: 'tone', version: '3', rubric: 'Is {{output}} polite?', output: { type: 'pass_fail' }, sampleRate: 0.1, concurrency: 2 }] });
    expect(c).toMatchObject({ enabled: true, pollIntervalMs: 30_000, batchSize: 50, backfillHours: 24, lateArrivalMinutes: 60, replicas: { count: 1, index: 0 }, concurrency: 4 });
    const [helpfulness, json, tone] = resolveEvaluators(c);
    expect(helpfulness).toMatchObject({ kind: 'llm', name: 'helpfulness', version: '1', output: { type: 'scale', min: 1, max: 5 }, dailyCapPico: 5_000_000_000_000n, concurrency: 4 });
    expect(json).toMatchObject({ kind: 'check', name: 'valid_json', check: 'valid_json' });
    expect(tone).toMatchObject({ kind: 'llm', name: 'tone', version: '3', sampleRate: 0.1, concurrency: 2, judge: { model: 'gpt-4o-mini', temperature: 0, maxRetries: 3 } });
  });

  it('reports every problem with its path', () => {
    const raw = {
      replicas: { count: 2, index: 2 },
      list: [
        { builtin: 'helpfulness' },
        { builtin: 'helpfulness' },
        { builtin: 'faithfulness', rubric: 'changed {{output}}' },
        { name: 'custom', rubric: 'uses {{answer}}', output: { type: 'scale', min: 5, max: 1 } },
        { builtin: 'refusal', judge },
      ],
    };
    try {
      parseEvaluatorsConfig(raw);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EvaluatorConfigError);
      const problems = (err as EvaluatorConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^list\.2\.version: set a version/),
          expect.stringMatching(/^list\.3\.rubric: unknown variable \{\{answer\}\}/),
          expect.stringMatching(/^list\.3\.output\.max: max must be greater/),
        ]),
      );
    }
    // Cross-checks run on a schema-valid config.
    const cross = crossCheckEvaluators({ replicas: { count: 2, index: 2 }, list: [{ builtin: 'helpfulness' }, { builtin: 'helpfulness' }, { builtin: 'refusal', judge }] });
    expect(cross.map((p) => `${p.path.join('.')}: ${p.message}`)).toEqual([
      'list.0.judge: "helpfulness" is an LLM judge: set its judge or evaluators.judge',
      'list.1: evaluator "helpfulness" version "1" is configured twice (also list[0])',
      'list.1.judge: "helpfulness" is an LLM judge: set its judge or evaluators.judge',
      'list.2.judge: "refusal" is a check without an LLM: judge does not apply',
      'replicas.index: must be below replicas.count (2)',
    ]);
  });

  it('takes replica numbers from environment interpolation (strings) and the pod ordinal', () => {
    const c = EvaluatorsSchema.parse({ replicas: { count: '3', index: 'ordinal' } });
    expect(c.replicas.count).toBe(3);
    expect(replicaIndex(c.replicas, { POD_NAME: 'llm-sidecar-evaluator-2' })).toBe(2);
    expect(() => replicaIndex(c.replicas, { POD_NAME: 'evaluator-7' })).toThrow(/not below replicas.count 3/);
    expect(() => replicaIndex(c.replicas, { POD_NAME: 'evaluator' })).toThrow(/does not end in -<number>/);
    expect(replicaIndex(EvaluatorsSchema.parse({ replicas: { count: 2, index: '1' } }).replicas, {})).toBe(1);
  });

  it('usdToPico is exact', () => {
    expect(usdToPico(0.0004)).toBe(400_000_000n);
    expect(usdToPico(12.5)).toBe(12_500_000_000_000n);
  });

  it('the evaluator command refuses a bad evaluators section with exit code 2', async () => {
    const config = parseConfig({});
    (config.evaluation as unknown as { evaluators: unknown }).evaluators = { list: [{ builtin: 'nope' }] };
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stderr.write;
    try {
      expect(await runEvaluatorCommand(config)).toBe(2);
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toMatch(/invalid evaluation\.evaluators:\n {2}- list\.0\.builtin/);
  });

  it('the evaluator command waits for a ClickHouse server that is not reachable yet, and stops cleanly', async () => {
    const config = parseConfig({ admin: { host: '127.0.0.1', port: 0 }, telemetry: { clickhouse: { url: 'http://127.0.0.1:9' } } });
    (config.evaluation as unknown as { evaluators: unknown }).evaluators = { list: [{ builtin: 'refusal' }] };
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stderr.write;
    try {
      // Stopped once it has said it is waiting for the server, not after a guessed delay.
      let stop!: () => void;
      const command = runEvaluatorCommand(config, { stop: new Promise<void>((r) => (stop = r)) });
      await until('the evaluator says it is waiting for ClickHouse', () => /cannot start yet/.test(writes.join('')), { timeoutMs: 15_000 });
      stop();
      expect(await command).toBe(0);
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toMatch(/cannot start yet, retrying in 1 s: .*127\.0\.0\.1:9/);
    expect(writes.join('')).toMatch(/stopped/);
  });
});

describe('rubric templates', () => {
  it('substitutes variables once and keeps sections only when their variable is present', () => {
    const t = 'A {{input}}\n{{#context}}\nCTX {{context}}\n{{/context}}\nB {{ output }} {{system}}';
    expect(renderTemplate(t, { input: 'q {{output}}', output: 'ans', context: '' })).toBe('A q {{output}}\nB ans (none)');
    expect(renderTemplate(t, { input: 'q', output: 'ans', context: 'doc' })).toBe('A q\nCTX doc\nB ans (none)');
  });
});

describe('stored messages', () => {
  it('renders the conversation, the answer, tool results as context and finish reasons', () => {
    const c = parseCallContent(
      JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
        { role: 'assistant', parts: [{ type: 'tool_call', id: '1', name: 'weather', arguments: '{"city":"Paris"}' }] },
        { role: 'tool', parts: [{ type: 'tool_call_response', id: '1', response: [{ type: 'text', text: '18°C, sunny' }] }] },
        { role: 'user', parts: [{ type: 'text', content: 'And tomorrow?' }] },
      ]),
      JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Sunny again.' }], finish_reason: 'stop' }]),
      JSON.stringify([{ type: 'text', content: 'Be brief.' }]),
    );
    expect(c.input).toBe('[user] Weather in Paris?\n\n[assistant → tool call] weather({"city":"Paris"})\n\n[tool result] 18°C, sunny\n\n[user] And tomorrow?');
    expect(c).toMatchObject({ lastUserText: 'And tomorrow?', output: 'Sunny again.', system: 'Be brief.', context: '18°C, sunny', finishReasons: ['stop'], hasToolCalls: false });
  });

  it('never throws on malformed content, and bounds long texts', () => {
    expect(parseCallContent('not json', '{"a":1}', '[1,null]')).toMatchObject({ input: '', output: '', system: '', finishReasons: [] });
    const long = parseCallContent('[]', JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'x'.repeat(30_000) }] }]), '');
    expect(long.output.length).toBeLessThan(24_100);
    expect(long.output).toMatch(/6000 more characters not shown/);
  });
});

describe('checks without an LLM', () => {
  const call = (over: Partial<CallContent>): CallContent => ({ ...exampleContent({ input: 'hi', output: '' }), ...over });

  it('valid_json: applies only when JSON was asked for (system or latest user message)', () => {
    expect(validJson(call({ outputText: '{"a":1}' }))).toMatchObject({ applicable: false });
    expect(validJson(call({ system: 'Respond with JSON.', outputText: ' {"a":1} ' }))).toMatchObject({ value: 1, label: 'valid' });
    expect(validJson(call({ lastUserText: 'as json please', outputText: '```json\n{"a":1}\n```' }))).toMatchObject({ value: 0, label: 'fenced' });
    expect(validJson(call({ system: 'JSON only', outputText: '{"a":', finishReasons: ['length'] }))).toMatchObject({ value: 0, label: 'invalid', explanation: expect.stringMatching(/token limit/) });
    expect(validJson(call({ system: 'JSON only', outputText: '', hasToolCalls: true }))).toMatchObject({ applicable: false });
  });

  it('refusal: judged on the opening, provider refusals included', () => {
    expect(refusal(call({ outputText: "I'm sorry, but I can't help with that." }))).toMatchObject({ value: 0, label: 'refusal' });
    expect(refusal(call({ outputText: 'I cannot assist with this request.' }))).toMatchObject({ label: 'refusal' });
    expect(refusal(call({ outputText: "I'm sorry to hear that! Here is what you can do: restart the router." }))).toMatchObject({ value: 1, label: 'answered' });
    expect(refusal(call({ outputText: 'Sure. Note that I cannot see your screen, but step 1 is…' }))).toMatchObject({ label: 'answered' });
    expect(refusal(call({ outputText: 'x', finishReasons: ['refusal'] }))).toMatchObject({ label: 'refusal' });
    expect(refusal(call({ outputText: '' }))).toMatchObject({ applicable: false });
  });

  it('completeness: truncated, filtered, empty, complete', () => {
    expect(completeness(call({ outputText: 'Once', finishReasons: ['max_tokens'] }))).toMatchObject({ value: 0, label: 'truncated' });
    expect(completeness(call({ outputText: 'x', finishReasons: ['content_filter'] }))).toMatchObject({ label: 'filtered' });
    expect(completeness(call({ outputText: '  ' }))).toMatchObject({ value: 0, label: 'empty' });
    expect(completeness(call({ outputText: '', hasToolCalls: true, finishReasons: ['tool_calls'] }))).toMatchObject({ value: 1, label: 'complete' });
  });
});

describe('judge answer format', () => {
  it('puts the explanation first and maps each output type to 0..1', () => {
    const scale = judgeOutputSpec({ type: 'scale', min: 1, max: 5 });
    expect(Object.keys(scale.jsonSchema.properties as object)).toEqual(['explanation', 'score']);
    expect(scale.jsonSchema).toMatchObject({ required: ['explanation', 'score'], additionalProperties: false, properties: { score: { type: 'integer', enum: [1, 2, 3, 4, 5] } } });
    expect(scale.parse({ explanation: 'ok', score: 4 })).toEqual({ value: 0.75, label: '4/5', explanation: 'ok', raw: 4 });
    expect(judgeOutputSpec({ type: 'scale', min: -2, max: 2 }).parse({ explanation: 'e', score: 0 })).toMatchObject({ value: 0.5, label: '0 (-2 to 2)' });
    expect(() => scale.parse({ explanation: 'ok', score: 6 })).toThrow();
    expect(() => scale.parse({ explanation: '', score: 3 })).toThrow();
    expect(() => scale.parse({ score: 3 })).toThrow();
    expect(judgeOutputSpec({ type: 'pass_fail' }).parse({ explanation: 'e', verdict: 'fail' })).toMatchObject({ value: 0, label: 'fail' });
    const labels = judgeOutputSpec({ type: 'labels', labels: { good: 1, meh: 0.4, bad: 0 } });
    expect(labels.parse({ explanation: 'e', label: 'meh' })).toMatchObject({ value: 0.4, label: 'meh' });
    expect(() => labels.parse({ explanation: 'e', label: 'great' })).toThrow();
  });
});

describe('judge retries', () => {
  const apiError = (status: number, headers: Record<string, string> = {}) => Object.assign(new Error(`${status}`), { status, headers: new Headers(headers) });

  it('classifies failures', () => {
    expect(classifyFailure(apiError(429, { 'retry-after': '2' }))).toMatchObject({ kind: 'transient', retryAfterMs: 2000 });
    expect(classifyFailure(apiError(503, { 'retry-after-ms': '150' }))).toMatchObject({ kind: 'transient', retryAfterMs: 150 });
    expect(classifyFailure(apiError(401))).toMatchObject({ kind: 'misconfigured' });
    expect(classifyFailure(apiError(400))).toMatchObject({ kind: 'rejected' });
    expect(classifyFailure(new Error('ECONNREFUSED'))).toMatchObject({ kind: 'transient' });
    const aborted = new AbortController();
    aborted.abort();
    expect(classifyFailure(new Error('x'), aborted.signal)).toMatchObject({ kind: 'aborted' });
  });

  it('retries transient failures, then gives up; rejects and misconfigurations are not retried', async () => {
    let n = 0;
    const flaky = () => (++n < 3 ? Promise.reject(apiError(500)) : Promise.resolve('ok'));
    expect(await withRetries(flaky, { maxRetries: 3, maxRetryAfterMs: 1000, baseBackoffMs: 1, maxBackoffMs: 2 })).toBe('ok');
    n = 0;
    await expect(withRetries(() => (++n, Promise.reject(apiError(502))), { maxRetries: 2, maxRetryAfterMs: 1000, baseBackoffMs: 1 })).rejects.toThrow(JudgeUnavailableError);
    expect(n).toBe(3);
    n = 0;
    await expect(withRetries(() => (++n, Promise.reject(apiError(422))), { maxRetries: 2, maxRetryAfterMs: 1000 })).rejects.toThrow(JudgeRejectedError);
    expect(n).toBe(1);
  });

  it('stop() interrupts a backoff wait at once', async () => {
    // A controlled clock that never moves: the run can only end through the abort, not the 30 s timer.
    vi.useFakeTimers();
    try {
      const controller = new AbortController();
      let attempts = 0;
      const run = withRetries(() => (++attempts, Promise.reject(apiError(429, { 'retry-after': '30' }))), { maxRetries: 3, maxRetryAfterMs: 60_000, signal: controller.signal });
      const settled = expect(run).rejects.toMatchObject({ kind: 'aborted' });
      await vi.advanceTimersByTimeAsync(0); // lets the first attempt fail and the backoff start
      expect({ attempts, pendingTimers: vi.getTimerCount() }).toEqual({ attempts: 1, pendingTimers: 1 });
      controller.abort();
      await settled;
      expect({ attempts, pendingTimers: vi.getTimerCount() }).toEqual({ attempts: 1, pendingTimers: 0 });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('agreement maths', () => {
  it("Cohen's kappa on a textbook table", () => {
    // 2×2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → po 0.7, pe 0.5 → kappa 0.4
    const human = [...Array(25).fill('yes'), ...Array(25).fill('no')] as string[];
    const judged = [...Array(20).fill('yes'), ...Array(5).fill('no'), ...Array(10).fill('yes'), ...Array(15).fill('no')] as string[];
    expect(cohensKappa(human, judged)).toBeCloseTo(0.4, 10);
    expect(accuracy(human, judged)).toBeCloseTo(0.7, 10);
    expect(cohensKappa(['a', 'a'], ['a', 'a'])).toBeNull();
  });

  it('Spearman with and without ties, and MAE', () => {
    // No ties: rho = 1 − 6Σd² / (n(n²−1)); d = [0, 0, 1, −1, 0] → 1 − 12/120 = 0.9
    expect(spearman([1, 2, 3, 4, 5], [1, 2, 4, 3, 5])).toBeCloseTo(0.9, 10);
    expect(ranks([10, 20, 20, 30])).toEqual([1, 2.5, 2.5, 4]);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 10);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(meanAbsoluteError([1, 2, 3], [2, 2, 5])).toBeCloseTo(1, 10);
  });
});

describe('odds and ends', () => {
  it('globs become LIKE patterns with LIKE wildcards escaped', () => {
    expect(globToLike('gpt-4o*')).toBe('gpt-4o%');
    expect(globToLike('a_b%c*')).toBe('a\\_b\\%c%');
  });

  it('metrics are Prometheus text', () => {
    const text = renderMetrics({ passes: 2, lastPassAt: 1_700_000_000_000, judgeCostUsd: '0.00042', rows: { 'helpfulness@1': { scored: 3, not_applicable: 0, failed: 1, budget_exhausted: 0 } } });
    expect(text).toContain('llm_sidecar_evaluator_rows_total{evaluator="helpfulness",version="1",outcome="scored"} 3');
    expect(text).toContain('llm_sidecar_evaluator_judge_cost_usd_total 0.00042');
    expect(text).toContain('llm_sidecar_evaluator_last_pass_timestamp_seconds 1700000000');
  });
});
