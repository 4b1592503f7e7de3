// Monthly USD budgets per tenant for the budget panels and alert rules. Budgets live in the
// sidecar's configuration (`budgets.tiers`, `budgets.tenants`, `budgets.defaultTier`, each with
// `tenantMonthlyUsd`), not in ClickHouse, so they are written into the generated SQL at
// generation time: regenerate with `--config FILE` after changing them.
import { effectiveLimits, type BudgetsConfig } from '../shared/config/budgets.ts';
import type { MonthlyBudgets } from './sql.ts';

/**
 * Used for every tenant when no configuration is given (the committed files): a placeholder so
 * the panels and the burn rules have a line to draw; regenerate with your budgets.
 */
export const PLACEHOLDER_MONTHLY_BUDGET_USD = 1000;

export const PLACEHOLDER_BUDGETS: MonthlyBudgets = { tenants: {}, defaultUsd: PLACEHOLDER_MONTHLY_BUDGET_USD };

/**
 * The tenant-month USD limit of every tenant listed in `budgets.tenants`, and of unlisted tenants
 * (their `defaultTier`'s). `fallbackUsd` applies where the configuration sets none.
 */
export function budgetsFromConfig(config: BudgetsConfig | undefined, fallbackUsd?: number): MonthlyBudgets {
  if (!config) return fallbackUsd === undefined ? { tenants: {} } : { tenants: {}, defaultUsd: fallbackUsd };
  const tenants: Record<string, number> = {};
  for (const name of Object.keys(config.tenants)) {
    const usd = effectiveLimits(config, name).tenantMonthlyUsd;
    if (usd !== undefined) tenants[name] = Number(usd);
    else if (fallbackUsd !== undefined) tenants[name] = fallbackUsd;
  }
  // An unlisted tenant gets the default tier's limits: ask for a name no tenant has.
  const unlisted = effectiveLimits({ ...config, tenants: {} }, '\u0000unlisted').tenantMonthlyUsd;
  const defaultUsd = unlisted !== undefined ? Number(unlisted) : fallbackUsd;
  return defaultUsd === undefined ? { tenants } : { tenants, defaultUsd };
}
