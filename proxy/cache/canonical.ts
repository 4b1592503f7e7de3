// Canonical JSON: object keys sorted recursively, no insignificant whitespace, numbers as
// JSON.stringify writes them (1.0 and 1 are the same number). Two requests that mean the same
// JSON value serialise to the same text, whatever the client's key order or formatting.
import { createHash } from 'node:crypto';

/** Text written as is (punctuation, keys), told apart from the parsed values on the work stack. */
class Text {
  constructor(readonly s: string) {}
}
const COMMA = new Text(',');
const CLOSE_ARRAY = new Text(']');
const CLOSE_OBJECT = new Text('}');

/**
 * Iterative (an explicit work stack, no recursion), so no nesting depth can overflow the call
 * stack, whatever the caller let through.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item instanceof Text) {
      out.push(item.s);
    } else if (item === null || typeof item !== 'object') {
      // undefined (absent) and functions cannot come from parsed JSON; write them as null.
      const s = JSON.stringify(item);
      out.push(s === undefined ? 'null' : s);
    } else if (Array.isArray(item)) {
      out.push('[');
      stack.push(CLOSE_ARRAY);
      for (let i = item.length - 1; i >= 0; i--) {
        stack.push(item[i]);
        if (i > 0) stack.push(COMMA);
      }
    } else {
      const obj = item as Record<string, unknown>;
      // undefined members are absent, as JSON.stringify does.
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      out.push('{');
      stack.push(CLOSE_OBJECT);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push(obj[key], new Text(`${JSON.stringify(key)}:`));
        if (i > 0) stack.push(COMMA);
      }
    }
  }
  return out.join('');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
