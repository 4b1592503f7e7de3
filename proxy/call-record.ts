// What the proxy knows about one finished LLM call: the unit that telemetry, metrics and (later)
// budgets consume. Built once per call after the answer went out, off the request path.
import type { ApiDialect, ErrorCode } from '../shared/errors.ts';
import type { NormalizedUsage } from '../shared/usage.ts';

export interface CallRecord {
  requestId: string;
  /** Epoch milliseconds when the request arrived. */
  startedAt: number;
  path: string;
  dialect: ApiDialect;
  /** `gen_ai.operation.name`. */
  operation: string;
  route: string;
  providerName: string;
  providerType: ApiDialect;
  requestModel: string;
  /** Model sent upstream (after alias mapping). */
  upstreamModel: string;
  responseModel?: string;
  responseId?: string;
  finishReasons?: string[];
  stream: boolean;
  tenant?: string;
  user?: string;
  feature?: string;
  /** Status the app received (for a stream cut after headers: the original 200). */
  httpStatus: number;
  /** Status the provider answered with, when it answered. */
  upstreamStatus?: number;
  errorCode?: ErrorCode;
  /** `error.type` for spans: a sidecar error type, or the provider's HTTP status class. */
  errorType?: string;
  usage?: NormalizedUsage;
  /** Exact decimal USD; undefined when the model has no price (cost unknown, never 0). */
  costUsd?: string;
  durationMs: number;
  timeToFirstChunkMs?: number;
  overheadMs: number;
  attempts: number;
  /** The provider's end-of-answer marker was seen. */
  completed: boolean;
  clientAborted: boolean;
}

export interface CallRecorder {
  record(call: CallRecord): void;
}

/** Fans a record out to several consumers; one failing consumer never affects the others or the request. */
export class CompositeRecorder implements CallRecorder {
  constructor(private readonly recorders: CallRecorder[]) {}

  record(call: CallRecord): void {
    for (const r of this.recorders) {
      try {
        r.record(call);
      } catch (err) {
        console.error(`llm-sidecar: call recorder failed: ${(err as Error).message}`);
      }
    }
  }
}
