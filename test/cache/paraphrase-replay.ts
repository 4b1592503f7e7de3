// Replays labelled sentence pairs through the real semantic cache and scores what it serves, for
// the precision test (mrpc-precision.test.ts) and the bench (bench-semantic.ts).
//
// Protocol (the one issue #17 measured with): one route, one context, one index for the whole
// set; for each pair in order, its first sentence is asked (a miss is cached), then its second.
// A sentence asked before word for word is an exact-cache hit in the proxy and never reaches the
// semantic cache: it is counted apart (`exactRepeats`), not scored. Every semantic hit is scored:
//   right — the second sentence served from its partner and the pair is labelled a paraphrase;
//           or a hit on the same sentence (same MRPC id, or equal text up to case and punctuation);
//           or on another sentence the data labels a paraphrase of it;
//   wrong — served from its partner in a pair labelled not a paraphrase, or from a sentence the
//           data labels not a paraphrase of it;
//   unlabelled — served from another sentence the data says nothing about (a cross-pair hit).
// Every hit is judged, two ways (see proxy/cache/README.md, "How a hit is judged"):
//   `precision` (strict rule) — an unlabelled hit is wrong: only the labels and identity after
//           normalisation make a hit right;
//   `judgedPrecision` — an unlabelled hit a person has read and recorded in
//           semantic-cross-pair-labels.json (both sentence ids, same meaning or not, and why)
//           counts as recorded; one nobody has judged yet counts as wrong and is listed.
// `labelledPrecision` (unlabelled hits left out) is printed beside them for comparison only.
// Vectors are the real embedder's (USE lite), computed in batches up front (the cache's own
// one-text-per-call embedding of thousands of sentences would take minutes for the same vectors).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheScope, type CacheKeyInput } from '../../proxy/cache/cache-key.ts';
import type { Embedder } from '../../proxy/cache/embedder.ts';
import type { GuardResult, GuardStrictness, HitKind } from '../../proxy/cache/guard.ts';
import { SemanticCache } from '../../proxy/cache/semantic-cache.ts';

export interface LabelledPair {
  paraphrase: boolean;
  id1: string;
  id2: string;
  s1: string;
  s2: string;
}

/** Where mrpc-train.tsv is read from: LLM_SIDECAR_MRPC_TSV, or ../shared/data/paraphrase/ beside the repo (never copied into the tree: see its README). */
export function mrpcPath(): string {
  return process.env.LLM_SIDECAR_MRPC_TSV ?? resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/paraphrase/mrpc-train.tsv');
}

/** MRPC's TSV: Quality, #1 ID, #2 ID, #1 String, #2 String (header line first). */
export function parseMrpc(tsv: string): LabelledPair[] {
  const out: LabelledPair[] = [];
  for (const line of tsv.split(/\r?\n/).slice(1)) {
    const c = line.split('\t');
    if (c.length < 5 || (c[0] !== '0' && c[0] !== '1')) continue;
    out.push({ paraphrase: c[0] === '1', id1: c[1] as string, id2: c[2] as string, s1: c[3] as string, s2: c[4] as string });
  }
  return out;
}

export function loadMrpc(path = mrpcPath()): LabelledPair[] {
  return parseMrpc(readFileSync(path, 'utf8'));
}

/** The project's own question pairs (semantic-pairs.json) in the same shape; ids are the texts. */
export function ownPairs(): LabelledPair[] {
  const p = JSON.parse(readFileSync(new URL('./semantic-pairs.json', import.meta.url), 'utf8')) as { paraphrase: [string, string][]; different: [string, string][] };
  const pair = (paraphrase: boolean) => ([s1, s2]: [string, string]): LabelledPair => ({ paraphrase, id1: s1, id2: s2, s1, s2 });
  return [...p.paraphrase.map(pair(true)), ...p.different.map(pair(false))];
}

/** Serves vectors computed beforehand (in batches) by a real embedder. */
class PrecomputedEmbedder implements Embedder {
  constructor(
    readonly dims: number,
    private readonly vectors: Map<string, Float32Array>,
  ) {}

  embed(texts: string[]): Promise<Float32Array[]> {
    return Promise.resolve(
      texts.map((t) => {
        const v = this.vectors.get(t);
        if (!v) throw new Error(`no precomputed vector for ${JSON.stringify(t.slice(0, 40))}`);
        return v;
      }),
    );
  }
}

/** A person's reading of a cross-pair hit: the two sentences (by id), whether they mean the same, and why. */
export interface CrossPairLabel {
  query: string;
  cached: string;
  sameMeaning: boolean;
  why: string;
}

const pairKey = (a: string, b: string): string => `${a}\u0000${b}`;

/** The hand-judged cross-pair hits (semantic-cross-pair-labels.json), keyed by both id orders. */
export function loadCrossPairLabels(): Map<string, CrossPairLabel> {
  const file = JSON.parse(readFileSync(new URL('./semantic-cross-pair-labels.json', import.meta.url), 'utf8')) as { labels: CrossPairLabel[] };
  const out = new Map<string, CrossPairLabel>();
  for (const l of file.labels) {
    out.set(pairKey(l.query, l.cached), l);
    out.set(pairKey(l.cached, l.query), l);
  }
  return out;
}

export async function embedAll(embedder: Embedder, pairs: LabelledPair[], batch = 64): Promise<Map<string, Float32Array>> {
  const texts = [...new Set(pairs.flatMap((p) => [p.s1, p.s2]))];
  const out = new Map<string, Float32Array>();
  for (let i = 0; i < texts.length; i += batch) {
    const slice = texts.slice(i, i + batch);
    const vs = await embedder.embed(slice);
    slice.forEach((t, j) => out.set(t, vs[j] as Float32Array));
  }
  return out;
}

export type Verdict = 'right' | 'wrong' | 'unlabelled';
export type HitSource = 'partner' | 'same-sentence' | 'other';

export interface ScoredHit {
  query: string;
  cached: string;
  queryId: string;
  cachedId: string;
  /** For an unlabelled hit: a person's judgement from semantic-cross-pair-labels.json, if recorded. */
  judged?: CrossPairLabel;
  similarity: number;
  kind: HitKind;
  source: HitSource;
  verdict: Verdict;
}

export interface ReplayResult {
  pairs: number;
  paraphrases: number;
  hits: ScoredHit[];
  /** Sentences asked before word for word (exact-cache hits in the proxy; not semantic lookups). */
  exactRepeats: number;
  /** Second sentences of paraphrase pairs served from their partner. */
  partnerParaphraseHits: number;
  /** Second sentences of non-paraphrase pairs served from their partner. */
  partnerNonParaphraseHits: number;
  right: number;
  wrong: number;
  unlabelled: number;
  /** Unlabelled hits judged the same meaning / a different meaning / not judged yet. */
  judgedRight: number;
  judgedWrong: number;
  unjudged: number;
  /** Strict rule: right / hits (every unlabelled hit counted as wrong). */
  precision: number;
  /** (right + unlabelled hits judged the same meaning) / hits (unjudged ones counted as wrong). */
  judgedPrecision: number;
  /** right / (right + wrong). */
  labelledPrecision: number;
  /** Paraphrase pairs whose second sentence was served from its partner / paraphrase pairs. */
  recall: number;
}

const normalise = (t: string): string => t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

export interface ReplayOptions {
  vectors: Map<string, Float32Array>;
  threshold?: number;
  strictness?: GuardStrictness;
  /** Replaces the near-miss guard (to measure without it). */
  guard?: (query: string, candidate: string, similarity: number) => GuardResult;
  /** Hand-judged cross-pair hits (default: semantic-cross-pair-labels.json). */
  crossPairLabels?: Map<string, CrossPairLabel>;
}

export async function replayPairs(pairs: LabelledPair[], opts: ReplayOptions): Promise<ReplayResult> {
  const dims = opts.vectors.values().next().value?.length ?? 512;
  const cache = new SemanticCache({ embedder: new PrecomputedEmbedder(dims, opts.vectors), threshold: opts.threshold, strictness: opts.strictness, guard: opts.guard, maxEntries: pairs.length * 2 + 1 });
  const labels = new Map<string, boolean>();
  for (const p of pairs) {
    labels.set(pairKey(p.id1, p.id2), p.paraphrase);
    labels.set(pairKey(p.id2, p.id1), p.paraphrase);
  }
  const judgements = opts.crossPairLabels ?? loadCrossPairLabels();
  const request = (text: string): CacheKeyInput => ({
    scope: cacheScope({ tenant: 'bench' }),
    dialect: 'openai',
    operation: 'chat',
    provider: 'openai',
    model: 'gpt-4o-mini',
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] },
  });
  // Exact-cache keys → what the cached question was.
  const entries = new Map<string, { text: string; id: string }>();
  const hits: ScoredHit[] = [];
  let partnerParaphraseHits = 0;
  let partnerNonParaphraseHits = 0;
  let exactRepeats = 0;
  const asked = new Set<string>();
  const ask = async (text: string, id: string, partner: { id: string; paraphrase: boolean } | undefined): Promise<void> => {
    if (asked.has(text)) {
      exactRepeats++;
      return;
    }
    asked.add(text);
    const req = cache.prepare(request(text));
    if (!req) throw new Error('pair sentence not eligible for the semantic cache');
    const found = await cache.lookup(req);
    const hit = found.hit;
    if (!hit) {
      const key = `k${entries.size}`;
      entries.set(key, { text, id });
      await cache.add(req, key, Number.MAX_SAFE_INTEGER, found.vector);
      return;
    }
    const cached = entries.get(hit.key) as { text: string; id: string };
    let source: HitSource;
    let verdict: Verdict;
    if (partner && cached.id === partner.id) {
      source = 'partner';
      verdict = partner.paraphrase ? 'right' : 'wrong';
      if (partner.paraphrase) partnerParaphraseHits++;
      else partnerNonParaphraseHits++;
    } else if (cached.id === id || normalise(cached.text) === normalise(text)) {
      source = 'same-sentence';
      verdict = 'right';
    } else {
      source = 'other';
      const label = labels.get(pairKey(id, cached.id));
      verdict = label === undefined ? 'unlabelled' : label ? 'right' : 'wrong';
    }
    const judged = verdict === 'unlabelled' ? judgements.get(pairKey(id, cached.id)) : undefined;
    hits.push({ query: text, cached: cached.text, queryId: id, cachedId: cached.id, judged, similarity: hit.similarity, kind: hit.kind, source, verdict });
  };
  for (const p of pairs) {
    await ask(p.s1, p.id1, undefined);
    await ask(p.s2, p.id2, { id: p.id1, paraphrase: p.paraphrase });
  }
  const count = (v: Verdict) => hits.filter((h) => h.verdict === v).length;
  const right = count('right');
  const wrong = count('wrong');
  const unlabelled = count('unlabelled');
  const judgedRight = hits.filter((h) => h.judged?.sameMeaning === true).length;
  const judgedWrong = hits.filter((h) => h.judged?.sameMeaning === false).length;
  const paraphrases = pairs.filter((p) => p.paraphrase).length;
  return {
    pairs: pairs.length,
    paraphrases,
    hits,
    exactRepeats,
    partnerParaphraseHits,
    partnerNonParaphraseHits,
    right,
    wrong,
    unlabelled,
    judgedRight,
    judgedWrong,
    unjudged: unlabelled - judgedRight - judgedWrong,
    precision: hits.length === 0 ? 1 : right / hits.length,
    judgedPrecision: hits.length === 0 ? 1 : (right + judgedRight) / hits.length,
    labelledPrecision: right + wrong === 0 ? 1 : right / (right + wrong),
    recall: paraphrases === 0 ? 0 : partnerParaphraseHits / paraphrases,
  };
}

/** One line per hit kind, then the totals. */
export function formatReplay(name: string, r: ReplayResult): string {
  const lines = [
    `${name}: ${r.pairs} pairs (${r.paraphrases} paraphrases), ${r.hits.length} semantic hits (${r.exactRepeats} exact repeats apart) — precision ${r.precision.toFixed(3)} strict, ${r.judgedPrecision.toFixed(3)} judged (labelled only ${r.labelledPrecision.toFixed(3)}), recall ${r.recall.toFixed(4)} (${r.partnerParaphraseHits}/${r.paraphrases})`,
    `  right ${r.right}, wrong ${r.wrong} (partner non-paraphrase ${r.partnerNonParaphraseHits}), unlabelled ${r.unlabelled} (judged same meaning ${r.judgedRight}, different ${r.judgedWrong}, not judged ${r.unjudged})`,
  ];
  for (const kind of ['same', 'rephrase', 'close'] as const) {
    const k = r.hits.filter((h) => h.kind === kind);
    if (k.length === 0) continue;
    const by = (v: Verdict) => k.filter((h) => h.verdict === v).length;
    lines.push(`  kind ${kind}: ${k.length} hits, right ${by('right')}, wrong ${by('wrong')}, unlabelled ${by('unlabelled')}`);
  }
  for (const source of ['partner', 'same-sentence', 'other'] as const) {
    const k = r.hits.filter((h) => h.source === source);
    if (k.length > 0) lines.push(`  from ${source}: ${k.length}`);
  }
  return lines.join('\n');
}

export function listHits(r: ReplayResult, verdicts: Verdict[]): string {
  return r.hits
    .filter((h) => verdicts.includes(h.verdict))
    .map((h) => {
      const judged = h.verdict !== 'unlabelled' ? '' : h.judged ? (h.judged.sameMeaning ? ' judged same' : ' judged different') : ' NOT JUDGED';
      return `  [${h.verdict}${judged} ${h.kind} ${h.similarity.toFixed(3)}] ${h.queryId} ${h.query}\n      ~ ${h.cachedId} ${h.cached}`;
    })
    .join('\n');
}
