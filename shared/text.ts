// Well-formed text. JSON may carry a lone UTF-16 surrogate (`"\ud800"` is valid JSON), and a cut at
// a fixed length can split a surrogate pair; neither is text, and ClickHouse refuses a row holding
// one (CANNOT_PARSE_ESCAPE_SEQUENCE). One definition for every place that stores or sends text it
// did not write: feedback (refused), judge explanations and prompts (repaired to U+FFFD).

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** Every lone surrogate written as U+FFFD (what String.prototype.toWellFormed does). */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATES, '\uFFFD');
}

/** The first `max` UTF-16 units of `text`, well-formed: a cut never splits a surrogate pair. */
export function wellFormedPrefix(text: string, max: number): string {
  let cut = text.length > max ? text.slice(0, max) : text;
  if (text.length > max && /[\uD800-\uDBFF]$/.test(cut) && /^[\uDC00-\uDFFF]/.test(text.slice(max))) cut = cut.slice(0, -1);
  return toWellFormed(cut);
}
