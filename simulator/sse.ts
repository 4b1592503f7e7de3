// Server-sent event framing. Handlers pass JSON they already serialised, so a stream of many chunks
// can be built from one precomputed prefix/suffix per response instead of one stringify per chunk.

/** OpenAI chat completions: data-only events. */
export const sseData = (json: string): string => `data: ${json}\n\n`;

/** Anthropic and the Responses API: named events. */
export const sseEvent = (name: string, json: string): string => `event: ${name}\ndata: ${json}\n\n`;

export const SSE_DONE = 'data: [DONE]\n\n';

/** Word-sized pieces that concatenate back to the text exactly: "Echo: hi there" → ["Echo:", " hi", " there"]. */
export function wordDeltas(text: string): string[] {
  return text === '' ? [] : text.split(/(?= )/);
}

/** Fixed-size pieces, like the argument fragments providers stream for tool calls. */
export function fragments(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * The same event with its data line replaced by JSON cut off mid-object, keeping any `event:` line:
 * what a client sees when a provider's serialiser breaks.
 */
export function corruptEvent(event: string): string {
  const start = event.indexOf('data: ');
  if (start < 0) return event;
  const data = event.slice(start + 6, event.indexOf('\n', start));
  return `${event.slice(0, start)}data: ${data.slice(0, Math.max(1, Math.floor(data.length / 2)))}\n\n`;
}
