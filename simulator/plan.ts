// The contract between the HTTP layer and the API handlers: a handler receives a parsed request
// (`Call`) and returns what to send (`Plan`); send.ts writes it, applying the transport faults
// (delay, drip, cut, malformed), so handlers only think about the API's wire format.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Faults } from './faults.ts';
import type { Ids } from './ids.ts';
import type { PromptCache } from './prompt-cache.ts';

export type Json = Record<string, unknown>;

export type Dialect = 'openai' | 'anthropic';

export interface Call {
  method: string;
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The parsed JSON object body (`{}` for requests without one). */
  body: Json;
  faults: Faults;
  /** Per-instance state, so two fake providers in one process never share ids or cache entries. */
  ids: Ids;
  cache: PromptCache;
}

export type Plan =
  /** `body` is already serialised: the malformed and cut faults work on the exact bytes. */
  | { kind: 'json'; status: number; headers: OutgoingHttpHeaders; body: string }
  | { kind: 'sse'; headers: OutgoingHttpHeaders; events: string[] };

export function jsonPlan(body: unknown, headers: OutgoingHttpHeaders = {}, status = 200): Plan {
  return { kind: 'json', status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export function ssePlan(events: string[], headers: OutgoingHttpHeaders = {}): Plan {
  return { kind: 'sse', headers, events };
}

/** The value if it is a plain JSON object. */
export function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
