// One error module for the whole product: every failure the sidecar itself produces has a stable
// code, an HTTP status, a retryable flag and the `error.type` value used on spans. Errors that come
// from a provider are passed through untouched and never use these codes.

export type ApiDialect = 'openai' | 'anthropic';

interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  /** `error.type` span attribute (low cardinality). */
  readonly errorType: string;
}

export const ERROR_CODES = {
  LLM_SIDECAR_INVALID_JSON: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_INVALID_REQUEST: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_JSON_TOO_DEEP: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_UNKNOWN_ROUTE: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_DIALECT_MISMATCH: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_BAD_REQUEST_TARGET: { status: 400, retryable: false, errorType: 'bad_request_target' },
  LLM_SIDECAR_METHOD_NOT_ALLOWED: { status: 405, retryable: false, errorType: 'method_not_allowed' },
  LLM_SIDECAR_REQUEST_TIMEOUT: { status: 408, retryable: false, errorType: 'request_timeout' },
  LLM_SIDECAR_NO_CREDENTIAL: { status: 401, retryable: false, errorType: 'no_credential' },
  LLM_SIDECAR_INPUT_TOO_LARGE: { status: 400, retryable: false, errorType: 'input_too_large' },
  LLM_SIDECAR_BUDGET_EXCEEDED: { status: 429, retryable: false, errorType: 'budget_exceeded' },
  LLM_SIDECAR_RATE_LIMITED: { status: 429, retryable: true, errorType: 'rate_limited' },
  LLM_SIDECAR_BUDGET_UNAVAILABLE: { status: 503, retryable: true, errorType: 'budget_unavailable' },
  LLM_SIDECAR_NOT_FOUND: { status: 404, retryable: false, errorType: 'not_found' },
  LLM_SIDECAR_INVALID_FEEDBACK: { status: 400, retryable: false, errorType: 'invalid_request' },
  LLM_SIDECAR_UNKNOWN_CALL: { status: 404, retryable: false, errorType: 'not_found' },
  LLM_SIDECAR_FEEDBACK_UNAVAILABLE: { status: 503, retryable: true, errorType: 'store_unavailable' },
  LLM_SIDECAR_NO_PROVIDER: { status: 404, retryable: false, errorType: 'no_provider' },
  LLM_SIDECAR_BODY_TOO_LARGE: { status: 413, retryable: false, errorType: 'request_too_large' },
  LLM_SIDECAR_UPSTREAM_UNREACHABLE: { status: 502, retryable: true, errorType: 'upstream_unreachable' },
  LLM_SIDECAR_UPSTREAM_CONNECTION_RESET: { status: 502, retryable: true, errorType: 'upstream_connection_reset' },
  LLM_SIDECAR_UPSTREAM_STREAM_CUT: { status: 502, retryable: false, errorType: 'upstream_stream_cut' },
  LLM_SIDECAR_UPSTREAM_STREAM_ERROR: { status: 502, retryable: true, errorType: 'upstream_stream_error' },
  LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE: { status: 502, retryable: true, errorType: 'upstream_invalid_response' },
  LLM_SIDECAR_UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, retryable: false, errorType: 'upstream_response_too_large' },
  LLM_SIDECAR_UPSTREAM_TIMEOUT: { status: 504, retryable: true, errorType: 'timeout' },
  LLM_SIDECAR_CIRCUIT_OPEN: { status: 503, retryable: true, errorType: 'circuit_open' },
  LLM_SIDECAR_SHUTTING_DOWN: { status: 503, retryable: true, errorType: 'shutting_down' },
  LLM_SIDECAR_INTERNAL: { status: 500, retryable: false, errorType: '_OTHER' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly errorType: string;
  /** Headers the answer carries besides the error's own (`retry-after`, `allow`, `connection: close`). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options);
    this.name = 'SidecarError';
    this.code = code;
    const spec: ErrorSpec = ERROR_CODES[code];
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.errorType = spec.errorType;
    this.headers = options?.headers;
  }
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError;
}

// The error `type` each API would use for a given status, so SDKs map our errors to their own classes.
function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** The JSON body of an error in the inbound API's own shape. */
export function errorBody(dialect: ApiDialect, err: SidecarError): Record<string, unknown> {
  if (dialect === 'anthropic') {
    return { type: 'error', error: { type: anthropicType(err.status), message: err.message } };
  }
  return { error: { message: err.message, type: openAiType(err.status), param: null, code: err.code } };
}

/** An SSE event carrying the error, for failures after a stream's headers went out. */
export function errorEvent(dialect: ApiDialect, err: SidecarError): string {
  const body = JSON.stringify(errorBody(dialect, err));
  return dialect === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`;
}

/** Wraps anything thrown into a SidecarError without leaking internals (or secrets) to the client. */
export function toSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  return new SidecarError('LLM_SIDECAR_INTERNAL', 'internal error in llm-sidecar', { cause: err });
}
