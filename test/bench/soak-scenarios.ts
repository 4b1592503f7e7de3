// The soak's traffic mix as data (issue #16, "Done when"): each scenario is one kind of call (API,
// stream or not, a fault the fake provider injects by header) with the outcomes the docs promise
// for it (docs/errors.md, README "Resilience"). soak.ts draws scenarios by weight and holds every
// answer to its scenario's list, so a new fault is one row here. An outcome label is one of:
//   ok                      2xx, the body complete (stream end marker, or a JSON answer)
//   provider:<status>       an error passed through from the provider (no x-llm-sidecar-error)
//   sidecar:<code>          an error the sidecar produced (x-llm-sidecar-error: <code>)
//   event:<code>            a stream's 2xx ended by an error event (OpenAI shape: its code;
//                           Anthropic's carries no code: `event:anthropic:<error type>`)
//   incomplete              a 2xx stream with neither its end marker nor an error event, or an
//                           unreadable 2xx JSON body: a silent wrong answer, never allowed
//   transport:<code>        the connection failed under the client, never allowed
import { RESPONSE_HEADERS } from '../../shared/sidecar-headers.ts';

export type Api = 'chat' | 'messages' | 'responses';

export interface Scenario {
  name: string;
  /** Relative share of the traffic. */
  weight: number;
  api: Api;
  stream: boolean;
  /** `x-fake-fault` value; `{id}` becomes the request's id (counted faults need a unique header). */
  fault?: string;
  /** Same prompt for every request of the scenario, so all but the first are cache hits. */
  cached?: boolean;
  /** Outcome labels this scenario may produce (see the header). */
  allowed: string[];
}

const CUT = 'LLM_SIDECAR_UPSTREAM_STREAM_CUT';
const TIMEOUT = 'LLM_SIDECAR_UPSTREAM_TIMEOUT';
const RESET = 'LLM_SIDECAR_UPSTREAM_CONNECTION_RESET';
const INVALID = 'LLM_SIDECAR_UPSTREAM_INVALID_RESPONSE';

/**
 * The mix: about one attempt in six fails (per target, retries included), under the circuit
 * breaker's default 50 %: at a higher share the breaker rightly opens and answers everything with
 * LLM_SIDECAR_CIRCUIT_OPEN, which would test the mix, not the sidecar.
 * Counted faults ("once") are retried invisibly. Retries are capped per target (`retry.budgetRatio`,
 * 20 % of its requests over 10 s): when the cap is reached the first attempt's failure is the
 * documented answer, so it is allowed too, and reported apart.
 */
export const SCENARIOS: Scenario[] = [
  { name: 'chat json', weight: 40, api: 'chat', stream: false, allowed: ['ok'] },
  { name: 'chat stream', weight: 30, api: 'chat', stream: true, allowed: ['ok'] },
  { name: 'messages json', weight: 15, api: 'messages', stream: false, allowed: ['ok'] },
  { name: 'messages stream', weight: 15, api: 'messages', stream: true, allowed: ['ok'] },
  { name: 'responses json', weight: 5, api: 'responses', stream: false, allowed: ['ok'] },
  { name: 'responses stream', weight: 6, api: 'responses', stream: true, allowed: ['ok'] },
  { name: 'chat json, cached', weight: 12, api: 'chat', stream: false, cached: true, allowed: ['ok'] },
  { name: 'messages stream, cached', weight: 6, api: 'messages', stream: true, cached: true, allowed: ['ok'] },
  { name: 'chat json, provider 500 once', weight: 2, api: 'chat', stream: false, fault: 'status=500,times=1,key={id}', allowed: ['ok', 'provider:500'] },
  { name: 'chat json, provider 429 always', weight: 1, api: 'chat', stream: false, fault: 'status=429,retry-after=0', allowed: ['provider:429'] },
  { name: 'messages json, provider 529 always', weight: 1, api: 'messages', stream: false, fault: 'status=529', allowed: ['provider:529'] },
  { name: 'chat stream, reset before content once', weight: 2, api: 'chat', stream: true, fault: 'cut=1,times=1,key={id}', allowed: ['ok', `event:${CUT}`, `sidecar:${RESET}`] },
  { name: 'chat stream, reset mid-stream', weight: 2, api: 'chat', stream: true, fault: 'cut=5,words=12', allowed: [`event:${CUT}`] },
  { name: 'messages stream, reset mid-stream', weight: 2, api: 'messages', stream: true, fault: 'cut=7,words=12', allowed: ['event:anthropic:api_error'] },
  { name: 'chat stream, truncated (no [DONE])', weight: 2, api: 'chat', stream: true, fault: 'drop-last=1', allowed: [`event:${CUT}`] },
  { name: 'messages stream, truncated (no message_stop)', weight: 1, api: 'messages', stream: true, fault: 'drop-last=1', allowed: ['event:anthropic:api_error'] },
  { name: 'chat stream, slow first token (300 ms)', weight: 2, api: 'chat', stream: true, fault: 'delay=300', allowed: ['ok'] },
  { name: 'chat stream, slow chunks', weight: 2, api: 'chat', stream: true, fault: 'chunk-delay=20,words=10', allowed: ['ok'] },
  { name: 'chat stream, first token timeout once', weight: 1, api: 'chat', stream: true, fault: 'delay=6000,times=1,key={id}', allowed: ['ok', `event:${TIMEOUT}`, `sidecar:${TIMEOUT}`] },
  { name: 'chat json, malformed body always', weight: 1, api: 'chat', stream: false, fault: 'malformed', allowed: [`sidecar:${INVALID}`] },
  { name: 'chat json, reset mid-body always', weight: 1, api: 'chat', stream: false, fault: 'cut=1', allowed: [`sidecar:${RESET}`, `sidecar:${INVALID}`] },
];

const MODEL: Record<Api, string> = { chat: 'gpt-4o-mini', messages: 'claude-haiku-4-5', responses: 'gpt-4o-mini' };
const PATH: Record<Api, string> = { chat: '/v1/chat/completions', messages: '/v1/messages', responses: '/v1/responses' };

export interface SoakRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The request for scenario `s`; `id` (32 hex digits) is its trace id and request id. */
export function buildRequest(s: Scenario, id: string, index: number): SoakRequest {
  // Unique prompts miss the cache (a faulted answer is never cached, and never served to another).
  const text = s.cached ? `cached question ${s.name}` : `soak ${index} ${s.name}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    traceparent: `00-${id}-${id.slice(0, 16)}-01`,
    'x-request-id': id,
  };
  if (s.api === 'messages') {
    headers['x-api-key'] = 'sk-ant-soak';
    headers['anthropic-version'] = '2023-06-01';
  } else headers.authorization = 'Bearer sk-soak';
  if (s.fault) headers['x-fake-fault'] = s.fault.replace('{id}', id);
  const body =
    s.api === 'chat'
      ? { model: MODEL.chat, messages: [{ role: 'user', content: text }], stream: s.stream }
      : s.api === 'messages'
        ? { model: MODEL.messages, max_tokens: 64, messages: [{ role: 'user', content: text }], stream: s.stream }
        : { model: MODEL.responses, input: text, stream: s.stream };
  return { path: PATH[s.api], headers, body: Buffer.from(JSON.stringify(body)) };
}

/** Picks scenarios by weight, deterministically from the request's index (a fixed, even mix). */
export function scenarioPicker(scenarios: Scenario[]): (index: number) => Scenario {
  const slots = scenarios.flatMap((s) => Array.from({ length: s.weight }, () => s));
  // A stride coprime with the slot count spreads each scenario evenly over time.
  let stride = 37;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(stride, slots.length) !== 1) stride += 2;
  return (index) => slots[(index * stride) % slots.length] as Scenario;
}

const END_MARKER: Record<Api, RegExp> = {
  chat: /^data: \[DONE\]\s*$/m,
  messages: /^event: message_stop\s*$/m,
  responses: /^event: response\.completed\s*$/m,
};

/** The outcome label of one answer (see the header). */
export function classify(s: Scenario, status: number, headers: Record<string, string | string[] | undefined>, body: string): string {
  const sidecarCode = headers[RESPONSE_HEADERS.error];
  if (typeof sidecarCode === 'string') return `sidecar:${sidecarCode}`;
  if (status < 200 || status >= 300) return `provider:${status}`;
  if (!s.stream) {
    try {
      const json = JSON.parse(body) as Record<string, unknown>;
      return (json.error === undefined || json.error === null) && (json.choices !== undefined || json.content !== undefined || json.output !== undefined) ? 'ok' : 'incomplete';
    } catch {
      return 'incomplete';
    }
  }
  // An error event: OpenAI shape `data: {"error":{…,"code"}}`, Anthropic `event: error`.
  const openAiError = /^data: (\{"error":.*)$/m.exec(body);
  if (openAiError) {
    const code = /"code":"([A-Z_]+)"/.exec(openAiError[1] as string)?.[1];
    return `event:${code ?? 'unknown'}`;
  }
  const anthropicError = /^event: error\s*\ndata: (.*)$/m.exec(body);
  if (anthropicError) {
    const type = /"error":\{"type":"([a-z_]+)"/.exec(anthropicError[1] as string)?.[1];
    return `event:anthropic:${type ?? 'unknown'}`;
  }
  return END_MARKER[s.api].test(body) ? 'ok' : 'incomplete';
}
