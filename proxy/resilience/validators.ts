// Cascade validators: a cheaper model's answer is escalated to the next target when it is not
// good enough by a check that needs no judge — JSON that does not parse or does not match the
// requested schema (Ajv, compiled once per schema), a length-truncated or empty answer, a refusal.
import { Ajv, type ValidateFunction } from 'ajv';

export type ValidatorName = 'json' | 'schema' | 'length' | 'empty' | 'refusal';

export interface AnswerSummary {
  text: string;
  hasToolCalls: boolean;
  finishReason: string | undefined;
}

export interface CascadeRequest {
  /** The app asked for JSON (`json_object` or `json_schema`). */
  wantsJson: boolean;
  schema: object | undefined;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction | undefined {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    try {
      fn = ajv.compile(schema);
    } catch {
      return undefined; // an invalid schema is the provider's to reject, not ours
    }
    if (compiled.size < 1000) compiled.set(key, fn);
  }
  return fn;
}

/** The first failed check, or undefined when the answer passes. */
export function failedCheck(answer: AnswerSummary, req: CascadeRequest, validators: readonly ValidatorName[], refusal: readonly RegExp[]): string | undefined {
  for (const v of validators) {
    switch (v) {
      case 'length':
        if (answer.finishReason === 'length' || answer.finishReason === 'max_tokens') return 'length';
        break;
      case 'empty':
        if (!answer.hasToolCalls && answer.text.trim() === '') return 'empty';
        break;
      case 'refusal':
        if (refusal.some((r) => r.test(answer.text)) || answer.finishReason === 'refusal' || answer.finishReason === 'content_filter') return 'refusal';
        break;
      case 'json':
      case 'schema': {
        if (!req.wantsJson || answer.hasToolCalls) break;
        let parsed: unknown;
        try {
          parsed = JSON.parse(answer.text);
        } catch {
          return 'invalid_json';
        }
        if (v === 'schema' && req.schema) {
          const fn = validatorFor(req.schema);
          if (fn && !fn(parsed)) return 'schema_mismatch';
        }
        break;
      }
    }
  }
  return undefined;
}

type Json = Record<string, unknown>;

/** What the app asked for, from an OpenAI chat body. */
export function cascadeRequest(body: Json): CascadeRequest {
  const rf = body.response_format as Json | undefined;
  if (rf?.type === 'json_schema') return { wantsJson: true, schema: (rf.json_schema as Json | undefined)?.schema as object | undefined };
  if (rf?.type === 'json_object') return { wantsJson: true, schema: undefined };
  return { wantsJson: false, schema: undefined };
}

/** Text, tool calls and finish reason of a complete answer in either API's shape. */
export function summarize(json: Json, dialect: 'openai' | 'anthropic'): AnswerSummary {
  if (dialect === 'anthropic') {
    const content = Array.isArray(json.content) ? (json.content as Json[]) : [];
    return {
      text: content.filter((c) => c.type === 'text').map((c) => String(c.text ?? '')).join(''),
      hasToolCalls: content.some((c) => c.type === 'tool_use'),
      finishReason: typeof json.stop_reason === 'string' ? json.stop_reason : undefined,
    };
  }
  const choice = (Array.isArray(json.choices) ? json.choices[0] : undefined) as Json | undefined;
  const message = choice?.message as Json | undefined;
  return {
    text: typeof message?.content === 'string' ? message.content : '',
    hasToolCalls: Array.isArray(message?.tool_calls) && message.tool_calls.length > 0,
    finishReason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : undefined,
  };
}
