// Budgets, rate limits and per-request limits: the public surface the proxy pipeline uses.
export { IdentityResolver, resolveIdentity, hashApiKey } from './identity.ts';
export type { Identity, HeaderBag } from './identity.ts';
export { applyRequestLimits, requestLimitsFor, requestShapeOf, estimateInputTokens, charsPerFour, DEFAULT_MAX_OUTPUT_TOKENS } from './limits.ts';
export type { LimitsApplied, LimitsRejected, LimitsOutcome, LimitsOptions, RequestShape, RouteRequestLimits, TokenEstimator } from './limits.ts';
export { BudgetEnforcer, createBudgetEnforcer } from './enforcer.ts';
export type { ActualUsage, BackendErrorEvent, BudgetAlert, BudgetEnforcerOptions, BudgetGauge, BudgetScope, BudgetUnit, Rejection, Reservation, ReserveRequest, ResolvedLimits } from './enforcer.ts';
export type { BudgetBackend } from './backend.ts';
export { MemoryBudgetBackend } from './memory-backend.ts';
export { RedisBudgetBackend } from './redis-backend.ts';
export { toMicroUsd, microsToUsd } from './usd.ts';
export { windowAt } from './windows.ts';
export type { Window, WindowKind } from './windows.ts';
