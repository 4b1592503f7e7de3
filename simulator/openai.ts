// OpenAI chat completions: JSON and SSE, tool calls, JSON modes, and usage with cached and reasoning
// tokens — shaped like the real API so the official SDK (and its stream helpers) parse it.
import { answerText, sampleFor } from './answer.ts';
import { judgeVerdict } from './judge-verdict.ts';
import type { Faults } from './faults.ts';
import { openAiHeaders } from './headers.ts';
import { asArray, asObject, jsonPlan, ssePlan, type Call, type Json, type Plan } from './plan.ts';
import { chatPromptTokens, isReasoningModel, lastUserText, openAiCachedTokens, REASONING_TOKENS, wordCount } from './prompt.ts';
import { fragments, SSE_DONE, sseData, wordDeltas } from './sse.ts';

export interface TokenUsage {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
}

/** Usage for an answer; reasoning tokens are billed inside output, as OpenAI does. */
export function usageFor(promptTokens: number, model: string, output: string, faults: Faults): TokenUsage {
  if (faults.usage) return faults.usage;
  const reasoning = isReasoningModel(model) ? REASONING_TOKENS : 0;
  return { input: promptTokens, output: wordCount(output) + reasoning, cached: openAiCachedTokens(promptTokens), reasoning };
}

function chatUsageJson(u: TokenUsage): Json {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export interface ToolSpec {
  name: string;
  parameters: unknown;
}

export const DEFAULT_TOOL: ToolSpec = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

/** The function the model "decides" to call: the named one if tool_choice names it, else the first. */
function chosenTool(body: Json, faults: Faults): ToolSpec | undefined {
  const tools = asArray(body.tools)
    .map((t) => asObject(asObject(t)?.function))
    .filter((f): f is Json => typeof f?.name === 'string');
  if (faults.toolCall !== true && (tools.length === 0 || body.tool_choice === 'none')) return undefined;
  const named = asObject(asObject(body.tool_choice)?.function)?.name;
  const fn = tools.find((f) => f.name === named) ?? tools[0];
  return fn ? { name: fn.name as string, parameters: fn.parameters } : DEFAULT_TOOL;
}

/** The assistant's text: the echo, or JSON when a JSON response format was requested. */
export function formattedAnswer(userText: string, format: Json | undefined, faults: Faults): string {
  const text = answerText(userText, faults.words);
  if (format?.type === 'json_schema') {
    const schema = asObject(format.json_schema)?.schema ?? format.schema;
    // An LLM judge's rating schema gets a varied, plausible rating of the judged answer (judge-verdict.ts).
    return JSON.stringify(judgeVerdict(schema, userText) ?? sampleFor(schema));
  }
  if (format?.type === 'json_object') return JSON.stringify({ echo: text });
  return text;
}

const FINGERPRINT = 'fp_fake0001';

export function chatCompletions(call: Call): Plan {
  const { body, faults, ids } = call;
  const model = body.model as string;
  const id = ids.next('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const tool = chosenTool(body, faults);
  const args = tool ? JSON.stringify(sampleFor(tool.parameters)) : '';
  const content = tool ? '' : formattedAnswer(lastUserText(body.messages), asObject(body.response_format), faults);
  const usage = usageFor(chatPromptTokens(body), model, tool ? args : content, faults);
  const toolCall = tool ? { id: ids.next('call_'), type: 'function', function: { name: tool.name, arguments: args } } : undefined;
  const finish = tool ? 'tool_calls' : 'stop';
  const headers = openAiHeaders(ids);
  if (body.stream !== true) {
    const message = toolCall
      ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null, annotations: [] }
      : { role: 'assistant', content, refusal: null, annotations: [] };
    const choice = { index: 0, message, logprobs: null, finish_reason: finish };
    return jsonPlan({ id, object: 'chat.completion', created, model, choices: [choice], usage: chatUsageJson(usage), service_tier: 'default', system_fingerprint: FINGERPRINT }, headers);
  }
  const includeUsage = asObject(body.stream_options)?.include_usage === true;
  // Every chunk shares everything but its delta and finish_reason: serialise that part once.
  const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"service_tier":"default","system_fingerprint":"${FINGERPRINT}","choices":[{"index":0,"delta":`;
  // Like OpenAI: with include_usage every chunk carries "usage":null; without it there is no usage key.
  const tail = includeUsage ? '}],"usage":null}' : '}]}';
  const chunk = (delta: string, finishReason = 'null'): string => sseData(`${head}${delta},"logprobs":null,"finish_reason":${finishReason}${tail}`);
  const events: string[] = [];
  if (toolCall) {
    const opening = { index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } };
    events.push(chunk(`{"role":"assistant","content":null,"tool_calls":[${JSON.stringify(opening)}],"refusal":null}`));
    for (const piece of fragments(args, 5)) events.push(chunk(`{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(piece)}}}]}`));
  } else {
    events.push(chunk('{"role":"assistant","content":"","refusal":null}'));
    for (const piece of wordDeltas(content)) events.push(chunk(`{"content":${JSON.stringify(piece)}}`));
  }
  events.push(chunk('{}', `"${finish}"`));
  if (includeUsage) {
    const usageChunk = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: FINGERPRINT, choices: [], usage: chatUsageJson(usage) };
    events.push(sseData(JSON.stringify(usageChunk)));
  }
  events.push(SSE_DONE);
  return ssePlan(events, headers);
}
