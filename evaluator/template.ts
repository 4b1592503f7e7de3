// Rubric templates: `{{name}}` is replaced by a variable, `{{#name}}…{{/name}}` keeps its body only
// when the variable is present (non-empty). Substitution is one pass over the template, so text
// inside a call's content that looks like `{{…}}` is never expanded (content is data, not template).
// The rubrics fence each variable in tags (`<answer>{{output}}</answer>`) and tell the judge that
// what is inside is data: content that writes one of the template's own tags (`</answer>` then
// instructions) would step out of its fence, so in a variable's value those tags are written with
// `&lt;` instead of `<` (the judge still reads them; the fence holds).

import { toWellFormed } from '../shared/text.ts';

export type TemplateVariables = Record<string, string | undefined>;

const SECTION = /\{\{#\s*([A-Za-z_]+)\s*\}\}\n?([\s\S]*?)\{\{\/\s*\1\s*\}\}\n?/g;
const VARIABLE = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
const TAG = /<\s*\/?\s*([A-Za-z_][\w.-]*)[^<>]*>/g;

/** A replacer of the template's own tags (open or close, any case, spaces or attributes) in content. */
function fenceGuard(template: string): (value: string) => string {
  const names = [...new Set([...template.matchAll(TAG)].map((m) => (m[1] as string).toLowerCase()))];
  if (names.length === 0) return (value) => value;
  const own = new RegExp(`<(?=\\s*/?\\s*(?:${names.map((n) => n.replace(/[.-]/g, '\\$&')).join('|')})(?![\\w.-]))`, 'gi');
  return (value) => value.replace(own, '&lt;');
}


// A cut through a surrogate pair (messages.ts truncates at 24,000 UTF-16 units) leaves half of it:
// written U+FFFD (toWellFormed), so the judge's JSON body carries no unpaired `\ud83d` escape
// (strict JSON parsers refuse one).
export function renderTemplate(template: string, vars: TemplateVariables): string {
  const present = (name: string): boolean => (vars[name] ?? '').trim().length > 0;
  const guard = fenceGuard(template);
  const withSections = template.replace(SECTION, (_m, name: string, body: string) => (present(name) ? body : ''));
  return withSections.replace(VARIABLE, (_m, name: string) => (present(name) ? guard(toWellFormed(vars[name] as string)) : '(none)'));
}
