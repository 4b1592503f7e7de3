// Text → vector, for the semantic cache. Implementations: use-embedder.ts (Universal Sentence
// Encoder lite, in-process, offline) and openai-embedder.ts (any OpenAI-compatible /v1/embeddings).
export interface Embedder {
  /** One vector per text, in order. Implementations batch; vectors need not be normalised. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Vector length (0 until known, for an endpoint whose size is learnt from its first answer). */
  readonly dims: number;
  /** Frees the model / worker / connections. */
  close?(): Promise<void>;
}

/** Unit-length copy of v (cosine similarity is then a dot product). A zero vector stays zero. */
export function normalize(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) * (v[i] as number);
  const out = new Float32Array(v.length);
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) * inv;
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
