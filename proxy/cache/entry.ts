// The cache entry: one successful answer, stored in the shape it arrived in (a JSON body or the raw
// SSE events), so that a hit replays exactly what the provider said — every reasoning/thinking
// delta, tool-call delta and the usage event included — and can still be served in the other
// shape (replay.ts). Entries are stored in the app's dialect: what the app received, after any
// cross-provider translation.
//
// Decoding is defensive: whatever comes back from Redis (another version, a truncated value, a
// foreign key) is validated with zod, and anything that does not validate is a miss, never a crash.
import { z } from 'zod';
import type { ApiDialect } from '../../shared/errors.ts';
import type { NormalizedUsage } from '../../shared/usage.ts';

export interface CachedSseEvent {
  /** The `event:` name (Anthropic, Responses API); absent for OpenAI chat's data-only events. */
  event?: string;
  /** The `data:` payload, as received (JSON text, or `[DONE]`). */
  data: string;
}

export interface CacheEntry {
  v: 1;
  /** The API dialect of the stored answer (the app's). */
  dialect: ApiDialect;
  /** 'chat' | 'responses' | 'embeddings' … */
  operation: string;
  kind: 'json' | 'stream';
  status: 200;
  /** Content type of the original response. */
  contentType: string;
  /** kind 'json': the response body (JSON text). */
  body?: string;
  /** kind 'stream': the SSE events in order, as received. */
  events?: CachedSseEvent[];
  /** The model that actually answered. */
  model: string;
  /** The provider that answered (its config name), when known. */
  provider?: string;
  usage: NormalizedUsage;
  /** Cost of the original call in USD (decimal string), when known. */
  costUsd?: string;
  /** ms since epoch. */
  createdAt: number;
  /** ms since epoch; after this the entry is only served as stale. */
  expiresAt: number;
}

const count = z.number().int().nonnegative();

const usageSchema = z.object({
  inputTokens: count,
  cacheReadTokens: count,
  cacheWrite5mTokens: count,
  cacheWrite1hTokens: count,
  outputTokens: count,
  reasoningTokens: count,
}) satisfies z.ZodType<NormalizedUsage>;

const eventSchema = z.object({ event: z.string().optional(), data: z.string() });

export const cacheEntrySchema = z
  .object({
    v: z.literal(1),
    dialect: z.enum(['openai', 'anthropic']),
    operation: z.string().min(1),
    kind: z.enum(['json', 'stream']),
    status: z.literal(200),
    contentType: z.string(),
    body: z.string().optional(),
    events: z.array(eventSchema).optional(),
    model: z.string(),
    provider: z.string().optional(),
    usage: usageSchema,
    costUsd: z.string().regex(/^\d+(\.\d+)?$/).optional(),
    createdAt: z.number().finite(),
    expiresAt: z.number().finite(),
  })
  .refine((e) => (e.kind === 'json' ? e.body !== undefined : e.events !== undefined && e.events.length > 0), {
    message: 'a json entry needs a body, a stream entry needs events',
  }) satisfies z.ZodType<CacheEntry>;

export function encodeEntry(entry: CacheEntry): string {
  return JSON.stringify(entry);
}

/** The entry in `text`, or undefined for anything that is not a valid entry (a miss). Never throws. */
export function decodeEntry(text: string | Buffer | null | undefined): CacheEntry | undefined {
  if (text === null || text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = cacheEntrySchema.safeParse(json);
  return parsed.success ? (parsed.data as CacheEntry) : undefined;
}

/** Approximate memory/storage footprint: the UTF-8 size of the encoded entry. */
export function entryBytes(entry: CacheEntry): number {
  return Buffer.byteLength(encodeEntry(entry), 'utf8');
}

export function isFresh(entry: CacheEntry, now = Date.now()): boolean {
  return now < entry.expiresAt;
}

export interface NewEntryInput {
  dialect: ApiDialect;
  operation: string;
  model: string;
  provider?: string;
  usage: NormalizedUsage;
  costUsd?: string;
  /** Freshness lifetime. */
  ttlMs: number;
  now?: number;
  contentType?: string;
}

function base(input: NewEntryInput, contentType: string): Omit<CacheEntry, 'kind' | 'body' | 'events'> {
  const now = input.now ?? Date.now();
  const out: Omit<CacheEntry, 'kind' | 'body' | 'events'> = {
    v: 1,
    dialect: input.dialect,
    operation: input.operation,
    status: 200,
    contentType: input.contentType ?? contentType,
    model: input.model,
    usage: { ...input.usage },
    createdAt: now,
    expiresAt: now + input.ttlMs,
  };
  if (input.provider !== undefined) out.provider = input.provider;
  if (input.costUsd !== undefined) out.costUsd = input.costUsd;
  return out;
}

/** An entry for a JSON answer (the response body text as received). */
export function jsonEntry(input: NewEntryInput & { body: string }): CacheEntry {
  return { ...base(input, 'application/json'), kind: 'json', body: input.body };
}

/** An entry for a complete stream (see StreamRecorder for collecting the events). */
export function streamEntry(input: NewEntryInput & { events: CachedSseEvent[] }): CacheEntry {
  return { ...base(input, 'text/event-stream; charset=utf-8'), kind: 'stream', events: input.events.map((e) => (e.event === undefined ? { data: e.data } : { event: e.event, data: e.data })) };
}
