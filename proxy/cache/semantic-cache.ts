// The semantic cache: request → (context digest, last user text) → embedding → nearest entries of
// the same context above the similarity threshold → near-miss guard → the exact-cache key whose
// entry answers it. It never stores answers itself: a hit names an entry of the exact cache (the
// CacheStore), which the caller loads and replays; when that entry is gone, the caller calls
// forget(key).
//
// Failures (embedder down or slow, index errors) are reported through onError and are a miss.
import type { CacheKeyInput } from './cache-key.ts';
import type { Embedder } from './embedder.ts';
import { DEFAULT_GUARD, nearMissGuard, type GuardReason, type GuardResult, type GuardStrictness, type HitKind } from './guard.ts';
import { SemanticIndex, type SemanticCandidate } from './semantic-index.ts';
import { semanticRequest, type SemanticRequest } from './semantic-request.ts';

/**
 * Default similarity threshold for Universal Sentence Encoder lite, measured on
 * test/cache/semantic-pairs.json (semantic-pairs.test.ts prints the numbers). USE lite scores
 * honest paraphrases from 0.74 to 0.99 (median 0.96), so 0.95 finds only 60% of them, while a
 * negation or another number scores 0.95–0.99 — similarity cannot separate the two in either
 * direction. Precision therefore comes from the context partition and the near-miss guard (which
 * rejects every different-intent pair of the set). Until the third round of issue #17 the default
 * was 0.85, as defence in depth against "related but different" questions that slipped past the
 * first guard's rules (rice/pasta, stroke/heart attack, laptop/phone, let/const: 0.74–0.83); the
 * guard now refuses those by their changed content word, and 0.75 admits the paraphrases USE lite
 * scores lower (attribution dropped, "delivery" / "shipping", "reach" / "contact"): on mrpc-train
 * 14 + 14 partner hits instead of 12 + 10 (odd + even halves), own pairs 60 / 73 instead of 58,
 * no wrong hit on any set (proxy/cache/README.md).
 */
export const USE_DEFAULT_THRESHOLD = 0.75;

/** An accepted candidate: the cached question, its similarity, and how it differs from the query. */
export type SemanticHit = SemanticCandidate & { kind: HitKind };

export interface SemanticLookup {
  /** The accepted candidate, if any. */
  hit: SemanticHit | undefined;
  /** The query's vector (pass it to add() after a miss, to embed once). */
  vector: Float32Array | undefined;
  /** Candidates above the threshold the guard refused, best first (for telemetry). */
  rejected: { key: string; similarity: number; reason: GuardReason | undefined }[];
}

/** Something that learns and shares entries between sidecars (semantic-sync.ts). */
export interface SemanticPublisher {
  publish(entry: { contextDigest: string; key: string; text: string; expiresAt: number; vector: Float32Array }): Promise<void>;
}

export interface SemanticCacheOptions {
  embedder: Embedder;
  /** Similarity threshold, 0..1 (default USE_DEFAULT_THRESHOLD). */
  threshold?: number;
  /** Index bound (default 50 000 entries). */
  maxEntries?: number;
  /** Use this index (otherwise one is made with the embedder's dims). */
  index?: SemanticIndex;
  /** The near-miss guard (default nearMissGuard with `strictness`). */
  guard?: (query: string, candidate: string, similarity: number) => GuardResult;
  /** How many content words may change, at what similarity (default DEFAULT_GUARD). */
  strictness?: GuardStrictness;
  /** Longest last-user text considered (default 2000 characters). */
  maxChars?: number;
  publisher?: SemanticPublisher;
  onError?: (err: Error, operation: string) => void;
}

export class SemanticCache {
  readonly threshold: number;
  private indexRef: SemanticIndex | undefined;
  private readonly opts: SemanticCacheOptions;

  constructor(opts: SemanticCacheOptions) {
    this.opts = opts;
    this.threshold = opts.threshold ?? USE_DEFAULT_THRESHOLD;
    this.indexRef = opts.index;
  }

  /** The index (created on first use when the embedder learns its size late). */
  get index(): SemanticIndex {
    this.indexRef ??= new SemanticIndex({ dims: this.opts.embedder.dims, maxEntries: this.opts.maxEntries });
    return this.indexRef;
  }

  set publisher(p: SemanticPublisher | undefined) {
    this.opts.publisher = p;
  }

  /** The semantic view of a request, or undefined when it is not eligible (cheap, synchronous). */
  prepare(input: CacheKeyInput): SemanticRequest | undefined {
    return semanticRequest(input, this.opts.maxChars);
  }

  private report(err: unknown, op: string): void {
    try {
      this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), op);
    } catch {
      // never let a reporter break a request
    }
  }

  async lookup(req: SemanticRequest): Promise<SemanticLookup> {
    const rejected: SemanticLookup['rejected'] = [];
    let vector: Float32Array | undefined;
    try {
      [vector] = await this.opts.embedder.embed([req.lastUserText]);
    } catch (err) {
      this.report(err, 'embed');
      return { hit: undefined, vector: undefined, rejected };
    }
    if (!vector || (this.indexRef === undefined && this.opts.embedder.dims === 0)) return { hit: undefined, vector, rejected };
    const strictness = this.opts.strictness ?? DEFAULT_GUARD;
    const guard = this.opts.guard ?? ((q: string, c: string, s: number) => nearMissGuard(q, c, s, strictness));
    try {
      let kind: HitKind = 'rephrase';
      const found = this.index.lookup(req.contextDigest, vector, this.threshold, (c) => {
        const verdict = guard(req.lastUserText, c.text, c.similarity);
        if (!verdict.ok) rejected.push({ key: c.key, similarity: c.similarity, reason: verdict.reason });
        else kind = verdict.kind ?? 'rephrase';
        return verdict.ok;
      });
      return { hit: found ? { ...found, kind } : undefined, vector, rejected };
    } catch (err) {
      this.report(err, 'lookup');
      return { hit: undefined, vector, rejected };
    }
  }

  /** Indexes the answer stored under `key` for this request (and shares it, with a publisher). */
  async add(req: SemanticRequest, key: string, expiresAt: number, vector?: Float32Array): Promise<void> {
    try {
      const v = vector ?? (await this.opts.embedder.embed([req.lastUserText]))[0];
      if (!v) return;
      this.index.add(req.contextDigest, v, key, req.lastUserText, expiresAt);
      await this.opts.publisher?.publish({ contextDigest: req.contextDigest, key, text: req.lastUserText, expiresAt, vector: v });
    } catch (err) {
      this.report(err, 'add');
    }
  }

  /** The exact entry for `key` is gone: stop pointing at it. */
  forget(key: string): void {
    this.indexRef?.removeKey(key);
  }
}
