// A semantic hit's audit trail on its span: the similarity and the hit kind always, the cached
// question it matched only with content capture on, and then redacted (it is another user's text).
// The hit comes from a real SemanticCache lookup (vectors from a fixed stand-in embedder: the
// embedder is not what is tested here).
import { describe, expect, it } from 'vitest';
import { cacheScope, type CacheKeyInput } from '../../proxy/cache/cache-key.ts';
import { SemanticCache } from '../../proxy/cache/semantic-cache.ts';
import { semanticMatchOf } from '../../proxy/pipeline/cache-read.ts';
import { semanticHitAttributes } from '../../proxy/telemetry/span-recorder.ts';
import { Redactor } from '../../shared/telemetry/redact.ts';
import { ATTR_LLM_SIDECAR_CACHE_SEMANTIC_KIND, ATTR_LLM_SIDECAR_CACHE_SEMANTIC_MATCHED_QUESTION, ATTR_LLM_SIDECAR_CACHE_SEMANTIC_SIMILARITY } from '../../shared/telemetry/semconv.ts';

const CACHED = 'How do I change the email jane.doe@example.com on my account?';
const ASKED = 'How can I change the email jane.doe@example.com on my account?';

const request = (text: string): CacheKeyInput => ({
  scope: cacheScope({ tenant: 't1' }),
  dialect: 'openai',
  operation: 'chat',
  provider: 'openai',
  model: 'gpt-4o-mini',
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] },
});

async function hit() {
  // Two nearly parallel vectors: similarity ≈ 0.995.
  const vectors: Record<string, number[]> = { [CACHED]: [1, 0, 0, 0], [ASKED]: [1, 0.1, 0, 0] };
  const cache = new SemanticCache({ embedder: { dims: 4, embed: (texts) => Promise.resolve(texts.map((t) => Float32Array.from(vectors[t] ?? [0, 0, 0, 1]))) } });
  await cache.add(cache.prepare(request(CACHED)) as NonNullable<ReturnType<typeof cache.prepare>>, 'k1', Date.now() + 60_000);
  const found = await cache.lookup(cache.prepare(request(ASKED)) as NonNullable<ReturnType<typeof cache.prepare>>);
  if (!found.hit) throw new Error('expected a semantic hit');
  return found.hit;
}

describe('semantic hit attributes', () => {
  it('with content capture: the matched question, redacted, beside similarity and kind', async () => {
    const attrs = semanticHitAttributes(semanticMatchOf(await hit()), true, new Redactor());
    expect(attrs[ATTR_LLM_SIDECAR_CACHE_SEMANTIC_SIMILARITY]).toBeCloseTo(0.995, 3);
    expect(attrs[ATTR_LLM_SIDECAR_CACHE_SEMANTIC_KIND]).toBe('rephrase');
    const q = String(attrs[ATTR_LLM_SIDECAR_CACHE_SEMANTIC_MATCHED_QUESTION]);
    expect(q).toMatch(/^How do I change the email \[REDACTED:\w+\] on my account\?$/);
    expect(q).not.toContain('jane.doe');
  });

  it('without content capture: no question text at all', async () => {
    const attrs = semanticHitAttributes(semanticMatchOf(await hit()), false, new Redactor());
    expect(Object.keys(attrs).sort()).toEqual([ATTR_LLM_SIDECAR_CACHE_SEMANTIC_KIND, ATTR_LLM_SIDECAR_CACHE_SEMANTIC_SIMILARITY].sort());
  });
});
