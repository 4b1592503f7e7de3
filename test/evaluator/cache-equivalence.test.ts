// The cache_equivalence judge as the service runs it: configured as a builtin, its rubric rendered
// with the call's question and the served (cached) answer fenced off as data, the verdict read
// through the official OpenAI SDK from a scripted judge: an answer to another question fails (0),
// one that fits passes (1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_NAMES } from '../../shared/config/evaluators-schema.ts';
import { parseEvaluatorsConfig } from '../../evaluator/config.ts';
import { resolveEvaluators, type LlmEvaluator } from '../../evaluator/definitions.ts';
import { evaluateContent, judgePrompt } from '../../evaluator/evaluate.ts';
import { createJudgeClient } from '../../evaluator/judge-client.ts';
import { exampleContent } from '../../evaluator/messages.ts';
import { loadPriceTable } from '../../shared/pricing/price-table.ts';
import { startScriptedJudge, type ScriptedJudge } from './scripted-judge.ts';

const QUESTION = 'How do I disable two-factor authentication?';
const WRONG_ANSWER = 'To enable two-factor authentication, open Settings → Security and turn it on.';
const RIGHT_ANSWER = 'Open Settings → Security and switch two-factor authentication off.';

let judge: ScriptedJudge;

beforeAll(async () => {
  // A judge that fails answers about enabling when disabling was asked.
  judge = await startScriptedJudge((r) => ({ json: /enable/i.test(r.answer) ? { explanation: 'answers how to enable, not disable', verdict: 'fail' } : { explanation: 'answers the question', verdict: 'pass' } }));
});

afterAll(async () => {
  await judge?.close();
});

function evaluator(): LlmEvaluator {
  const config = parseEvaluatorsConfig({ judge: { provider: 'openai', baseUrl: judge.url, model: 'gpt-4o-mini', apiKey: 'sk-test' }, list: [{ builtin: 'cache_equivalence', filters: { routes: ['faq'] } }] });
  const [ev] = resolveEvaluators(config);
  if (ev?.kind !== 'llm') throw new Error('cache_equivalence must be an LLM judge');
  return ev;
}

describe('cache_equivalence judge', () => {
  it('is a shipped pass/fail LLM judge', () => {
    expect(BUILTIN_NAMES).toContain('cache_equivalence');
    expect(evaluator()).toMatchObject({ name: 'cache_equivalence', version: '1', kind: 'llm', output: { type: 'pass_fail' }, requires: [], filters: { routes: ['faq'] } });
  });

  it('renders the question and the served answer fenced as data', () => {
    const prompt = judgePrompt(evaluator(), exampleContent({ input: QUESTION, output: WRONG_ANSWER }));
    expect(prompt).toContain('served from a cache');
    expect(prompt).toMatch(new RegExp(`<conversation>\\n[^]*${QUESTION}[^]*\\n</conversation>`));
    expect(prompt).toMatch(/<answer>\n[^]*To enable two-factor[^]*\n<\/answer>$/);
  });

  it.each([
    [WRONG_ANSWER, 0, 'fail'],
    [RIGHT_ANSWER, 1, 'pass'],
  ])('scores %j as %d', async (answer, value, label) => {
    const ev = evaluator();
    const out = await evaluateContent(ev, exampleContent({ input: QUESTION, output: answer }), { prices: loadPriceTable(), client: createJudgeClient(ev.judge) });
    expect(out.result).toMatchObject({ value, label, errorType: '', judged: true });
  });
});
