// Fixed windows in UTC. A counter's key carries its window's start, so a new window is a new key:
// the reset is exact at the boundary, needs no cleanup job, and replicas agree on it as long as
// their clocks do (NTP skew moves the boundary by milliseconds; each window is still exact).
export type WindowKind = 'minute' | 'day' | 'month';

export interface Window {
  kind: WindowKind;
  /** Inclusive start, ms since the epoch. */
  start: number;
  /** Exclusive end (the next window's start). */
  end: number;
  /** UTC label used in keys (no colons): 2025-01-31T1205, 2025-01-31, 2025-01. */
  label: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

export function windowAt(kind: WindowKind, now: number): Window {
  if (kind === 'minute') {
    const start = Math.floor(now / MINUTE) * MINUTE;
    const iso = new Date(start).toISOString();
    return { kind, start, end: start + MINUTE, label: `${iso.slice(0, 13)}${iso.slice(14, 16)}` };
  }
  if (kind === 'day') {
    const start = Math.floor(now / DAY) * DAY;
    return { kind, start, end: start + DAY, label: new Date(start).toISOString().slice(0, 10) };
  }
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const start = Date.UTC(y, m, 1);
  return { kind, start, end: Date.UTC(y, m + 1, 1), label: new Date(start).toISOString().slice(0, 7) };
}
