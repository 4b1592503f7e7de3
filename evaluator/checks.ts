// Evaluators that need no LLM: cheap, deterministic, run on every sampled call they apply to.
// Scores follow the same convention as the judges: 0..1, higher is better.
import type { CheckName } from './builtins.ts';
import type { CallContent } from './messages.ts';

export type CheckResult = { applicable: false; reason: string } | { applicable: true; value: number; label: string; explanation: string };

/**
 * "The request asked for JSON". The stored call has no request parameters (response_format is not
 * captured), only the messages, so this is read from the text: the word JSON in the system
 * instructions or in the latest user message — the instructions that produced this answer.
 * Apps that use response_format without saying so in a prompt are not covered (the provider
 * enforces JSON for them anyway).
 */
const ASKS_FOR_JSON = /\bjson\b/i;

/** Openings of a refusal ("I'm sorry, but I can't…", "I cannot help with that"). */
const APOLOGY_OPENING = /^\s*(?:I['’]m sorry|I am sorry|Sorry|I apologi[sz]e|Unfortunately|As an AI\b)/i;
const CANNOT = /\b(?:can(?:no|['’])t|unable to|not able to|won['’]t|will not|must decline|not (?:allowed|permitted) to)\b/i;
const DIRECT_REFUSAL = /^\s*I (?:can(?:no|['’])t|am unable to|['’]m unable to|am not able to|won['’]t|will not|must decline)\b/i;
/** Only the opening decides: "Sorry to hear that! Here is how…" is an answer, not a refusal. */
const REFUSAL_HEAD_CHARS = 300;

/** finish_reason values meaning the answer hit its token limit (OpenAI chat, Anthropic, Responses). */
const TRUNCATED = new Set(['length', 'max_tokens', 'max_output_tokens', 'incomplete', 'model_context_window_exceeded']);
const FILTERED = new Set(['content_filter', 'safety', 'recitation']);

export function validJson(c: CallContent): CheckResult {
  if (!ASKS_FOR_JSON.test(c.system) && !ASKS_FOR_JSON.test(c.lastUserText)) return { applicable: false, reason: 'the request did not ask for JSON' };
  if (!c.outputText.trim()) return { applicable: false, reason: c.hasToolCalls ? 'the answer is a tool call' : 'the answer has no text' };
  const text = c.outputText.trim();
  if (parses(text)) return { applicable: true, value: 1, label: 'valid', explanation: 'the answer parses as JSON' };
  const fenced = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(text);
  if (fenced && parses((fenced[1] ?? '').trim())) {
    return { applicable: true, value: 0, label: 'fenced', explanation: 'JSON inside a markdown code fence: the answer itself does not parse' };
  }
  const truncated = c.finishReasons.some((r) => TRUNCATED.has(r));
  return { applicable: true, value: 0, label: 'invalid', explanation: truncated ? 'the answer does not parse as JSON (it was cut at the token limit)' : 'the answer does not parse as JSON' };
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function refusal(c: CallContent): CheckResult {
  if (c.finishReasons.includes('refusal')) return { applicable: true, value: 0, label: 'refusal', explanation: 'the provider reported a refusal (finish reason "refusal")' };
  const text = c.outputText.trim();
  if (!text) return { applicable: false, reason: c.hasToolCalls ? 'the answer is a tool call' : 'the answer has no text' };
  const head = text.slice(0, REFUSAL_HEAD_CHARS);
  if (DIRECT_REFUSAL.test(head) || (APOLOGY_OPENING.test(head) && CANNOT.test(head))) {
    return { applicable: true, value: 0, label: 'refusal', explanation: `the answer opens with a refusal: "${head.split(/(?<=[.!?])\s/)[0]?.slice(0, 120) ?? ''}"` };
  }
  return { applicable: true, value: 1, label: 'answered', explanation: 'no refusal in the opening of the answer' };
}

export function completeness(c: CallContent): CheckResult {
  const reason = c.finishReasons.find((r) => TRUNCATED.has(r));
  if (reason !== undefined) return { applicable: true, value: 0, label: 'truncated', explanation: `the answer stopped at the token limit (finish reason "${reason}")` };
  const filtered = c.finishReasons.find((r) => FILTERED.has(r));
  if (filtered !== undefined) return { applicable: true, value: 0, label: 'filtered', explanation: `the provider's content filter stopped the answer (finish reason "${filtered}")` };
  if (!c.outputText.trim() && !c.hasToolCalls) return { applicable: true, value: 0, label: 'empty', explanation: 'the answer has no text and no tool call' };
  return { applicable: true, value: 1, label: 'complete', explanation: c.finishReasons.length > 0 ? `finished normally (finish reason "${c.finishReasons.join('", "')}")` : 'non-empty answer' };
}

export const CHECKS: Record<CheckName, (c: CallContent) => CheckResult> = {
  valid_json: validJson,
  refusal,
  completeness,
};
