// Rubric templates: `{{name}}` is replaced by a variable, `{{#name}}…{{/name}}` keeps its body only
// when the variable is present (non-empty). Substitution is one pass over the template, so text
// inside a call's content that looks like `{{…}}` is never expanded (content is data, not template).

export type TemplateVariables = Record<string, string | undefined>;

const SECTION = /\{\{#\s*([A-Za-z_]+)\s*\}\}\n?([\s\S]*?)\{\{\/\s*\1\s*\}\}\n?/g;
const VARIABLE = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;

export function renderTemplate(template: string, vars: TemplateVariables): string {
  const present = (name: string): boolean => (vars[name] ?? '').trim().length > 0;
  const withSections = template.replace(SECTION, (_m, name: string, body: string) => (present(name) ? body : ''));
  return withSections.replace(VARIABLE, (_m, name: string) => (present(name) ? (vars[name] as string) : '(none)'));
}
