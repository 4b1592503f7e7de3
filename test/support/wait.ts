// Waiting on a condition instead of sleeping: a test that waits says WHAT it waits for, polls it,
// and fails with that sentence when it never comes true, so a slow machine makes a test slower,
// never wrong, and a broken one fails with the reason rather than a bare timeout. Plain code (not
// vi.waitUntil) because the bench scripts under node --import tsx use the Redis launchers too, and
// vi.waitUntil's timeout error does not say what was awaited.

export interface UntilOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll period (default 20 ms). */
  intervalMs?: number;
}

/**
 * Resolves with the first truthy value `probe` returns; a probe that throws counts as "not yet".
 * Rejects with `timed out waiting until <what>` after `timeoutMs`.
 */
export async function until<T>(what: string, probe: () => T | Promise<T>, options: UntilOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last probe error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

