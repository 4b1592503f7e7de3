// Binds the translators (proxy/translate/) to the attempt loop: which functions turn a request,
// an answer, a stream and an error from one API into the other, for cross-provider fallback.
import type { ApiDialect } from '../shared/errors.ts';
import type { Translation } from './llm-call.ts';
import type { JsonObject } from './request-body.ts';
import { anthropicToOpenAI, openAIToAnthropic } from './translate/index.ts';

const asJson = (v: unknown): JsonObject => v as JsonObject;

const ANTHROPIC_CLIENT_OPENAI_PROVIDER: Translation = {
  request: (body, model) => asJson(anthropicToOpenAI.translateRequest(body, model)),
  response: (json, requestedModel) => asJson(anthropicToOpenAI.translateResponse(json, requestedModel)),
  stream: ({ requestedModel }) => new anthropicToOpenAI.OpenAIToAnthropicStream({ requestedModel }),
  error: (status, json) => asJson(anthropicToOpenAI.translateError(status, json)),
};

const OPENAI_CLIENT_ANTHROPIC_PROVIDER: Translation = {
  request: (body, model) => asJson(openAIToAnthropic.translateRequest(body, model)),
  response: (json, requestedModel) => asJson(openAIToAnthropic.translateResponse(json, requestedModel)),
  stream: ({ includeUsage, requestedModel }) => new openAIToAnthropic.AnthropicToOpenAIStream({ includeUsage, requestedModel }),
  error: (status, json) => asJson(openAIToAnthropic.translateError(status, json)),
};

/** `from` is the app's API, `to` the provider's. */
export function translationFor(from: ApiDialect, to: ApiDialect): Translation | undefined {
  if (from === to) return undefined;
  return from === 'anthropic' ? ANTHROPIC_CLIENT_OPENAI_PROVIDER : OPENAI_CLIENT_ANTHROPIC_PROVIDER;
}
