// The semantic cache of one sidecar, set up from the configuration: the index, its embedder and,
// with a Redis cache store, the sync that shares entries between sidecars. Imported by proxy/main.ts
// only when some route enables semantic caching, so that its native vector index and the embedder
// are not loaded (nor their memory taken) otherwise.
import { logger } from '../../shared/log.ts';
import type { Config } from '../../shared/config/schema.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Embedder } from './embedder.ts';
import { OpenAIEmbedder } from './openai-embedder.ts';
import { SemanticCache } from './semantic-cache.ts';
import { SemanticRedisSync } from './semantic-sync.ts';
import { UseEmbedder } from './use-embedder.ts';

/** One semantic index per sidecar; the embedder is loaded on the first lookup, in a worker thread. */
export function createSemanticCache(config: Config, metrics: ProxyMetrics): { cache: SemanticCache; embedder: Embedder; embedderId: string } {
  const e = config.cache.embedder;
  const embedder: Embedder = e.type === 'openai' ? new OpenAIEmbedder({ baseUrl: e.baseUrl, model: e.model, apiKey: e.apiKey }) : new UseEmbedder();
  const thresholds = Object.values(config.routes).map((r) => r.cache?.semantic?.threshold).filter((t): t is number => t !== undefined);
  const cache = new SemanticCache({
    embedder,
    threshold: thresholds.length > 0 ? Math.max(...thresholds) : undefined,
    onError: (err, op) => {
      metrics.cacheError(`semantic_${op}`);
      logger.warn({ op, err: err.message }, 'semantic cache operation failed (served as a miss)');
    },
  });
  return { cache, embedder, embedderId: e.type === 'openai' ? `openai:${e.model}` : 'use-lite-512' };
}

/**
 * With a Redis cache store, semantic entries are shared too: a new sidecar warms its index from
 * Redis at start and follows what the other sidecars learn while it runs.
 */
export async function shareSemantic(config: Config, semantic: { cache: SemanticCache; embedderId: string }, metrics: ProxyMetrics): Promise<SemanticRedisSync | undefined> {
  if (config.cache.store.type !== 'redis') return undefined;
  const sync = new SemanticRedisSync({
    connection: config.cache.store,
    ...(config.cache.store.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: config.cache.store.commandTimeoutMs }),
    embedderId: semantic.embedderId,
    onError: (err, op) => {
      metrics.cacheError(`semantic_sync_${op}`);
      logger.warn({ op, err: err.message }, 'semantic cache sync failed');
    },
  });
  await sync.warm(semantic.cache.index);
  sync.start(semantic.cache.index);
  semantic.cache.publisher = sync;
  return sync;
}

