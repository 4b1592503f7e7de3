// Holds the semantic cache's precision floor on news paraphrases it was not written for: a fixed
// sample of MRPC pairs (mrpc-ci-sample.json: ids only, the sentences come from mrpc-train.tsv,
// which is read from ../shared/data/paraphrase/ or LLM_SIDECAR_MRPC_TSV and never copied into the
// tree). The real embedder (USE lite), the default threshold and guard, the protocol of issue #17
// (paraphrase-replay.ts). A change that serves one wrong answer more on these 327 near-duplicate
// pairs fails here; without the guard the same sample gets wrong answers, so it can. Every hit is
// judged: a cross-pair hit (served from another pair's sentence, which the corpus does not label)
// must be in semantic-cross-pair-labels.json, read by a person; an unjudged one fails the test.
// Three more fixed sets: the judged cross-pair sentences themselves (the modal difference issue #17
// found must stay refused, the same-meaning ones may hit), news-style sentences of our own that
// differ only in a modal or a tense, which the threshold alone would serve, and long prompts of our
// own that differ in the one word they ask about, which CLOSE_GUARD would serve.
// Without the file the suite is skipped, except under CI=true, where it fails.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_GUARD, LENIENT_GUARD } from '../../proxy/cache/guard.ts';
import { USE_DEFAULT_THRESHOLD } from '../../proxy/cache/semantic-cache.ts';
import { UseEmbedder } from '../../proxy/cache/use-embedder.ts';
import { cosine } from '../../proxy/cache/embedder.ts';
import { embedAll, formatReplay, listHits, loadCrossPairLabels, loadMrpc, mrpcPath, ownPairs, replayPairs, type LabelledPair } from './paraphrase-replay.ts';

const PRECISION_FLOOR = 0.98;
/**
 * Measured with the defaults of issue #17's third round (DEFAULT_GUARD, threshold 0.75): 12 right
 * hits (all partner paraphrases, one with its attribution set aside), 0 wrong, 1 cross-pair hit (a
 * reordered "said later" sentence from another pair, judged the same meaning). The second round's
 * defaults made 6 right hits; STRICT_GUARD (no attribution rule, with the third round's stop words)
 * at 0.75 makes 11. Right hits must not fall below 12: a guard that gives up the third round's
 * recall fails too.
 */
const MIN_RIGHT_HITS = 12;

/** Written for this test (not corpus text): each pair differs only in a modal or a tense, so an answer to one misstates the other. */
const MODAL_AND_TENSE_PAIRS: [string, string][] = [
  ['The company said its quarterly profit had fallen by a third.', 'The company said its quarterly profit may have fallen by a third.'],
  ['Officials said the talks will resume in Geneva after the holiday.', 'Officials said the talks would resume in Geneva after the holiday.'],
  ['The court ruled that the state law was unconstitutional.', 'The court ruled that the state law could be unconstitutional.'],
  ['The senator has voted against the spending bill.', 'The senator will vote against the spending bill.'],
  ['Investors might sell their shares in the airline.', 'Investors will sell their shares in the airline.'],
  ['The union says the strike is over.', 'The union says the strike was over.'],
  ['Prosecutors must drop the charges against the former executive.', 'Prosecutors should drop the charges against the former executive.'],
  ['The central bank raised interest rates to curb inflation.', 'The central bank may raise interest rates to curb inflation.'],
];

/**
 * Written for this test (not corpus text): long prompts that differ in one content word, the one
 * the answer is about. USE lite scores them 0.90–0.99; news paraphrases that differ in one word
 * (MRPC) are mostly synonyms, these are not, which is why the default refuses every replaced word.
 */
const SWAPPED_PROMPTS: [string, string][] = [
  ['Explain in detail how the immune system of a cat responds to a viral infection, including the role of antibodies, T cells, fever and inflammation in recovery.', 'Explain in detail how the immune system of a dog responds to a viral infection, including the role of antibodies, T cells, fever and inflammation in recovery.'],
  ['Write a short bedtime story about a brave little rabbit who gets lost in a dark forest and finds her way home with help from friendly owls and fireflies.', 'Write a short bedtime story about a brave little squirrel who gets lost in a dark forest and finds her way home with help from friendly owls and fireflies.'],
  ['Draft a polite email to my landlord explaining that the kitchen sink has been leaking for a week, asking for a plumber visit and mentioning water damage to the cabinet floor.', 'Draft a polite email to my landlord explaining that the bathroom sink has been leaking for a week, asking for a plumber visit and mentioning water damage to the cabinet floor.'],
  ['Summarize the main causes, key battles, important leaders and long-term consequences of the war for students preparing for a history exam next week in school.', 'Summarize the main causes, key battles, important leaders and long-term consequences of the revolution for students preparing for a history exam next week in school.'],
  ['What are the typical symptoms, common causes, usual diagnosis methods and standard treatment options for chronic kidney disease in elderly patients with diabetes and hypertension?', 'What are the typical symptoms, common causes, usual diagnosis methods and standard treatment options for chronic liver disease in elderly patients with diabetes and hypertension?'],
  ['Describe the best hiking trails, camping spots, wildlife viewing areas and safety precautions for visitors exploring the mountains during a two week summer vacation with children.', 'Describe the best hiking trails, camping spots, wildlife viewing areas and safety precautions for visitors exploring the desert during a two week summer vacation with children.'],
];

const available = existsSync(mrpcPath());
if (!available && process.env.CI === 'true') {
  throw new Error(`mrpc-precision: ${mrpcPath()} is missing (set LLM_SIDECAR_MRPC_TSV); CI must run this suite`);
}

/** The judged cross-pair hits as pairs of their own (sentences by id: MRPC's, or the own pairs', whose ids are their texts; paraphrase = judged the same meaning). */
function crossPairs(): LabelledPair[] {
  const text = new Map([...loadMrpc(), ...ownPairs()].flatMap((p) => [[p.id1, p.s1] as const, [p.id2, p.s2] as const]));
  const seen = new Set<string>();
  const out: LabelledPair[] = [];
  for (const l of loadCrossPairLabels().values()) {
    if (seen.has(`${l.query} ${l.cached}`)) continue;
    seen.add(`${l.query} ${l.cached}`);
    const s1 = text.get(l.cached);
    const s2 = text.get(l.query);
    if (s1 === undefined || s2 === undefined) throw new Error(`semantic-cross-pair-labels.json: ${l.cached} or ${l.query} not in ${mrpcPath()}`);
    out.push({ paraphrase: l.sameMeaning, id1: l.cached, id2: l.query, s1, s2 });
  }
  return out;
}

function sample(): LabelledPair[] {
  const ids = (JSON.parse(readFileSync(new URL('./mrpc-ci-sample.json', import.meta.url), 'utf8')) as { pairs: [string, string][] }).pairs;
  const byIds = new Map(loadMrpc().map((p) => [`${p.id1} ${p.id2}`, p]));
  return ids.map(([a, b]) => {
    const p = byIds.get(`${a} ${b}`);
    if (!p) throw new Error(`mrpc-ci-sample.json: pair ${a} ${b} not in ${mrpcPath()} (another version of the corpus?)`);
    return p;
  });
}

describe.skipIf(!available)('semantic cache precision on a fixed MRPC sample (real embedder)', () => {
  let pairs: LabelledPair[];
  let vectors: Map<string, Float32Array>;
  let embedder: UseEmbedder;

  let judged: LabelledPair[];
  const own: LabelledPair[] = MODAL_AND_TENSE_PAIRS.map(([s1, s2], i) => ({ paraphrase: false, id1: `own-${i}-a`, id2: `own-${i}-b`, s1, s2 }));
  const swappedPrompts: LabelledPair[] = SWAPPED_PROMPTS.map(([s1, s2], i) => ({ paraphrase: false, id1: `swap-${i}-a`, id2: `swap-${i}-b`, s1, s2 }));

  beforeAll(async () => {
    pairs = sample();
    judged = crossPairs();
    embedder = new UseEmbedder();
    vectors = await embedAll(embedder, [...pairs, ...judged, ...own, ...swappedPrompts]);
  }, 600_000);

  afterAll(async () => {
    await embedder?.close();
  });

  it(`default guard and threshold: every hit judged, precision ≥ ${PRECISION_FLOOR}`, async () => {
    const r = await replayPairs(pairs, { vectors });
    console.log(`${formatReplay('mrpc CI sample', r)}\n${listHits(r, ['wrong', 'unlabelled'])}`);
    expect(r.pairs).toBe(327);
    expect(r.labelledPrecision).toBeGreaterThanOrEqual(PRECISION_FLOOR);
    // A cross-pair hit nobody has judged fails: read it, add it to semantic-cross-pair-labels.json.
    expect(r.hits.filter((h) => h.verdict === 'unlabelled' && !h.judged).map((h) => `${h.queryId} ~ ${h.cachedId}`)).toEqual([]);
    expect(r.judgedPrecision).toBeGreaterThanOrEqual(PRECISION_FLOOR);
    expect(r.right).toBeGreaterThanOrEqual(MIN_RIGHT_HITS);
  });

  it('cross-pair near-duplicates: every pair judged different is refused, same-meaning ones still hit', async () => {
    const r = await replayPairs(judged, { vectors });
    console.log(`${formatReplay('judged cross-pair sentences', r)}\n${listHits(r, ['wrong', 'unlabelled'])}`);
    expect(judged.some((p) => !p.paraphrase)).toBe(true);
    expect(r.partnerNonParaphraseHits).toBe(0);
    expect(r.wrong).toBe(0);
    // 18 of the 31 same-meaning pairs hit with the defaults (the tense rule refuses "were" / "are published"; most lenient-only ones
    // add a word, which the default refuses); fewer than 14 means recall lost on sentences that mean the same.
    expect(r.partnerParaphraseHits).toBeGreaterThanOrEqual(14);
    // The set would catch a lever the default leaves off: letting one added word through serves "his wife and son" the answer to "his wife and unborn son".
    const additions = await replayPairs(judged, { vectors, strictness: { ...CLOSE_GUARD, additions: true } });
    expect(additions.wrong).toBeGreaterThan(0);
  });

  it('a modal or a tense is never crossed, though the threshold alone would serve most of these', async () => {
    const sims = own.map((p) => cosine(vectors.get(p.s1) as Float32Array, vectors.get(p.s2) as Float32Array));
    console.log(`modal/tense pairs: similarity ${sims.map((x) => x.toFixed(3)).join(', ')} (threshold ${USE_DEFAULT_THRESHOLD})`);
    const none = await replayPairs(own, { vectors, guard: () => ({ ok: true, kind: 'close' }) });
    expect(none.partnerNonParaphraseHits).toBeGreaterThanOrEqual(own.length - 2);
    const r = await replayPairs(own, { vectors });
    console.log(listHits(r, ['wrong', 'unlabelled', 'right']));
    expect(r.hits).toEqual([]);
  });

  it('a long prompt with its key word replaced is never served, though CLOSE_GUARD (one replaced word in a long text) serves most of these', async () => {
    const none = await replayPairs(swappedPrompts, { vectors, strictness: CLOSE_GUARD });
    console.log(listHits(none, ['wrong']));
    expect(none.partnerNonParaphraseHits).toBeGreaterThanOrEqual(4);
    const r = await replayPairs(swappedPrompts, { vectors });
    console.log(listHits(r, ['wrong', 'unlabelled', 'right']));
    expect(r.hits).toEqual([]);
  });

  it('the sample holds cases a weaker guard gets wrong: threshold alone serves wrong answers', async () => {
    const r = await replayPairs(pairs, { vectors, guard: () => ({ ok: true, kind: 'close' }) });
    const lenient = await replayPairs(pairs, { vectors, strictness: LENIENT_GUARD });
    console.log(`${formatReplay('mrpc CI sample, no guard', r)}\n${formatReplay('mrpc CI sample, LENIENT_GUARD', lenient)}\n${listHits(lenient, ['wrong', 'unlabelled'])}`);
    expect(r.wrong).toBeGreaterThan(0);
    expect(r.precision).toBeLessThan(PRECISION_FLOOR);
  });
});
