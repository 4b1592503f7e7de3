// End-user feedback on a call (thumbs, a score, a comment) → llm_feedback. Validated with zod so an
// HTTP endpoint can answer 400 with the reasons (FeedbackValidationError.issues). One row per
// call × user × source: a later change of mind replaces the earlier one (ReplacingMergeTree by
// Timestamp, the time the feedback was given).
//
// The lookup of the call and the row written are shared with the proxy's HTTP endpoint
// (shared/feedback.ts); this is the library form for apps that hold a store themselves.
//
// Without spanId, the feedback is attached to the trace's LAST gen_ai call (the answer the user
// saw after any tool loop), looked up in llm_calls, which also gives the ServiceName; when the
// call is not there yet (spans still in flight), it is stored with an empty SpanId and the
// ServiceName given (or '').
import { z } from 'zod';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { feedbackScoreSchema, findFeedbackCall, traceIdSchema, writeFeedback } from '../shared/feedback.ts';

export const FeedbackSchema = z.strictObject({
  /** W3C trace id of the call (32 hex digits), e.g. from the response's traceparent. */
  traceId: traceIdSchema,
  /** The gen_ai call's span id (16 hex digits); absent → the trace's last LLM call. */
  spanId: z.string().regex(/^[0-9a-f]{16}$/, 'a span id is 16 lowercase hex digits').optional(),
  /** Who gave it (the app's user id). */
  user: z.string().trim().min(1, 'user is required').max(256),
  /** −1 / +1 for thumbs, or a small integer scale (stars 1–5, 0–10…). */
  score: feedbackScoreSchema,
  comment: z.string().max(4000).optional(),
  /** Where it came from: `web-thumbs`, `api`, `support-review`… */
  source: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'source: 1–64 letters, digits, _ . : -'),
  /** Only used when the call cannot be found (its spans not stored yet). */
  serviceName: z.string().max(256).optional(),
});

export type FeedbackInput = z.input<typeof FeedbackSchema>;

export class FeedbackValidationError extends Error {
  override readonly name = 'FeedbackValidationError';
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid feedback: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

export interface StoredFeedback {
  traceId: string;
  spanId: string;
  serviceName: string;
  user: string;
  score: number;
  comment: string;
  source: string;
  /** Epoch ms: the row's Timestamp (the version of the row). */
  timestamp: number;
  /** False when the call was not found in llm_calls (SpanId/ServiceName not resolved). */
  matchedCall: boolean;
}

export interface RecordFeedbackOptions {
  database?: string;
  now?: () => number;
}

/** Throws FeedbackValidationError on invalid input (nothing is written). */
export function parseFeedback(input: unknown): z.output<typeof FeedbackSchema> {
  const r = FeedbackSchema.safeParse(input);
  if (!r.success) throw new FeedbackValidationError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  return r.data;
}

export async function recordFeedback(store: ClickHouseStore, input: unknown, options: RecordFeedbackOptions = {}): Promise<StoredFeedback> {
  const f = parseFeedback(input);
  const database = options.database ?? store.database;
  const timestamp = (options.now ?? Date.now)();
  const call = await findFeedbackCall(store, database, f.traceId, f.spanId);
  const stored: StoredFeedback = {
    traceId: f.traceId,
    spanId: call?.spanId ?? f.spanId ?? '',
    serviceName: call?.serviceName ?? f.serviceName ?? '',
    user: f.user,
    score: f.score,
    comment: f.comment ?? '',
    source: f.source,
    timestamp,
    matchedCall: call !== undefined,
  };
  await writeFeedback(store, database, {
    timestamp,
    call: { traceId: stored.traceId, spanId: stored.spanId, serviceName: stored.serviceName },
    user: stored.user,
    score: stored.score,
    label: '',
    comment: stored.comment,
    source: stored.source,
    name: '',
  });
  return stored;
}
