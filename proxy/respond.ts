// Responses the sidecar writes itself: errors in the inbound API's own shape, always marked with
// `x-llm-sidecar-error` so they are never mistaken for a provider's.
import type { ServerResponse } from 'node:http';
import { errorBody, type ApiDialect, type SidecarError } from '../shared/errors.ts';
import { RESPONSE_HEADERS } from '../shared/sidecar-headers.ts';

/** The error each response carried, when the sidecar answered with one (read back for the call record). */
const sent = new WeakMap<ServerResponse, SidecarError>();

export function errorSentOn(res: ServerResponse): SidecarError | undefined {
  return sent.get(res);
}

/** The error in the app's API shape, with the headers the error itself carries (Retry-After, Allow, …). */
export function sendError(res: ServerResponse, dialect: ApiDialect, err: SidecarError, requestId: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(dialect, err));
  sent.set(res, err);
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [RESPONSE_HEADERS.error]: err.code,
    [RESPONSE_HEADERS.requestId]: requestId,
    [RESPONSE_HEADERS.sidecarRequestId]: requestId,
    ...err.headers,
    ...extraHeaders,
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
