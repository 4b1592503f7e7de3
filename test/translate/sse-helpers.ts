// Helpers shared by the translation tests: reading the SSE text the translators write, and sending
// typed SDK params through JSON the way they travel on the wire.
import type { JsonObject } from '../../proxy/translate/narrow.ts';

export interface ParsedEvent {
  event: string | undefined;
  data: string;
  json: JsonObject | undefined;
}

/** Splits SSE text into events; `json` is the parsed data (undefined for [DONE]). */
export function parseSse(text: string): ParsedEvent[] {
  return text
    .split('\n\n')
    .filter((raw) => raw.trim() !== '')
    .map((raw) => {
      let event: string | undefined;
      let data = '';
      for (const line of raw.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      return { event, data, json: data === '[DONE]' ? undefined : (JSON.parse(data) as JsonObject) };
    });
}

/** A typed value as the JSON object the other side parses. */
export function wire(value: object): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}
