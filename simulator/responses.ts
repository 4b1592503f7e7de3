// The OpenAI Responses API: a `response` object (JSON) or its event stream (`event:` lines with
// `sequence_number`), with reasoning items for reasoning models, function calls when tools are
// offered, and JSON output for `text.format`.
import { sampleFor } from './answer.ts';
import type { Faults } from './faults.ts';
import { openAiHeaders } from './headers.ts';
import type { Ids } from './ids.ts';
import { DEFAULT_TOOL, formattedAnswer, usageFor, type TokenUsage, type ToolSpec } from './openai.ts';
import { asArray, asObject, jsonPlan, ssePlan, type Call, type Json, type Plan } from './plan.ts';
import { isReasoningModel, lastUserText, responsesPromptTokens } from './prompt.ts';
import { fragments, sseEvent, wordDeltas } from './sse.ts';

/** Responses tools are flat: `{type:'function', name, parameters}`. */
function chosenTool(body: Json, faults: Faults): ToolSpec | undefined {
  const tools = asArray(body.tools)
    .map(asObject)
    .filter((t): t is Json => t?.type === 'function' && typeof t.name === 'string');
  if (faults.toolCall !== true && (tools.length === 0 || body.tool_choice === 'none')) return undefined;
  const named = asObject(body.tool_choice)?.name;
  const fn = tools.find((t) => t.name === named) ?? tools[0];
  return fn ? { name: fn.name as string, parameters: fn.parameters } : DEFAULT_TOOL;
}

function usageJson(u: TokenUsage): Json {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  };
}

/** The output items, complete: [reasoning?] then a function call or a message. */
function outputItems(body: Json, faults: Faults, ids: Ids): { items: Json[]; outputText: string } {
  const items: Json[] = [];
  if (isReasoningModel(body.model as string)) items.push({ id: ids.next('rs_'), type: 'reasoning', summary: [] });
  const tool = chosenTool(body, faults);
  if (tool) {
    const args = JSON.stringify(sampleFor(tool.parameters));
    items.push({ id: ids.next('fc_'), type: 'function_call', status: 'completed', arguments: args, call_id: ids.next('call_'), name: tool.name });
    return { items, outputText: args };
  }
  const text = formattedAnswer(lastUserText(body.input), asObject(asObject(body.text)?.format), faults);
  const part = { type: 'output_text', annotations: [], logprobs: [], text };
  items.push({ id: ids.next('msg_'), type: 'message', status: 'completed', content: [part], role: 'assistant' });
  return { items, outputText: text };
}

export function responses(call: Call): Plan {
  const { body, faults, ids } = call;
  const model = body.model as string;
  const { items, outputText } = outputItems(body, faults, ids);
  const usage = usageJson(usageFor(responsesPromptTokens(body), model, outputText, faults));
  // The request parameters a real response echoes back.
  const base = {
    id: ids.next('resp_'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: isReasoningModel(model) ? 'medium' : null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: asObject(body.text)?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    user: null,
    metadata: body.metadata ?? {},
  };
  const completed = { ...base, status: 'completed', output: items, usage };
  const headers = openAiHeaders(ids);
  if (body.stream !== true) return jsonPlan(completed, headers);
  const inProgress = { ...base, status: 'in_progress', output: [], usage: null };
  const stream = new EventWriter();
  stream.add('response.created', { response: inProgress });
  stream.add('response.in_progress', { response: inProgress });
  items.forEach((item, index) => itemEvents(stream, item, index));
  stream.add('response.completed', { response: completed });
  return ssePlan(stream.events, headers);
}

/** Numbers events in order, as the API does with `sequence_number`. */
class EventWriter {
  readonly events: string[] = [];
  add(type: string, data: Json): void {
    this.events.push(sseEvent(type, JSON.stringify({ type, sequence_number: this.events.length, ...data })));
  }
}

/** The events that build one output item: added, its deltas, done. */
function itemEvents(stream: EventWriter, item: Json, output_index: number): void {
  const item_id = item.id;
  if (item.type === 'function_call') {
    const args = item.arguments as string;
    stream.add('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
    for (const delta of fragments(args, 5)) stream.add('response.function_call_arguments.delta', { item_id, output_index, delta });
    stream.add('response.function_call_arguments.done', { item_id, output_index, arguments: args });
  } else if (item.type === 'message') {
    const part = asArray(item.content)[0] as Json;
    const text = part.text as string;
    const at = { item_id, output_index, content_index: 0 };
    stream.add('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
    stream.add('response.content_part.added', { ...at, part: { ...part, text: '' } });
    for (const delta of wordDeltas(text)) stream.add('response.output_text.delta', { ...at, delta, logprobs: [] });
    stream.add('response.output_text.done', { ...at, text, logprobs: [] });
    stream.add('response.content_part.done', { ...at, part });
  } else {
    stream.add('response.output_item.added', { output_index, item });
  }
  stream.add('response.output_item.done', { output_index, item });
}
