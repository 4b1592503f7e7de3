// `POST /llm-sidecar/v1/feedback` on the traffic port: an app sends its user's thumbs-down (or
// stars, or a label) on a call it made through the sidecar, naming the call by the
// `x-llm-sidecar-request-id` of its response or by its trace id. Stored in llm_feedback against the
// call's gen_ai span, so the Quality dashboard sets it beside the judges' scores.
//
// Every outcome is an answer: 202 stored; 400 (body not JSON, or breaks the schema: every bad field
// named); 404 no such call stored (yet); 405 another method; 413 body over 16 KiB; 503 no store
// or the store failing (retry: the same feedback again replaces, never duplicates).
//
// The sidecar remembers its recent calls' request id → trace id, so feedback that arrives before
// the call's spans reach ClickHouse pushes the spans out once (flush) instead of failing.
import { RESPONSE_HEADERS } from '../shared/sidecar-headers.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';
import { SidecarError } from '../shared/errors.ts';
import { FeedbackRequestSchema, describeIssues, findFeedbackCall, issuesOf, traceIdForRequestId, writeFeedback, type FeedbackCall, type FeedbackRequest } from '../shared/feedback.ts';
import type { CallRecord, CallRecorder } from './call-record.ts';
import { readBody } from './request-body.ts';
import { sendJson } from './respond.ts';
import type { OwnEndpoint } from './server.ts';

export const FEEDBACK_PATH = '/llm-sidecar/v1/feedback';
/** A feedback body is a few hundred bytes; 16 KiB leaves room for a 4,000-character comment. */
export const FEEDBACK_MAX_BODY_BYTES = 16 * 1024;
/** Where HTTP feedback comes from, in llm_feedback.Source (the CLI posts here too). */
export const FEEDBACK_SOURCE_HTTP = 'http';

export interface FeedbackEndpointOptions {
  /** The telemetry store; undefined (telemetry.clickhouse.mode off) → every request is a 503. */
  store: ClickHouseStore | undefined;
  database: string;
  /** Pushes finished calls' spans to the store; used when a call of this sidecar is not stored yet. */
  flush?: () => Promise<void>;
  /** Request ids remembered (request id → trace id), oldest forgotten first. */
  recentCalls?: number;
  now?: () => number;
}

export interface FeedbackAccepted {
  status: 'accepted';
  traceId: string;
  spanId: string;
  name: string;
  user: string;
}

export class FeedbackEndpoint implements OwnEndpoint, CallRecorder {
  private readonly recent = new Map<string, string>();
  private readonly capacity: number;
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: FeedbackEndpointOptions) {
    this.capacity = options.recentCalls ?? 20_000;
  }

  /** CallRecorder: remember which trace each recent request id belongs to. */
  record(call: CallRecord): void {
    this.recent.delete(call.requestId);
    this.recent.set(call.requestId, call.traceId);
    if (this.recent.size > this.capacity) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new SidecarError('LLM_SIDECAR_METHOD_NOT_ALLOWED', `${FEEDBACK_PATH} takes POST, not ${req.method ?? '(none)'}`);
    }
    const raw = await readBody(req, FEEDBACK_MAX_BODY_BYTES);
    const body = parseBody(raw);
    const store = this.options.store;
    if (!store) {
      throw new SidecarError('LLM_SIDECAR_FEEDBACK_UNAVAILABLE', 'feedback is stored in ClickHouse and this sidecar has none (telemetry.clickhouse.mode is off)');
    }
    const call = await this.storeStep('look up the call', () => this.resolve(store, body));
    const user = body.user ?? '';
    await this.storeStep('store the feedback', () =>
      writeFeedback(store, this.options.database, {
        timestamp: (this.options.now ?? Date.now)(),
        call,
        user,
        score: typeof body.value === 'number' ? body.value : 0,
        label: typeof body.value === 'string' ? body.value : '',
        comment: body.comment ?? '',
        source: FEEDBACK_SOURCE_HTTP,
        name: body.name,
      }),
    );
    const accepted: FeedbackAccepted = { status: 'accepted', traceId: call.traceId, spanId: call.spanId, name: body.name, user };
    sendJson(res, 202, accepted, { [RESPONSE_HEADERS.requestId]: requestId, [RESPONSE_HEADERS.sidecarRequestId]: requestId });
  }

  private async resolve(store: ClickHouseStore, body: FeedbackRequest): Promise<FeedbackCall> {
    const db = this.options.database;
    const named = body.traceId !== undefined ? `trace id ${body.traceId}` : `request id ${body.requestId}`;
    let traceId = body.traceId ?? this.recent.get(body.requestId as string);
    if (traceId === undefined) traceId = await traceIdForRequestId(store, db, body.requestId as string);
    if (traceId === undefined) throw unknownCall(named);
    let call = await findFeedbackCall(store, db, traceId);
    if (!call && this.options.flush) {
      // The call may be this sidecar's and its spans still in the export batch: push them out once
      // (one flush shared by concurrent requests), then look again.
      this.flushing ??= this.options.flush().finally(() => (this.flushing = undefined));
      await this.flushing;
      call = await findFeedbackCall(store, db, traceId);
    }
    if (!call) throw unknownCall(named);
    return call;
  }

  /** Store failures become a retryable 503 of ours (never a 500, never a lost answer). */
  private async storeStep<T>(what: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof SidecarError) throw err;
      throw new SidecarError('LLM_SIDECAR_FEEDBACK_UNAVAILABLE', `could not ${what}: the ClickHouse store failed (${(err as Error).message}); retry, the same feedback replaces rather than duplicates`, { cause: err });
    }
  }
}

function unknownCall(named: string): SidecarError {
  return new SidecarError('LLM_SIDECAR_UNKNOWN_CALL', `no LLM call with ${named} is stored (unknown, or its spans not stored yet: retry in a few seconds)`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseBody(raw: Buffer): FeedbackRequest {
  let json: unknown;
  try {
    // JSON is UTF-8 (RFC 8259 §8.1): invalid bytes are refused, not stored as U+FFFD.
    json = JSON.parse(utf8.decode(raw));
  } catch (err) {
    throw new SidecarError('LLM_SIDECAR_INVALID_FEEDBACK', `feedback body is not valid JSON (or not UTF-8): ${(err as Error).message}`);
  }
  const parsed = FeedbackRequestSchema.safeParse(json);
  if (!parsed.success) throw new SidecarError('LLM_SIDECAR_INVALID_FEEDBACK', `invalid feedback: ${describeIssues(issuesOf(parsed.error))}`);
  return parsed.data;
}
