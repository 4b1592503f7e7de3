// OpenAI wire formats: chat completions (JSON and SSE, tool calls, JSON modes), the Responses API,
// embeddings and the models list — with realistic usage blocks (cached and reasoning tokens).
import type { Faults } from './faults.ts';
import { answerText, embed, isReasoningModel, lastUserText, promptTokens, sampleFor, toolArguments, wordCount } from './content.ts';
import { deltas, sseData, sseEvent, type Plan } from './plan.ts';

type Json = Record<string, unknown>;
let seq = 0;
const nextId = (prefix: string): string => `${prefix}_${(++seq).toString(36).padStart(8, '0')}`;

interface Usage {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
}

function usageFor(body: Json, model: string, answer: string, faults: Faults): Usage {
  if (faults.usage) {
    const [input = 0, output = 0, cached = 0, reasoning = 0] = faults.usage;
    return { input, output, cached, reasoning };
  }
  const input = promptTokens(body);
  const reasoning = isReasoningModel(model) ? 32 : 0;
  // Like OpenAI: caching starts at 1024 tokens and grows in 128-token steps.
  const cached = input >= 1024 ? Math.floor((input - 1) / 128) * 128 - 512 : 0;
  return { input, output: wordCount(answer) + reasoning, cached: Math.max(0, cached), reasoning };
}

function chatUsage(u: Usage): Json {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

interface Tool {
  name: string;
  parameters: unknown;
}

function firstTool(body: Json, faults: Faults): Tool | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  const wantsTool = (tools.length > 0 && body.tool_choice !== 'none') || faults.toolCall === true;
  if (!wantsTool) return undefined;
  const fn = (tools[0]?.function ?? tools[0]) as Json | undefined;
  if (!fn) return { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
  return { name: String(fn.name), parameters: fn.parameters };
}

function answerFor(body: Json, faults: Faults): string {
  const text = answerText(lastUserText(body.messages), faults.words);
  const rf = body.response_format as Json | undefined;
  if (rf?.type === 'json_schema') return JSON.stringify(sampleFor((rf.json_schema as Json | undefined)?.schema));
  if (rf?.type === 'json_object') return JSON.stringify({ echo: text });
  return text;
}

const HEADERS = (): Record<string, string> => ({ 'x-request-id': nextId('req'), 'openai-processing-ms': '1', 'x-ratelimit-remaining-requests': '9999' });

export function chatCompletions(body: Json, faults: Faults): Plan {
  const model = String(body.model);
  const id = nextId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const tool = firstTool(body, faults);
  const answer = tool ? '' : answerFor(body, faults);
  const args = tool ? JSON.stringify(toolArguments(tool.parameters)) : '';
  const usage = usageFor(body, model, tool ? args : answer, faults);
  const finish = tool ? 'tool_calls' : 'stop';
  const callId = tool ? nextId('call') : '';
  if (body.stream !== true) {
    const message: Json = tool
      ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: callId, type: 'function', function: { name: tool.name, arguments: args } }], annotations: [] }
      : { role: 'assistant', content: answer, refusal: null, annotations: [] };
    return {
      kind: 'json',
      status: 200,
      headers: HEADERS(),
      body: { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage: chatUsage(usage), service_tier: 'default', system_fingerprint: 'fp_fake' },
    };
  }
  const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
  const chunk = (delta: Json, finishReason: string | null): string => {
    const c: Json = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake', choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
    if (includeUsage) c.usage = null;
    return sseData(c);
  };
  const events: string[] = [chunk({ role: 'assistant', content: tool ? null : '', refusal: null }, null)];
  if (tool) {
    events.push(chunk({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: tool.name, arguments: '' } }] }, null));
    for (let i = 0; i < args.length; i += 8) events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + 8) } }] }, null));
  } else {
    for (const d of deltas(answer)) events.push(chunk({ content: d }, null));
  }
  events.push(chunk({}, finish));
  if (includeUsage) events.push(sseData({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake', choices: [], usage: chatUsage(usage) }));
  events.push(sseData('[DONE]'));
  return { kind: 'sse', events, headers: HEADERS() };
}

export function responses(body: Json, faults: Faults): Plan {
  const model = String(body.model);
  const id = nextId('resp');
  const msgId = nextId('msg');
  const created = Math.floor(Date.now() / 1000);
  const text = answerText(lastUserText(body.input), faults.words);
  const u = usageFor({ messages: body.input, system: body.instructions }, model, text, faults);
  const usage = { input_tokens: u.input, input_tokens_details: { cached_tokens: u.cached }, output_tokens: u.output, output_tokens_details: { reasoning_tokens: u.reasoning }, total_tokens: u.input + u.output };
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const item = { id: msgId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
  const base = { id, object: 'response', created_at: created, model, error: null, incomplete_details: null, instructions: body.instructions ?? null, metadata: {}, parallel_tool_calls: true, temperature: 1, tool_choice: 'auto', tools: [], top_p: 1 };
  const done = { ...base, status: 'completed', output: [item], usage };
  if (body.stream !== true) return { kind: 'json', status: 200, headers: HEADERS(), body: done };
  let n = 0;
  const ev = (type: string, data: Json): string => sseEvent(type, { type, sequence_number: n++, ...data });
  const inProgress = { ...base, status: 'in_progress', output: [], usage: null };
  const events = [
    ev('response.created', { response: inProgress }),
    ev('response.in_progress', { response: inProgress }),
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0, part: { ...part, text: '' } }),
    ...deltas(text).map((d) => ev('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: d, logprobs: [] })),
    ev('response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text, logprobs: [] }),
    ev('response.content_part.done', { item_id: msgId, output_index: 0, content_index: 0, part }),
    ev('response.output_item.done', { output_index: 0, item }),
    ev('response.completed', { response: done }),
  ];
  return { kind: 'sse', events, headers: HEADERS() };
}

export function embeddings(body: Json): Plan {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const base64 = body.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((input, index) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    tokens += Math.max(1, Math.ceil(text.length / 4));
    const v = embed(text, dims);
    const embedding = base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding };
  });
  return { kind: 'json', status: 200, headers: HEADERS(), body: { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
}

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o4-mini', 'text-embedding-3-small'];

export function modelsList(anthropicShape: boolean): Plan {
  if (anthropicShape) {
    const data = ['claude-sonnet-4-5', 'claude-haiku-4-5'].map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z' }));
    return { kind: 'json', status: 200, body: { data, has_more: false, first_id: data[0]?.id, last_id: data.at(-1)?.id } };
  }
  return { kind: 'json', status: 200, headers: HEADERS(), body: { object: 'list', data: MODELS.map((id) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' })) } };
}
