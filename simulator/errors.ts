// Provider errors in each API's own shape, so the SDKs map them to their typed error classes:
//   OpenAI    {"error":{"message","type","param":null,"code"}}
//   Anthropic {"type":"error","error":{"type","message"}}
import type { OutgoingHttpHeaders } from 'node:http';
import { jsonPlan, type Dialect, type Plan } from './plan.ts';

interface ErrorKind {
  openai: { type: string; code: string | null };
  anthropic: string;
  message: string;
}

// What each provider really sends for a status (OpenAI's 429 type is the limit that was hit).
const KINDS: Record<number, ErrorKind> = {
  400: { openai: { type: 'invalid_request_error', code: null }, anthropic: 'invalid_request_error', message: 'Invalid request.' },
  401: { openai: { type: 'invalid_request_error', code: 'invalid_api_key' }, anthropic: 'authentication_error', message: 'Incorrect API key provided.' },
  403: { openai: { type: 'invalid_request_error', code: 'permission_denied' }, anthropic: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { openai: { type: 'invalid_request_error', code: 'not_found' }, anthropic: 'not_found_error', message: 'Not found.' },
  413: { openai: { type: 'invalid_request_error', code: 'request_too_large' }, anthropic: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { openai: { type: 'requests', code: 'rate_limit_exceeded' }, anthropic: 'rate_limit_error', message: 'Rate limit reached for requests. Please try again later.' },
  500: { openai: { type: 'server_error', code: 'server_error' }, anthropic: 'api_error', message: 'The server had an error while processing your request.' },
  503: { openai: { type: 'server_error', code: 'service_unavailable' }, anthropic: 'overloaded_error', message: 'The engine is currently overloaded, please try again later.' },
  529: { openai: { type: 'server_error', code: 'overloaded' }, anthropic: 'overloaded_error', message: 'Overloaded' },
};

function kindFor(status: number): ErrorKind {
  return KINDS[status] ?? (status >= 500 ? { ...(KINDS[500] as ErrorKind), message: `Upstream error ${status}.` } : { ...(KINDS[400] as ErrorKind), message: `Request failed with status ${status}.` });
}

export function dialectOf(path: string): Dialect {
  return path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
}

/** An error response; `message` defaults to the provider's usual wording for the status. */
export function errorPlan(dialect: Dialect, status: number, message?: string, headers: OutgoingHttpHeaders = {}): Plan {
  const kind = kindFor(status);
  const text = message ?? `${kind.message} (fake provider)`;
  const body =
    dialect === 'anthropic'
      ? { type: 'error', error: { type: kind.anthropic, message: text } }
      : { error: { message: text, type: kind.openai.type, param: null, code: kind.openai.code } };
  return jsonPlan(body, headers, status);
}
