// The `budgets` configuration schema lives with the rest of the config schema in shared/config
// (the config loader must not import the proxy); re-exported here for the budget modules.
export * from '../../shared/config/budgets.ts';
