// SSE framing for replayed events, and the text splitting used when a stream has to be synthesised
// from a JSON answer (so the client sees a progressive stream, not one blob).
import type { CachedSseEvent } from './entry.ts';

/** One event as SSE text, terminated by its blank line. Multi-line data gets one `data:` line per line. */
export function sseText(e: CachedSseEvent): string {
  const data = e.data.includes('\n') ? e.data.split('\n').map((l) => `data: ${l}`).join('\n') : `data: ${e.data}`;
  return e.event === undefined ? `${data}\n\n` : `event: ${e.event}\n${data}\n\n`;
}

/** Minimum characters per synthesised delta: word-sized pieces, grouped so long answers stay a few hundred events. */
export const PIECE_CHARS = 16;

/** Pieces that concatenate back to `text` exactly, cut at word boundaries. */
export function textPieces(text: string, minChars = PIECE_CHARS): string[] {
  if (text === '') return [];
  const words = text.split(/(?<=\s)(?=\S)/);
  const out: string[] = [];
  let cur = '';
  for (const w of words) {
    cur += w;
    if (cur.length >= minChars) {
      out.push(cur);
      cur = '';
    }
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** Fixed-size pieces (tool-call arguments are streamed as fragments, not words). */
export function fragments(text: string, size = 32): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export type Json = Record<string, unknown>;

export function asObject(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

export function parseObject(text: string): Json | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}
