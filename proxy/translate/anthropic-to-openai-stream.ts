// An OpenAI chat-completions stream → the Anthropic Messages event stream an Anthropic app expects:
//   message_start, then per block content_block_start / content_block_delta… / content_block_stop,
//   message_delta (stop_reason, usage), message_stop.
//
// Nothing is written before the first content: the proxy holds a stream's preamble until content
// arrives, so that a failure before it can still fall back invisibly. message_start therefore goes
// out together with the first text or tool-call delta (`hasContent` turns true then).
//
// Usage: OpenAI sends it last (a chunk with no choices, thanks to stream_options.include_usage that
// translateRequest adds). message_start carries zeros and the final message_delta carries the real
// input/cache/output numbers, which Anthropic allows and the SDK applies. message_delta waits until
// both the finish_reason and the usage chunk were seen (or the stream ends).
//
// Tool calls: OpenAI streams each call's arguments contiguously, one call after another, so each
// call becomes one tool_use block, closed when the next block starts. A provider that interleaves
// calls gets its late fragments sent with the call's original block index (index-keyed clients such
// as the SDK still assemble them; Anthropic itself never reopens a block).
import { anthropicErrorType, anthropicUsage, messageId, stopReason, toolUse } from './anthropic-to-openai-response.ts';
import type { AnthropicStopReason, AnthropicUsage } from './anthropic-types.ts';
import { asNumber, asObject, asString, objects, sseEvent, type JsonObject } from './narrow.ts';

export interface OpenAIToAnthropicStreamOptions {
  /** The model name to report if the provider's chunks carry none. */
  requestedModel: string;
}

type OpenBlock = { index: number; kind: 'text' } | { index: number; kind: 'tool' };

export class OpenAIToAnthropicStream {
  private id = '';
  private model: string;
  private started = false;
  private content = false;
  private finished = false;
  private blocks = 0;
  private open: OpenBlock | undefined;
  /** OpenAI tool_calls[].index → Anthropic content block index. */
  private readonly toolBlocks = new Map<number, number>();
  private finishReason: AnthropicStopReason | undefined;
  private refused = false;
  private usage: AnthropicUsage | undefined;

  constructor(options: OpenAIToAnthropicStreamOptions) {
    this.model = options.requestedModel;
  }

  /** Whether any content (text or tool call) has been produced, and with it message_start. */
  get hasContent(): boolean {
    return this.content;
  }

  /** One OpenAI chunk (the `data:` JSON; OpenAI events have no name) → Anthropic SSE text, maybe empty. */
  push(_event: string | undefined, chunk: JsonObject): string {
    if (this.finished) return '';
    const error = asObject(chunk.error);
    if (error) return this.fail(error);
    if (this.id === '' && typeof chunk.id === 'string') this.id = chunk.id;
    if (typeof chunk.model === 'string' && chunk.model !== '') this.model = chunk.model;
    if (asObject(chunk.usage)) this.usage = anthropicUsage(chunk.usage);
    let out = '';
    for (const choice of objects(chunk.choices)) {
      // n > 1 is never requested by translateRequest: only the first choice exists.
      if ((asNumber(choice.index) ?? 0) !== 0) continue;
      const delta = asObject(choice.delta);
      const text = asString(delta?.content);
      if (text) out += this.text(text);
      const refusal = asString(delta?.refusal);
      if (refusal) {
        this.refused = true;
        out += this.text(refusal);
      }
      for (const call of objects(delta?.tool_calls)) out += this.toolCall(call);
      if (typeof choice.finish_reason === 'string') {
        this.finishReason = stopReason(choice.finish_reason);
        out += this.closeBlock();
      }
    }
    // An answer without content is completed by end(), so that push still writes nothing.
    if (this.content && this.finishReason !== undefined && this.usage !== undefined) out += this.finish();
    return out;
  }

  /** The provider's stream ended: whatever has not been sent yet (a complete stream even if no content came). */
  end(): string {
    if (this.finished) return '';
    return this.start() + this.finish();
  }

  private start(): string {
    if (this.started) return '';
    this.started = true;
    const usage: AnthropicUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const message = { id: messageId(this.id), type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage };
    return sseEvent('message_start', { type: 'message_start', message });
  }

  private text(text: string): string {
    this.content = true;
    let out = this.start();
    if (this.open?.kind !== 'text') {
      out += this.closeBlock();
      this.open = { index: this.blocks++, kind: 'text' };
      out += sseEvent('content_block_start', { type: 'content_block_start', index: this.open.index, content_block: { type: 'text', text: '' } });
    }
    return out + sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open.index, delta: { type: 'text_delta', text } });
  }

  private toolCall(call: JsonObject): string {
    const fn = asObject(call.function);
    const callIndex = asNumber(call.index) ?? 0;
    this.content = true;
    let out = '';
    let index = this.toolBlocks.get(callIndex);
    if (index === undefined) {
      out += this.start() + this.closeBlock();
      index = this.blocks++;
      this.toolBlocks.set(callIndex, index);
      this.open = { index, kind: 'tool' };
      const block = toolUse(asString(call.id), asString(fn?.name) ?? '', {});
      out += sseEvent('content_block_start', { type: 'content_block_start', index, content_block: block });
    }
    const args = asString(fn?.arguments);
    if (args) out += sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } });
    return out;
  }

  private closeBlock(): string {
    if (!this.open) return '';
    const index = this.open.index;
    this.open = undefined;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index });
  }

  private finish(): string {
    this.finished = true;
    const usage = this.usage ?? anthropicUsage(undefined);
    const stop_reason = this.refused ? 'refusal' : (this.finishReason ?? 'end_turn');
    return (
      this.closeBlock() +
      sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage }) +
      sseEvent('message_stop', { type: 'message_stop' })
    );
  }

  /** A mid-stream error chunk (`{"error":{…}}`) → Anthropic's `error` event; nothing follows it. */
  private fail(error: JsonObject): string {
    this.finished = true;
    // Mid-stream errors carry no HTTP status: guess one from OpenAI's error type.
    const type = asString(error.type) ?? '';
    const status = /rate|limit|requests|tokens/.test(type) ? 429 : type === 'invalid_request_error' ? 400 : 500;
    const message = asString(error.message) ?? 'provider stream failed';
    return sseEvent('error', { type: 'error', error: { type: anthropicErrorType(status), message } });
  }
}
