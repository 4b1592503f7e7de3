// docs/errors.md is the users' copy of the error table in shared/errors.ts: every code in one is in
// the other, with the same status, retryable flag and `error.type`. A code added in code without
// its documentation (or documented and gone) fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../shared/errors.ts';

interface DocRow {
  status: number;
  retryable: boolean;
  errorType: string;
  when: string;
}

function documentedCodes(): Map<string, DocRow> {
  const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, DocRow>();
  for (const line of text.split('\n')) {
    const m = /^\| `(LLM_SIDECAR_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \| (.+) \|$/.exec(line.trim());
    if (!m) continue;
    const [, code, status, retryable, errorType, when] = m as unknown as [string, string, string, string, string, string];
    expect(rows.has(code), `${code} is documented twice`).toBe(false);
    const statusNumber = /\d{3}/.exec(status)?.[0];
    rows.set(code, { status: Number(statusNumber), retryable: retryable.trim() === 'yes', errorType: errorType.trim().replace(/`/g, ''), when: when.trim() });
    expect(['yes', 'no'], `${code}: retryable column`).toContain(retryable.trim());
  }
  return rows;
}

describe('docs/errors.md ↔ shared/errors.ts', () => {
  const docs = documentedCodes();
  const table = Object.entries(ERROR_CODES) as [ErrorCode, (typeof ERROR_CODES)[ErrorCode]][];

  it('reads a table (the parser itself works)', () => {
    expect(docs.size).toBeGreaterThan(10);
  });

  it.each(table)('%s is documented with its status, retryable flag and error.type', (code, spec) => {
    const row = docs.get(code);
    expect(row, `${code} is missing from docs/errors.md`).toBeDefined();
    expect({ status: row?.status, retryable: row?.retryable, errorType: row?.errorType }).toEqual({ status: spec.status, retryable: spec.retryable, errorType: spec.errorType });
    expect(row?.when.length, `${code}: say when it happens`).toBeGreaterThan(10);
  });

  it('documents no code the sidecar does not have', () => {
    const unknown = [...docs.keys()].filter((code) => !Object.hasOwn(ERROR_CODES, code));
    expect(unknown).toEqual([]);
  });
});
