// Incremental Server-Sent Events splitting. Chunks are forwarded as they arrive; this only finds
// event boundaries so the sidecar can read usage from the events (and, when it asked for usage
// the app did not, remove that from what the app receives).
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** The raw event text without its terminating blank line. */
  raw: string;
  event: string | undefined;
  data: string;
}

const BOUNDARY = /\r?\n\r?\n/;

export function parseEvent(raw: string): SseEvent {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith('data:')) {
      const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === undefined ? v : `${data}\n${v}`;
    } else if (line.startsWith('event:')) {
      event = line.charCodeAt(6) === 32 ? line.slice(7) : line.slice(6);
    }
  }
  return { raw, event, data: data ?? '' };
}

export class SseSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  /** Complete events contained in the bytes seen so far; a partial event waits for the next chunk. */
  push(chunk: Buffer): string[] {
    this.pending += this.decoder.write(chunk);
    const events: string[] = [];
    let m: RegExpExecArray | null;
    while ((m = BOUNDARY.exec(this.pending)) !== null) {
      const raw = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      if (raw.length > 0) events.push(raw);
    }
    return events;
  }

  /** Whatever is left when the stream ends (an unterminated last event). */
  end(): string {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest;
  }
}
