// Semantic cache quality and timings: `node --import tsx test/cache/bench-semantic.ts [entries=50000] [--only=quality|timings] [--vectors=FILE]`.
//   - precision and recall, by hit kind, on mrpc-train.tsv (read from ../shared/data/paraphrase/ or
//     LLM_SIDECAR_MRPC_TSV): its odd pairs (odd line numbers of the file: the half the guard was
//     tuned on), its even pairs (held out: the out-of-sample figure), all of it; and on the
//     project's own pairs (semantic-pairs.json); with the default guard (DEFAULT_GUARD), and
//     CLOSE_GUARD (one replaced word in a long text), STRICT_GUARD (no attribution rule, the
//     second round's default) and LENIENT_GUARD beside it. Every hit is judged, strict rule and judged rule (protocol and
//     scoring in paraphrase-replay.ts); cross-pair hits nobody has judged yet are listed.
//     --vectors=FILE keeps the USE-lite vectors in FILE (JSON) between runs: embedding the 7,351
//     texts takes minutes on a loaded machine, and the vectors do not change with the guard;
//   - embedding ms per text with USE lite: one text per call (what a single request pays) and in
//     batches, inline and in the worker thread;
//   - index lookup µs at N entries: one big partition (HNSW) and N entries over many small
//     partitions (exact scans), plus build time and memory;
//   - the near-miss guard, µs per comparison.
// Index vectors are synthetic, embedding 50k texts with USE would take minutes: 'random' (uniform
// 512-d, the worst case for HNSW) and 'structured' (a 24-d latent space mapped into 512-d plus
// noise, closer to real sentence embeddings, which have a low intrinsic dimension).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CLOSE_GUARD, DEFAULT_GUARD, LENIENT_GUARD, nearMissGuard, STRICT_GUARD } from '../../proxy/cache/guard.ts';
import { USE_DEFAULT_THRESHOLD } from '../../proxy/cache/semantic-cache.ts';
import { embedAll, formatReplay, listHits, loadMrpc, mrpcPath, ownPairs, replayPairs, type LabelledPair } from './paraphrase-replay.ts';
import { SemanticIndex } from '../../proxy/cache/semantic-index.ts';
import { UseEmbedder } from '../../proxy/cache/use-embedder.ts';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 50_000);
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const vectorsFile = args.find((a) => a.startsWith('--vectors='))?.slice('--vectors='.length);
const DIMS = 512;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

function uniform(seed: number, dims: number): Float32Array {
  let x = seed * 2654435761 + 1;
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = ((x >>> 0) / 0xffffffff) * 2 - 1;
  }
  return v;
}

const LATENT = 24;
const MIX = Array.from({ length: DIMS }, (_, i) => uniform(1_000_000 + i, LATENT));

let kind: 'random' | 'structured' = 'random';

function randomVector(seed: number): Float32Array {
  if (kind === 'random') return uniform(seed, DIMS);
  const z = uniform(seed, LATENT);
  const noise = uniform(seed + 7_777_777, DIMS);
  return Float32Array.from(MIX, (row, i) => row.reduce((s, w, j) => s + w * (z[j] as number), 0) + 0.05 * (noise[i] as number));
}

async function embeddings(worker: boolean): Promise<void> {
  const e = new UseEmbedder({ worker });
  const t0 = performance.now();
  await e.embed(['warm up']);
  const load = performance.now() - t0;
  const texts = Array.from({ length: 64 }, (_, i) => `How do I configure feature number ${i} of my account settings?`);
  const single: number[] = [];
  for (const t of texts.slice(0, 30)) {
    const s = performance.now();
    await e.embed([t]);
    single.push(performance.now() - s);
  }
  const b0 = performance.now();
  await e.embed(texts);
  const batched = (performance.now() - b0) / texts.length;
  // Concurrent single-text calls (what concurrent requests do): merged into batches.
  const c0 = performance.now();
  await Promise.all(texts.map((t) => e.embed([t])));
  const concurrent = (performance.now() - c0) / texts.length;
  console.log(
    `embedding (${worker ? 'worker thread' : 'inline'}): load ${load.toFixed(0)} ms; one text per call p50 ${pct(single, 50).toFixed(1)} ms p95 ${pct(single, 95).toFixed(1)} ms; ` +
      `batch of 64: ${batched.toFixed(1)} ms/text; 64 concurrent calls: ${concurrent.toFixed(1)} ms/text`,
  );
  await e.close();
}

function index(partitions: number): void {
  const rss0 = process.memoryUsage().rss;
  const idx = new SemanticIndex({ dims: DIMS, maxEntries: N });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) idx.add(`ctx-${i % partitions}`, randomVector(i), `key-${i}`, `question ${i}`);
  const build = performance.now() - t0;
  const rss = (process.memoryUsage().rss - rss0) / 1024 / 1024;
  const times: number[] = [];
  let found = 0;
  const Q = 2_000;
  for (let q = 0; q < Q; q++) {
    const i = (q * 7919) % N;
    const v = randomVector(i).map((x, j) => x + (j % 7 === 0 ? 0.01 : 0));
    const s = performance.now();
    const hit = idx.lookup(`ctx-${i % partitions}`, v, 0.95);
    times.push((performance.now() - s) * 1000);
    if (hit?.key === `key-${i}`) found++;
  }
  // A miss (nothing above the threshold) explores more of the graph.
  const miss: number[] = [];
  for (let q = 0; q < 500; q++) {
    const s = performance.now();
    idx.lookup(`ctx-${q % partitions}`, randomVector(N + q), 0.95);
    miss.push((performance.now() - s) * 1000);
  }
  console.log(
    `index (${kind}), ${N} entries in ${partitions} partition(s): build ${(build / 1000).toFixed(1)} s (${((build * 1000) / N).toFixed(0)} µs/add), +${rss.toFixed(0)} MB RSS; ` +
      `lookup hit p50 ${pct(times, 50).toFixed(0)} µs p99 ${pct(times, 99).toFixed(0)} µs (recall ${((100 * found) / Q).toFixed(1)}%); miss p50 ${pct(miss, 50).toFixed(0)} µs p99 ${pct(miss, 99).toFixed(0)} µs`,
  );
  idx.clear();
}

function guard(): void {
  const pairs: [string, string][] = [
    ['How do I reset my password?', 'How can I reset my password?'],
    ['Convert 5 miles to kilometers.', 'Convert 5 kilometers to miles.'],
    ['What is the weather like in Paris today?', 'How is the weather in Paris today?'],
  ];
  const n = 20_000;
  const s = performance.now();
  for (let i = 0; i < n; i++) {
    const p = pairs[i % pairs.length] as [string, string];
    nearMissGuard(p[0], p[1], 0.9);
  }
  console.log(`guard: ${(((performance.now() - s) * 1000) / n).toFixed(1)} µs per comparison`);
}

async function vectorsFor(pairs: LabelledPair[]): Promise<Map<string, Float32Array>> {
  if (vectorsFile && existsSync(vectorsFile)) {
    const saved = new Map(Object.entries(JSON.parse(readFileSync(vectorsFile, 'utf8')) as Record<string, number[]>).map(([t, v]) => [t, Float32Array.from(v)]));
    if (pairs.every((p) => saved.has(p.s1) && saved.has(p.s2))) {
      console.log(`quality: ${saved.size} vectors read from ${vectorsFile}`);
      return saved;
    }
  }
  const e = new UseEmbedder({ worker: false });
  const t0 = performance.now();
  const vectors = await embedAll(e, pairs);
  await e.close();
  console.log(`quality: ${vectors.size} texts embedded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (vectorsFile) writeFileSync(vectorsFile, JSON.stringify(Object.fromEntries([...vectors].map(([t, v]) => [t, Array.from(v)]))));
  return vectors;
}

async function quality(): Promise<void> {
  const sets: [string, LabelledPair[]][] = [['own pairs (semantic-pairs.json)', ownPairs()]];
  if (existsSync(mrpcPath())) {
    const mrpc = loadMrpc();
    sets.push(
      ['mrpc-train odd pairs (tuning half)', mrpc.filter((_, i) => i % 2 === 1)],
      ['mrpc-train even pairs (held out)', mrpc.filter((_, i) => i % 2 === 0)],
      ['mrpc-train, all', mrpc],
    );
  } else console.log(`quality: ${mrpcPath()} not found (set LLM_SIDECAR_MRPC_TSV): own pairs only`);
  const vectors = await vectorsFor(sets.flatMap(([, p]) => p));
  console.log(`quality: threshold ${USE_DEFAULT_THRESHOLD}`);
  const table = ['| set | guard | semantic hits | right by label | wrong by label | cross-pair (judged same / different / not judged) | precision, strict rule | precision, judged | recall |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const [name, pairs] of sets) {
    for (const [guardName, strictness] of [['default', DEFAULT_GUARD], ['close (one replaced word, not the default)', CLOSE_GUARD], ['strict (no attribution rule)', STRICT_GUARD], ['lenient', LENIENT_GUARD]] as const) {
      const r = await replayPairs(pairs, { vectors, strictness });
      console.log(formatReplay(`${name}, guard ${guardName}`, r));
      // Hits nobody has judged are always listed (default guard): a person must read them.
      if (process.env.BENCH_LIST_HITS) console.log(listHits(r, ['wrong', 'unlabelled']));
      else if (strictness === DEFAULT_GUARD || strictness === CLOSE_GUARD) console.log(listHits({ ...r, hits: r.hits.filter((h) => h.verdict === 'wrong' || (h.verdict === 'unlabelled' && !h.judged)) }, ['wrong', 'unlabelled']));
      table.push(
        `| ${name} | ${guardName} | ${r.hits.length} | ${r.right} | ${r.wrong} | ${r.unlabelled} (${r.judgedRight} / ${r.judgedWrong} / ${r.unjudged}) | ${r.precision.toFixed(3)} | ${r.judgedPrecision.toFixed(3)} | ${r.recall.toFixed(4)} (${r.partnerParaphraseHits}/${r.paraphrases}) |`,
      );
    }
  }
  console.log(table.join('\n'));
}

if (only !== 'timings') await quality();
if (only !== 'quality') {
  await embeddings(false);
  await embeddings(true);
  for (const k of ['random', 'structured'] as const) {
    kind = k;
    index(1);
  }
  index(Math.ceil(N / 5));
  guard();
}
