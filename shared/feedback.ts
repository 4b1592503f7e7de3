// End users' feedback on a call, as the proxy's HTTP endpoint, the `llm-sidecar feedback` command and
// the evaluator's `recordFeedback` library call all store it in llm_feedback. Shared because the
// proxy and the evaluator never import each other: the HTTP body's zod schema, finding the call a
// request id or trace id names, and the row written.
//
// One row per call × user × source × name (ReplacingMergeTree by Timestamp, the time the feedback
// was given): a repeated or changed thumbs replaces the earlier one.
import { z } from 'zod';
import { ATTR_LLM_SIDECAR_REQUEST_ID } from './telemetry/semconv.ts';
import { LLM_CALLS as C, LLM_FEEDBACK as F, OTEL_TRACES as T, TABLE_LLM_CALLS, TABLE_LLM_FEEDBACK, TABLE_OTEL_TRACES, qualified } from './clickhouse/schema.ts';
import type { ClickHouseStore } from './clickhouse/store.ts';
import { isWellFormed } from './text.ts';

/** Integer scores the table holds (Int8): −1/+1 thumbs, stars 1–5, 0–10 scales. */
export const FEEDBACK_SCORE_MIN = -100;
export const FEEDBACK_SCORE_MAX = 100;
/** Names, labels and sources: short, log- and dashboard-safe tokens. */
const TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;
const TOKEN_MESSAGE = '1–64 letters, digits, _ . : -';

export const traceIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'a trace id is 32 lowercase hex digits')
  .refine((t) => !/^0+$/.test(t), 'the all-zero trace id is invalid');
export const feedbackScoreSchema = z
  .number()
  .int('a numeric value must be a whole number (thumbs −1/+1, stars 1–5, 0–10…)')
  .min(FEEDBACK_SCORE_MIN)
  .max(FEEDBACK_SCORE_MAX);

/**
 * Body of `POST /llm-sidecar/v1/feedback`. The call is named by the `x-llm-sidecar-request-id` its
 * response carried, or by its W3C trace id (exactly one of the two).
 */
// A lone surrogate (`"\ud800"`) is valid JSON but no text: ClickHouse refused the row, and the app
// got a 503 telling it to retry what can never be stored. Refused here, for the endpoint and the CLI.
const NOT_TEXT = 'a lone UTF-16 surrogate (\\ud800–\\udfff without its pair) is not text';

export const FeedbackRequestSchema = z
  .strictObject({
    requestId: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'a request id is 1–128 visible ASCII characters').optional(),
    traceId: traceIdSchema.optional(),
    /** The kind of feedback: `thumbs`, `stars`, `correct`… */
    name: z.string().regex(TOKEN, `name: ${TOKEN_MESSAGE}`),
    /** A whole number (−100…100) or a label (`wrong-order`, `hallucination`). */
    value: z.union([feedbackScoreSchema, z.string().regex(TOKEN, `a label value is ${TOKEN_MESSAGE}`)]),
    comment: z.string().max(4000).refine(isWellFormed, NOT_TEXT).optional(),
    /** Who gave it (the app's user id); absent → anonymous (''). */
    user: z.string().trim().min(1, 'user, when given, is not empty').max(256).refine(isWellFormed, NOT_TEXT).optional(),
  })
  .refine((b) => (b.requestId === undefined) !== (b.traceId === undefined), { message: 'give exactly one of requestId or traceId', path: ['requestId'] });

export type FeedbackRequest = z.output<typeof FeedbackRequestSchema>;

export interface FeedbackIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): FeedbackIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export function describeIssues(issues: readonly FeedbackIssue[]): string {
  return issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ');
}

/** The gen_ai call feedback attaches to. */
export interface FeedbackCall {
  traceId: string;
  spanId: string;
  serviceName: string;
}

/**
 * The call a trace's feedback is about: the given span, or the trace's LAST LLM call (the answer the
 * user saw after any tool loop). TraceId has a bloom-filter index in llm_calls: a few granules read.
 */
export async function findFeedbackCall(store: ClickHouseStore, database: string, traceId: string, spanId?: string): Promise<FeedbackCall | undefined> {
  const [call] = await store.query<{ spanId: string; serviceName: string }>(
    `SELECT ${C.SpanId} AS spanId, ${C.ServiceName} AS serviceName
FROM ${qualified(database, TABLE_LLM_CALLS)}
WHERE ${C.TraceId} = {trace:String}${spanId !== undefined ? ` AND ${C.SpanId} = {span:String}` : ''}
ORDER BY ${C.Timestamp} DESC
LIMIT 1`,
    spanId !== undefined ? { trace: traceId, span: spanId } : { trace: traceId },
  );
  return call ? { traceId, spanId: call.spanId, serviceName: call.serviceName } : undefined;
}

/**
 * The trace id of the request that had `requestId` (its SERVER span's llm_sidecar.request_id),
 * the latest one in the last `withinDays` days (an app may reuse x-request-id values).
 */
export async function traceIdForRequestId(store: ClickHouseStore, database: string, requestId: string, withinDays = 30): Promise<string | undefined> {
  const [row] = await store.query<{ traceId: string }>(
    `SELECT ${T.TraceId} AS traceId
FROM ${qualified(database, TABLE_OTEL_TRACES)}
WHERE ${T.Timestamp} >= now64(9) - INTERVAL ${Math.max(1, Math.floor(withinDays))} DAY
  AND ${T.SpanKind} IN ('Server', 'SPAN_KIND_SERVER')
  AND ${T.SpanAttributes}['${ATTR_LLM_SIDECAR_REQUEST_ID}'] = {rid:String}
ORDER BY ${T.Timestamp} DESC
LIMIT 1`,
    { rid: requestId },
  );
  return row?.traceId;
}

export interface FeedbackRow {
  /** Epoch ms: the row's version (the later one wins). */
  timestamp: number;
  call: FeedbackCall;
  user: string;
  score: number;
  label: string;
  comment: string;
  source: string;
  name: string;
}

/** DateTime64(3) insert value from epoch milliseconds. */
function msToDateTime64(ms: number): string {
  return (Math.floor(ms) / 1000).toFixed(3);
}

export async function writeFeedback(store: ClickHouseStore, database: string, row: FeedbackRow): Promise<void> {
  await store.insert(`${database}.${TABLE_LLM_FEEDBACK}`, [
    {
      [F.Timestamp]: msToDateTime64(row.timestamp),
      [F.TraceId]: row.call.traceId,
      [F.SpanId]: row.call.spanId,
      [F.ServiceName]: row.call.serviceName,
      [F.User]: row.user,
      [F.Score]: row.score,
      [F.Comment]: row.comment,
      [F.Source]: row.source,
      [F.Name]: row.name,
      [F.Label]: row.label,
    },
  ]);
}
