// One judge request through the OFFICIAL SDK of the judge's provider, structured output forced:
//   OpenAI:    chat.completions with response_format json_schema (strict)
//   Anthropic: messages with one tool whose input_schema is the answer format, tool_choice forced
// temperature 0 (configurable: reasoning models accept only their default). The SDKs' own retries
// are off (retry.ts decides). Every request carries `x-llm-sidecar-feature: judge`: a sidecar proxy
// strips it and never samples judge traffic for evaluation; a provider ignores it.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { REQUEST_HEADERS } from '../shared/sidecar-headers.ts';
import { ZERO_USAGE, fromAnthropicUsage, fromOpenAIChatUsage, type NormalizedUsage } from '../shared/usage.ts';
import type { JudgeConfig } from '../shared/config/evaluators-schema.ts';

export const JUDGE_FEATURE_HEADER = REQUEST_HEADERS.feature;
export const JUDGE_FEATURE = 'judge';

export interface JudgePrompt {
  system: string;
  user: string;
  /** Name and JSON schema of the answer (judge-output.ts). */
  schemaName: string;
  schema: Record<string, unknown>;
}

export interface JudgeReply {
  /** The structured answer, parsed; undefined when the reply was not JSON at all. */
  value: unknown;
  /** Why value is missing or suspect: the raw text, a refusal, a finish reason. */
  text: string;
  refusal?: string;
  finishReason?: string;
  usage: NormalizedUsage;
  /** The model that answered (response model), for pricing and the JudgeModel column. */
  model: string;
}

export interface JudgeClient {
  readonly provider: 'openai' | 'anthropic';
  readonly model: string;
  /** One attempt; throws the SDK's error on HTTP and network failures. */
  send(prompt: JudgePrompt, signal?: AbortSignal): Promise<JudgeReply>;
}

const FORCED_TOOL_DESCRIPTION = 'Record the evaluation result. Always call this tool with the explanation first, then the result.';

function apiKeyFor(judge: JudgeConfig, env: NodeJS.ProcessEnv): string {
  // Placeholder: a sidecar proxy with an injected provider key does not need one from us.
  return judge.apiKey ?? (judge.provider === 'openai' ? env.OPENAI_API_KEY : env.ANTHROPIC_API_KEY) ?? 'llm-sidecar-judge';
}

/**
 * A per-request signal that follows the service's. The SDKs add an 'abort' listener to the signal
 * they are given and never remove it: handing them the long-lived service signal would keep one
 * listener (and its request) alive per judge call for the life of the process.
 */
async function withRequestSignal<T>(parent: AbortSignal | undefined, run: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (!parent) return run(undefined);
  const controller = new AbortController();
  const forward = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', forward, { once: true });
  try {
    return await run(controller.signal);
  } finally {
    parent.removeEventListener('abort', forward);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createJudgeClient(judge: JudgeConfig, env: NodeJS.ProcessEnv = process.env): JudgeClient {
  const headers = { ...judge.headers, [JUDGE_FEATURE_HEADER]: JUDGE_FEATURE };
  const temperature = judge.temperature === null ? {} : { temperature: judge.temperature };
  if (judge.provider === 'openai') {
    const client = new OpenAI({ baseURL: judge.baseUrl, apiKey: apiKeyFor(judge, env), maxRetries: 0, timeout: judge.timeoutMs, defaultHeaders: headers });
    return {
      provider: 'openai',
      model: judge.model,
      async send(prompt, parentSignal) {
        const res = await withRequestSignal(parentSignal, (signal) => client.chat.completions.create(
          {
            model: judge.model,
            ...temperature,
            max_completion_tokens: judge.maxOutputTokens,
            messages: [
              { role: 'system', content: prompt.system },
              { role: 'user', content: prompt.user },
            ],
            response_format: { type: 'json_schema', json_schema: { name: prompt.schemaName, strict: true, schema: prompt.schema } },
          },
          { signal },
        ));
        const choice = res.choices[0];
        const text = choice?.message.content ?? '';
        return {
          value: parseJson(text),
          text,
          ...(choice?.message.refusal ? { refusal: choice.message.refusal } : {}),
          ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
          usage: fromOpenAIChatUsage(res.usage) ?? ZERO_USAGE,
          model: res.model || judge.model,
        };
      },
    };
  }
  const client = new Anthropic({ baseURL: judge.baseUrl, apiKey: apiKeyFor(judge, env), maxRetries: 0, timeout: judge.timeoutMs, defaultHeaders: headers });
  return {
    provider: 'anthropic',
    model: judge.model,
    async send(prompt, parentSignal) {
      const res = await withRequestSignal(parentSignal, (signal) => client.messages.create(
        {
          model: judge.model,
          ...temperature,
          max_tokens: judge.maxOutputTokens,
          system: prompt.system,
          messages: [{ role: 'user', content: prompt.user }],
          tools: [{ name: prompt.schemaName, description: FORCED_TOOL_DESCRIPTION, input_schema: prompt.schema as Anthropic.Tool.InputSchema }],
          tool_choice: { type: 'tool', name: prompt.schemaName, disable_parallel_tool_use: true },
        },
        { signal },
      ));
      const tool = res.content.find((b) => b.type === 'tool_use' && b.name === prompt.schemaName);
      const text = res.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      return {
        value: tool?.type === 'tool_use' ? tool.input : undefined,
        text: tool?.type === 'tool_use' ? JSON.stringify(tool.input) : text,
        ...(res.stop_reason === 'refusal' ? { refusal: text || 'refused' } : {}),
        ...(res.stop_reason ? { finishReason: res.stop_reason } : {}),
        usage: fromAnthropicUsage(res.usage) ?? ZERO_USAGE,
        model: res.model || judge.model,
      };
    },
  };
}
