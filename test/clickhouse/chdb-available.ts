// Whether the embedded engine (chdb, a native addon) loads on this machine. Tests that need it are
// skipped where it cannot (an unsupported platform) — except under CI=true, where a missing engine
// must fail the run loudly instead of silently skipping the storage tests.
export async function chdbAvailable(): Promise<boolean> {
  try {
    const chdb = await import('chdb');
    chdb.version();
    return true;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (process.env.CI === 'true') throw new Error(`chdb (embedded ClickHouse) cannot load under CI: ${reason}`);
    console.warn(`[test] chdb cannot load here, ClickHouse tests skipped: ${reason}`);
    return false;
  }
}
