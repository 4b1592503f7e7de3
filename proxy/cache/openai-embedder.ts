// Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Azure-style gateways,
// vLLM, Ollama, LiteLLM…), over undici. The caller gives the base URL as an OpenAI SDK would take
// it (`https://api.openai.com/v1`), the model and the key. Vectors are requested as base64
// float32 (a quarter of the bytes of JSON floats); a server that ignores encoding_format and sends
// float arrays is read too. Texts are sent in batches of maxBatch. A failing or slow endpoint
// rejects (after timeoutMs): the semantic cache treats that as "no semantic lookup".
import { request } from 'undici';
import type { Embedder } from './embedder.ts';

export interface OpenAIEmbedderOptions {
  /** e.g. `https://api.openai.com/v1`; `/embeddings` is appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Ask for this many dimensions (models that support it); also the expected vector size. */
  dimensions?: number;
  /** Per-request deadline (default 2 s). */
  timeoutMs?: number;
  /** Texts per request (default 256). */
  maxBatch?: number;
  headers?: Record<string, string>;
}

function decodeVector(v: unknown): Float32Array {
  if (typeof v === 'string') {
    const buf = Buffer.from(v, 'base64');
    const out = new Float32Array(buf.length >> 2);
    for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
    return out;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Float32Array.from(v as number[]);
  throw new Error('embeddings endpoint returned a malformed vector');
}

export class OpenAIEmbedder implements Embedder {
  private knownDims: number;
  private readonly url: string;
  private readonly opts: OpenAIEmbedderOptions;

  constructor(opts: OpenAIEmbedderOptions) {
    this.opts = opts;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.knownDims = opts.dimensions ?? 0;
  }

  get dims(): number {
    return this.knownDims;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const max = this.opts.maxBatch ?? 256;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += max) out.push(...(await this.embedBatch(texts.slice(i, i + max))));
    return out;
  }

  private async embedBatch(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const timeout = this.opts.timeoutMs ?? 2_000;
    const body: Record<string, unknown> = { model: this.opts.model, input: texts, encoding_format: 'base64' };
    if (this.opts.dimensions !== undefined) body.dimensions = this.opts.dimensions;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.opts.headers };
    if (this.opts.apiKey !== undefined) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const res = await request(this.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`embeddings endpoint answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const json = JSON.parse(text) as { data?: { index?: number; embedding?: unknown }[] };
    const data = Array.isArray(json.data) ? [...json.data] : [];
    if (data.length !== texts.length) throw new Error(`embeddings endpoint returned ${data.length} vectors for ${texts.length} texts`);
    data.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    const vectors = data.map((d) => decodeVector(d.embedding));
    const dims = vectors[0]?.length ?? 0;
    if (vectors.some((v) => v.length !== dims || dims === 0)) throw new Error('embeddings endpoint returned vectors of different sizes');
    if (this.knownDims === 0) this.knownDims = dims;
    else if (dims !== this.knownDims) throw new Error(`embeddings endpoint returned ${dims}-d vectors, expected ${this.knownDims}`);
    return vectors;
  }
}
