// Collects a provider stream's events as the proxy forwards them, for a cache write. Only a stream
// that ended properly is cacheable: OpenAI chat's `[DONE]`, Anthropic's `message_stop`, the
// Responses API's `response.completed`. A stream that was cut, carried an error event, or grew past
// `maxBytes` yields nothing (finish() → undefined), so a broken answer is never replayed.
import type { ApiDialect } from '../../shared/errors.ts';
import type { CachedSseEvent } from './entry.ts';

export const DEFAULT_MAX_STREAM_BYTES = 4 * 1024 * 1024;

export class StreamRecorder {
  private readonly events: CachedSseEvent[] = [];
  private bytes = 0;
  private state: 'open' | 'complete' | 'abandoned' = 'open';

  constructor(
    private readonly dialect: ApiDialect,
    private readonly operation: string,
    private readonly maxBytes = DEFAULT_MAX_STREAM_BYTES,
  ) {}

  /** One event as received (its `event:` name, if any, and its `data:` payload). */
  push(event: string | undefined, data: string): void {
    if (this.state !== 'open') {
      // Anything after the terminal event (there should be nothing) makes the stream suspect.
      if (this.state === 'complete') this.state = 'abandoned';
      return;
    }
    this.bytes += data.length + (event?.length ?? 0) + 16;
    if (this.bytes > this.maxBytes || isError(event, data)) {
      this.abandon();
      return;
    }
    this.events.push(event === undefined ? { data } : { event, data });
    if (isTerminal(this.dialect, this.operation, event, data)) this.state = 'complete';
  }

  /**
   * The stream ended and the attempt judged it complete (its observer saw the provider's end
   * marker): complete unless something already made it unfit. Covers servers whose end marker is
   * not the recorder's terminal event (OpenAI-compatible servers without `[DONE]`).
   */
  completeAtEnd(): void {
    if (this.state === 'open' && this.events.length > 0) this.state = 'complete';
  }

  /** The stream failed (cut, timeout, client gone before the end): nothing will be cached. */
  abandon(): void {
    this.state = 'abandoned';
    this.events.length = 0;
  }

  get complete(): boolean {
    return this.state === 'complete';
  }

  /** The events of a complete stream, or undefined. */
  finish(): CachedSseEvent[] | undefined {
    return this.state === 'complete' ? this.events : undefined;
  }
}

function isError(event: string | undefined, data: string): boolean {
  if (event === 'error' || event === 'response.failed' || event === 'response.incomplete') return true;
  // OpenAI-compatible servers report mid-stream failures as a data event with an `error` object.
  return event === undefined && data.startsWith('{"error"');
}

function isTerminal(dialect: ApiDialect, operation: string, event: string | undefined, data: string): boolean {
  if (dialect === 'anthropic') return event === 'message_stop';
  if (operation === 'responses') return event === 'response.completed';
  return data === '[DONE]';
}
