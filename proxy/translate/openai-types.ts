// The part of the OpenAI Chat Completions wire format the translators write. Written by hand rather
// than imported from the `openai` SDK (a dev dependency); the tests check these against the SDK's
// types and run the SDK over what the translators produce. Whole bodies are `type` aliases, not
// interfaces, so they are assignable to Record<string, unknown> (what the proxy serialises).

export interface OpenAITextPart {
  type: 'text';
  text: string;
}

export interface OpenAIImagePart {
  type: 'image_url';
  image_url: { url: string };
}

export interface OpenAIFilePart {
  type: 'file';
  file: { file_data: string; filename?: string };
}

export type OpenAIUserPart = OpenAITextPart | OpenAIImagePart | OpenAIFilePart;

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type OpenAIChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | OpenAIUserPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface OpenAIFunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean };
}

export type OpenAIToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export type OpenAIChatBody = {
  model: string;
  messages: OpenAIChatMessage[];
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  tools?: OpenAIFunctionTool[];
  tool_choice?: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
  user?: string;
  response_format?: { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown> } };
  stream?: boolean;
  stream_options?: { include_usage: boolean };
};

export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface OpenAIUsage {
  /** Includes the cached tokens. */
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number; cache_write_tokens?: number };
}

export type OpenAIChatCompletion = {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: OpenAIToolCall[] };
    logprobs: null;
    finish_reason: OpenAIFinishReason;
  }[];
  usage: OpenAIUsage;
};

export interface OpenAIChunkDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: { index: number; id?: string; type?: 'function'; function: { name?: string; arguments: string } }[];
}

export type OpenAIChatChunk = {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: OpenAIChunkDelta; logprobs: null; finish_reason: OpenAIFinishReason | null }[];
  /** With `stream_options.include_usage`: null on every chunk but the last, which has no choices. */
  usage?: OpenAIUsage | null;
};

/** What OpenAI answers with an error status, and sends as a data event mid-stream. */
export type OpenAIErrorBody = {
  error: { message: string; type: string; param: string | null; code: string | null };
};
