// Cross-provider translation for fallback chains, named `<client API>-to-<provider API>` as envoy
// ai-gateway does: the app keeps the API it speaks while the route falls back to a provider that
// speaks the other one. Pure functions and classes, no I/O.
import type { ApiDialect } from '../../shared/errors.ts';
import * as anthropicToOpenAI from './anthropic-to-openai.ts';
import type { JsonObject } from './narrow.ts';
import * as openAIToAnthropic from './openai-to-anthropic.ts';

export { anthropicToOpenAI, openAIToAnthropic };
export type { AnthropicErrorBody, AnthropicMessage, AnthropicMessagesBody } from './anthropic-types.ts';
export type { OpenAIChatBody, OpenAIChatChunk, OpenAIChatCompletion, OpenAIErrorBody } from './openai-types.ts';

/** Provider stream events in, the app's SSE text out (what the proxy's Attempt drives). */
export interface StreamTranslation {
  push(event: string | undefined, data: JsonObject): string;
  end(): string;
  readonly hasContent: boolean;
}

/** Everything the proxy needs to serve an app in one API from a provider in the other. */
export interface CrossTranslation {
  request(body: JsonObject, model: string): JsonObject;
  response(json: JsonObject, requestedModel: string): JsonObject;
  /** A provider error body (any status ≥ 400) in the app's error shape. */
  error(status: number, json: unknown): JsonObject;
  stream(opts: { includeUsage: boolean; requestedModel: string }): StreamTranslation;
}

export interface TranslationOptions {
  /** See openAIToAnthropic.RequestOptions: `omit` for Claude models that reject temperature/top_p. */
  anthropicSampling?: 'forward' | 'omit';
}

/** The translation for an app speaking `client` served by a provider speaking `provider`; undefined when they match. */
export function translation(client: ApiDialect, provider: ApiDialect, options: TranslationOptions = {}): CrossTranslation | undefined {
  if (client === 'anthropic' && provider === 'openai') {
    return {
      request: (body, model) => anthropicToOpenAI.translateRequest(body, model),
      response: (json, requestedModel) => anthropicToOpenAI.translateResponse(json, requestedModel),
      error: (status, json) => anthropicToOpenAI.translateError(status, json),
      // Anthropic apps always get usage: includeUsage does not apply.
      stream: ({ requestedModel }) => new anthropicToOpenAI.OpenAIToAnthropicStream({ requestedModel }),
    };
  }
  if (client === 'openai' && provider === 'anthropic') {
    const sampling = options.anthropicSampling ?? 'forward';
    return {
      request: (body, model) => openAIToAnthropic.translateRequest(body, model, { sampling }),
      response: (json, requestedModel) => openAIToAnthropic.translateResponse(json, requestedModel),
      error: (status, json) => openAIToAnthropic.translateError(status, json),
      stream: (opts) => new openAIToAnthropic.AnthropicToOpenAIStream(opts),
    };
  }
  return undefined;
}
