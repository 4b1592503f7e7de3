// The inbound HTTP surface: which paths the sidecar understands, in which API dialect, and which
// GenAI operation each one is. Everything else is passed through untouched.
import type { ApiDialect } from '../shared/errors.ts';

export type Operation = 'chat' | 'responses' | 'embeddings' | 'count_tokens';

export interface LlmEndpoint {
  kind: 'llm';
  dialect: ApiDialect;
  operation: Operation;
  /** `gen_ai.operation.name` (semconv) for this endpoint. */
  operationName: string;
}

export interface PassthroughEndpoint {
  kind: 'passthrough';
}

export type Endpoint = LlmEndpoint | PassthroughEndpoint;

const LLM_ENDPOINTS = new Map<string, LlmEndpoint>([
  ['/v1/chat/completions', { kind: 'llm', dialect: 'openai', operation: 'chat', operationName: 'chat' }],
  ['/v1/responses', { kind: 'llm', dialect: 'openai', operation: 'responses', operationName: 'chat' }],
  ['/v1/embeddings', { kind: 'llm', dialect: 'openai', operation: 'embeddings', operationName: 'embeddings' }],
  ['/v1/messages', { kind: 'llm', dialect: 'anthropic', operation: 'chat', operationName: 'chat' }],
  ['/v1/messages/count_tokens', { kind: 'llm', dialect: 'anthropic', operation: 'count_tokens', operationName: 'count_tokens' }],
]);

const PASSTHROUGH: PassthroughEndpoint = { kind: 'passthrough' };

export function classify(method: string, pathname: string): Endpoint {
  if (method !== 'POST') return PASSTHROUGH;
  return LLM_ENDPOINTS.get(pathname) ?? PASSTHROUGH;
}

/** Best guess of the API dialect of a request the sidecar does not parse (models list, files, batches…). */
export function guessDialect(pathname: string, headers: Record<string, string | string[] | undefined>): ApiDialect {
  if (pathname.startsWith('/v1/messages') || headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined) {
    return 'anthropic';
  }
  return 'openai';
}
