// The simulated LLM judge: when a JSON schema asks for a rating on a scale (an `explanation` and an
// integer `score` from an enum, the evaluator's judge format), the fake answers with a plausible,
// varied rating derived from the answer it judges — the text inside <answer>…</answer> — instead of
// the schema's minimum, so the demo shows a realistic score distribution: most answers rate well,
// with a spread (a stable hash of the answer), and short, truncated or refusing answers rate low.
// Deterministic: the same answer always gets the same rating. Label outputs keep their first choice.
import { asArray, asObject } from './plan.ts';

function hash01(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

/** 0..1: how good the judged answer looks to the simulated judge. */
export function simulatedQuality(answer: string): number {
  const words = answer.split(/\s+/).filter((w) => w.length > 0).length;
  const h = hash01(answer);
  if (words < 6 || /\b(sorry|cannot|can't|unable)\b/i.test(answer)) return 0.1 + 0.25 * h;
  return 0.55 + 0.45 * h;
}

/** A judge verdict for a scale schema, or undefined when the schema is not one (the caller samples it). */
export function judgeVerdict(schema: unknown, prompt: string): { explanation: string; score: number } | undefined {
  const props = asObject(asObject(schema)?.properties);
  const points = asArray(asObject(props?.score)?.enum).filter((p): p is number => typeof p === 'number');
  if (!props || !('explanation' in props) || points.length < 2) return undefined;
  const answer = /<answer>\n?([\s\S]*?)\n?<\/answer>/.exec(prompt)?.[1] ?? prompt;
  const q = simulatedQuality(answer);
  const sorted = [...points].sort((a, b) => a - b);
  const score = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { explanation: `Simulated judge: ${q >= 0.5 ? 'the answer addresses the request' : 'the answer is too short or declines'} (${answer.split(/\s+/).length} words).`, score };
}
