// Which handler answers a request, and the checks a real provider makes first: unknown route → 404,
// requested error fault → that error, unparseable JSON or no model → 400.
import { countTokens, messages } from './anthropic.ts';
import { embeddings } from './embeddings.ts';
import { dialectOf, errorPlan } from './errors.ts';
import { providerHeaders } from './headers.ts';
import { modelsList } from './models.ts';
import { chatCompletions } from './openai.ts';
import { jsonPlan, type Call, type Plan } from './plan.ts';
import { responses } from './responses.ts';

type Handler = (call: Call) => Plan;

const POST_ROUTES = new Map<string, Handler>([
  ['/v1/chat/completions', chatCompletions],
  ['/v1/responses', responses],
  ['/v1/embeddings', embeddings],
  ['/v1/messages', messages],
  ['/v1/messages/count_tokens', countTokens],
]);

export const ECHO_PREFIX = '/v1/echo-path';

/** `bodyParsed` is false when a body was sent but is not a JSON object. */
export function planFor(call: Call, bodyParsed: boolean): Plan {
  if (call.path === ECHO_PREFIX || call.path.startsWith(`${ECHO_PREFIX}/`)) return echoPath(call);
  const dialect = dialectOf(call.path);
  const handler = call.method === 'POST' ? POST_ROUTES.get(call.path) : call.method === 'GET' && call.path === '/v1/models' ? modelsList : undefined;
  if (!handler) return errorPlan(dialect, 404, `Invalid URL (${call.method} ${call.path})`, providerHeaders(dialect, call.ids, 404));
  const { faults } = call;
  if (faults.invalid !== undefined) return errorPlan(dialect, 400, faults.invalid, providerHeaders(dialect, call.ids, 400));
  if (faults.status !== undefined) {
    const headers = providerHeaders(dialect, call.ids, faults.status);
    return faults.body !== undefined ? jsonPlan(faults.body, headers, faults.status) : errorPlan(dialect, faults.status, undefined, headers);
  }
  if (call.method === 'POST') {
    if (!bodyParsed) return errorPlan(dialect, 400, 'We could not parse the JSON body of your request.', providerHeaders(dialect, call.ids, 400));
    const model = call.body.model;
    if (typeof model !== 'string' || model === '') return errorPlan(dialect, 400, dialect === 'anthropic' ? 'model: Field required' : 'you must provide a model parameter', providerHeaders(dialect, call.ids, 400));
  }
  return handler(call);
}

/** Describes the request back, so a test can check that a proxy passed an unknown path through untouched. */
function echoPath(call: Call): Plan {
  return jsonPlan({ method: call.method, path: call.path, query: call.query, headers: call.headers, bodyLength: call.rawBody.length });
}
