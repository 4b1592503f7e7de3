// Redaction of captured prompt and answer content before it leaves the process: credentials,
// e-mail addresses, phone numbers and payment card numbers by default, plus patterns from config.
// Runs only for the calls sampled for evaluation, after the response went out.

export interface RedactionRule {
  name: string;
  pattern: RegExp;
  /** Extra check on a match (e.g. the Luhn checksum for card numbers). */
  accept?: (match: string) => boolean;
}

function luhn(digits: string): boolean {
  const d = digits.replace(/\D/g, '');
  if (d.length < 13 || d.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = Number(d[d.length - 1 - i]);
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

export const DEFAULT_RULES: readonly RedactionRule[] = [
  // Provider and cloud credentials first: they can contain characters the later rules would split.
  { name: 'api_key', pattern: /\b(?:sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b/g },
  { name: 'bearer_token', pattern: /\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  { name: 'email', pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { name: 'card_number', pattern: /\b(?:\d[ -]?){12,18}\d\b/g, accept: luhn },
  // A phone number is written with a leading + or with separators; a bare run of digits is more
  // often an order or account number, and is left alone.
  {
    name: 'phone',
    pattern: /(?<![\w+])(?:\+?\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b/g,
    accept: (m) => {
      const digits = m.replace(/\D/g, '').length;
      return digits >= 9 && digits <= 15 && (m.startsWith('+') || /[ .()-]/.test(m));
    },
  },
];

export class Redactor {
  private readonly rules: readonly RedactionRule[];

  constructor(extraPatterns: string[] = [], useDefaults = true) {
    const extra = extraPatterns.map((p, i) => ({ name: `custom_${i + 1}`, pattern: new RegExp(p, 'g') }));
    this.rules = [...(useDefaults ? DEFAULT_RULES : []), ...extra];
  }

  redact(text: string): string {
    let out = text;
    for (const rule of this.rules) {
      rule.pattern.lastIndex = 0;
      out = out.replace(rule.pattern, (m) => (rule.accept && !rule.accept(m) ? m : `[REDACTED:${rule.name}]`));
    }
    return out;
  }
}
