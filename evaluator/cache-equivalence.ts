// The `cache_equivalence` judge: the production watch on the semantic cache. A semantic hit serves
// an answer written for an earlier, similar question; when the meanings differ, that is a silent
// wrong answer no status code shows. This judge, run on sampled semantic hits, asks the one question
// that matters — does the served answer answer THIS question as well as an answer written for it
// would? — and its pass rate per route is on the Quality dashboard, with an alert under a floor
// (dashboards/cache-equivalence.ts). Pass/fail: a partial answer to another question is a fail.
// Meant to run with `filters` limited to semantic hits (proxy/cache/README.md, "Watching it").
import type { LlmBuiltin } from './builtins.ts';

export const CACHE_EQUIVALENCE_RUBRIC = `The ASSISTANT'S ANSWER below was not written for the user's last message: it was served from a cache, where it had been stored as the answer to an earlier question that looked similar. Decide whether it answers the user's last message in the conversation as well as an answer written for that message would.

Read the last message closely: what exactly does it ask (which entity, number, unit, date, direction, condition, negation, scope)? Then check the answer against it. Do not judge style, length or general quality: an answer of ordinary quality that fits the question passes; an excellent answer to a different question fails.

pass — the answer addresses exactly what the last message asks; nothing in it is about another entity, quantity, time, condition or intent, and nothing the message asks is left unanswered.
fail — the answer was evidently written for a different question: it answers about another entity, number, unit, date or option, answers the opposite (negated, reversed) question, answers a broader or narrower question so that part of what is asked is missing or wrong, or ignores a detail the message adds (say which).

<conversation>
{{input}}
</conversation>
<answer>
{{output}}
</answer>`;

export const CACHE_EQUIVALENCE: LlmBuiltin = {
  kind: 'llm',
  name: 'cache_equivalence',
  version: '1',
  output: { type: 'pass_fail' },
  requires: [],
  rubric: CACHE_EQUIVALENCE_RUBRIC,
};
