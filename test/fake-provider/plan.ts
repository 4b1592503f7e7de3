// What a handler decides to send; server.ts executes it, applying delays, cuts and other faults.
export type Plan =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'sse'; events: string[]; headers?: Record<string, string> };

export function sseData(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Word-sized deltas that concatenate back to the text exactly. */
export function deltas(text: string): string[] {
  const parts = text.split(/(?= )/);
  return parts.length > 0 ? parts : [text];
}
