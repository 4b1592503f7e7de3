// Anthropic prompt caching, simulated closely enough for usage accounting to be tested:
//  - the prompt is a sequence of blocks in cache order (tools, system, messages);
//  - every block with `cache_control` is a breakpoint: the prefix up to and including it can be cached;
//  - the longest breakpoint prefix seen before (same model, same content) is a cache read; the
//    tokens from there to the last breakpoint are cache writes, counted under the TTL ('5m' or '1h')
//    of the breakpoint that closes each stretch; the rest of the prompt is plain input.
// Prefixes are identified by an incremental hash, so no prefix text is ever concatenated.
import { createHash } from 'node:crypto';

export interface PromptBlock {
  tokens: number;
  /** The block as sent; hashed only when the prompt has a breakpoint. */
  value: unknown;
  /** Set when the block carries `cache_control`. */
  ttl?: '5m' | '1h';
}

export interface CacheUsage {
  read: number;
  write5m: number;
  write1h: number;
}

const MAX_ENTRIES = 10_000;

export class PromptCache {
  private readonly seen = new Set<string>();

  /** The cache usage of a prompt, recording its breakpoint prefixes as written from now on. */
  use(model: string, blocks: readonly PromptBlock[]): CacheUsage {
    const usage: CacheUsage = { read: 0, write5m: 0, write1h: 0 };
    if (!blocks.some((b) => b.ttl !== undefined)) return usage;
    const hash = createHash('sha256').update(model);
    const points: { key: string; end: number; ttl: '5m' | '1h' }[] = [];
    let tokens = 0;
    for (const block of blocks) {
      hash.update(JSON.stringify(block.value) ?? '');
      tokens += block.tokens;
      if (block.ttl) points.push({ key: hash.copy().digest('base64'), end: tokens, ttl: block.ttl });
    }
    const hit = points.findLastIndex((p) => this.seen.has(p.key));
    let from = points[hit]?.end ?? 0;
    usage.read = from;
    for (const p of points.slice(hit + 1)) {
      if (p.ttl === '1h') usage.write1h += p.end - from;
      else usage.write5m += p.end - from;
      from = p.end;
    }
    if (this.seen.size > MAX_ENTRIES) this.seen.clear();
    for (const p of points) this.seen.add(p.key);
    return usage;
  }

  clear(): void {
    this.seen.clear();
  }
}
