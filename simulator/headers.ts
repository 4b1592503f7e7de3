// The response headers each provider adds, so a proxy's header handling meets realistic input.
import type { OutgoingHttpHeaders } from 'node:http';
import type { Ids } from './ids.ts';
import type { Dialect } from './plan.ts';

export function openAiHeaders(ids: Ids, rateLimited = false): OutgoingHttpHeaders {
  return {
    'x-request-id': ids.next('req_'),
    'openai-version': '2020-10-01',
    'openai-processing-ms': '7',
    'x-ratelimit-limit-requests': '10000',
    'x-ratelimit-remaining-requests': rateLimited ? '0' : '9999',
  };
}

export function anthropicHeaders(ids: Ids, rateLimited = false): OutgoingHttpHeaders {
  return {
    'request-id': ids.next('req_011'),
    'anthropic-ratelimit-requests-limit': '4000',
    'anthropic-ratelimit-requests-remaining': rateLimited ? '0' : '3999',
  };
}

export function providerHeaders(dialect: Dialect, ids: Ids, status = 200): OutgoingHttpHeaders {
  return dialect === 'anthropic' ? anthropicHeaders(ids, status === 429) : openAiHeaders(ids, status === 429);
}
