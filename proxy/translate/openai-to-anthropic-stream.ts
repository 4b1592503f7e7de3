// An Anthropic Messages event stream → the chat-completion chunks an OpenAI app expects:
//   a role chunk {role:'assistant', content:''}, content / tool_calls delta chunks, a final chunk
//   with finish_reason, the usage chunk (choices: []) if the app asked for it, then [DONE].
//
// Nothing is written before the first content: the proxy holds a stream's preamble until content
// arrives, so that a failure before it can still fall back invisibly. The role chunk therefore goes
// out together with the first text or tool call (`hasContent` turns true then); a stream without
// content is completed by end().
//
// Blocks: text blocks → `content` deltas; tool_use blocks → one tool_calls entry each (index
// counting tool blocks only), opened with id, type and name, then argument fragments; thinking,
// signatures, citations and server-tool blocks are dropped. Usage: input and cache numbers come in
// message_start, output (and, on newer API versions, final input/cache totals) in message_delta.
import { asNumber, asObject, asString, nowSeconds, providerJson, SSE_DONE, sseData, type JsonObject } from './narrow.ts';
import { completionId, finishReason, openAIErrorType, readAnthropicUsage, usageFromCounts, type AnthropicTokenCounts } from './openai-to-anthropic-response.ts';
import type { OpenAIChatChunk, OpenAIChunkDelta, OpenAIFinishReason } from './openai-types.ts';

export interface AnthropicToOpenAIStreamOptions {
  /** The app sent stream_options.include_usage: end with the usage chunk (and `usage: null` on the others, as OpenAI does). */
  includeUsage: boolean;
  /** The model name to report if the provider's message_start carries none. */
  requestedModel: string;
}

export class AnthropicToOpenAIStream {
  private id = completionId(undefined);
  private model: string;
  private readonly created = nowSeconds();
  private readonly includeUsage: boolean;
  private content = false;
  private finished = false;
  private failed = false;
  private finish: OpenAIFinishReason | undefined;
  private usage: AnthropicTokenCounts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  private readonly textBlocks = new Set<number>();
  /** Anthropic content block index → OpenAI tool_calls[].index. */
  private readonly toolBlocks = new Map<number, number>();

  constructor(options: AnthropicToOpenAIStreamOptions) {
    this.includeUsage = options.includeUsage;
    this.model = options.requestedModel;
  }

  /** Whether any content (text or tool call) has been produced, and with it the role chunk. */
  get hasContent(): boolean {
    return this.content;
  }

  /** One Anthropic event (name and parsed `data:` JSON) → OpenAI SSE text, maybe empty. */
  push(event: string | undefined, data: JsonObject): string {
    if (this.failed) return '';
    const index = asNumber(data.index) ?? 0;
    switch (asString(data.type) ?? event) {
      case 'message_start': {
        const message = asObject(data.message);
        if (typeof message?.id === 'string') this.id = completionId(message.id);
        if (typeof message?.model === 'string' && message.model !== '') this.model = message.model;
        this.usage = readAnthropicUsage(message?.usage, this.usage);
        return '';
      }
      case 'content_block_start':
        return this.startBlock(index, asObject(data.content_block));
      case 'content_block_delta': {
        const delta = asObject(data.delta);
        if (delta?.type === 'text_delta' && this.textBlocks.has(index)) return this.text(asString(delta.text) ?? '');
        const tool = this.toolBlocks.get(index);
        const args = asString(delta?.partial_json);
        if (delta?.type === 'input_json_delta' && tool !== undefined && args) return this.delta({ tool_calls: [{ index: tool, function: { arguments: args } }] });
        return ''; // thinking, signature and citation deltas
      }
      case 'message_delta': {
        this.usage = readAnthropicUsage(data.usage, this.usage);
        const stop = asObject(data.delta)?.stop_reason;
        if (typeof stop === 'string') this.finish = finishReason(stop);
        // Without content yet, the finish waits for end(): push writes nothing before content.
        return this.content ? this.finishChunk() : '';
      }
      case 'error':
        return this.fail(asObject(data.error));
      default:
        return ''; // ping, content_block_stop, message_stop
    }
  }

  /** The provider's stream ended: the finish chunk if not sent yet, the usage chunk if asked for, [DONE]. */
  end(): string {
    if (this.failed) return SSE_DONE;
    let out = this.finishChunk();
    if (this.includeUsage) out += sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: usageFromCounts(this.usage) });
    return out + SSE_DONE;
  }

  private startBlock(index: number, block: JsonObject | undefined): string {
    if (block?.type === 'text') {
      this.textBlocks.add(index);
      return this.text(asString(block.text) ?? '');
    }
    if (block?.type !== 'tool_use') return '';
    const tool = this.toolBlocks.size;
    this.toolBlocks.set(index, tool);
    // The streamed input arrives as input_json_delta; a start block with input already filled
    // (not something Anthropic does) is sent whole so nothing is lost.
    const input = asObject(block.input);
    const args = input && Object.keys(input).length > 0 ? providerJson(input) : '';
    return this.delta({ tool_calls: [{ index: tool, id: asString(block.id) ?? '', type: 'function', function: { name: asString(block.name) ?? '', arguments: args } }] });
  }

  private text(text: string): string {
    return text === '' ? '' : this.delta({ content: text });
  }

  /** A content delta, preceded by the role chunk the first time. */
  private delta(delta: OpenAIChunkDelta): string {
    let out = '';
    if (!this.content) {
      this.content = true;
      out += this.chunk({ role: 'assistant', content: '' }, null);
    }
    return out + this.chunk(delta, null);
  }

  private finishChunk(): string {
    if (this.finished) return '';
    this.finished = true;
    let out = '';
    if (!this.content) out += this.chunk({ role: 'assistant', content: '' }, null);
    return out + this.chunk({}, this.finish ?? 'stop');
  }

  private chunk(delta: OpenAIChunkDelta, finish: OpenAIFinishReason | null): string {
    const chunk: OpenAIChatChunk = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
    if (this.includeUsage) chunk.usage = null;
    return sseData(chunk);
  }

  /** Anthropic's `error` event → OpenAI's in-stream error object; only [DONE] follows it. */
  private fail(error: JsonObject | undefined): string {
    this.failed = true;
    const type = asString(error?.type) ?? 'api_error';
    const status = type === 'overloaded_error' ? 529 : type === 'rate_limit_error' ? 429 : type === 'invalid_request_error' ? 400 : 500;
    const message = asString(error?.message) ?? 'provider stream failed';
    return sseData({ error: { message, type: openAIErrorType(status), param: null, code: type } });
  }
}
