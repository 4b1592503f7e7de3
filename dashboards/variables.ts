// The template variables: service, route, provider, model and tenant on every dashboard (plus
// evaluator on Quality). Their values are the distinct values seen in the time range, read from
// the per-minute rollup (same values as llm_calls, a fraction of the rows); the ones after
// service only offer values seen for the selected services.
import { variable, type Variable } from './builder.ts';
import { CALL_VARIABLES, EVALS as E, ROLLUP as R, variableFilter, type Tables } from './sql.ts';

export function callVariables(t: Tables): Variable[] {
  return CALL_VARIABLES.map((v) => {
    const column = R[v.column];
    const chained = v.name === 'service' ? '' : `\n  AND ${variableFilter(R.ServiceName, 'service')}`;
    return variable(v.name, v.label, `SELECT DISTINCT ${column} FROM ${t.rollup}\nWHERE $__timeFilter(${R.Minute}) AND ${column} != ''${chained}\nORDER BY 1`);
  });
}

export function evaluatorVariable(t: Tables): Variable {
  return variable('evaluator', 'Evaluator', `SELECT DISTINCT ${E.Evaluator} FROM ${t.evaluations}\nWHERE $__timeFilter(${E.Timestamp}) AND ${E.Evaluator} != ''\n  AND ${variableFilter(E.ServiceName, 'service')}\nORDER BY 1`);
}

/** Every variable name any dashboard defines (the report sets them all to "All"). */
export const ALL_VARIABLE_NAMES = [...CALL_VARIABLES.map((v) => v.name), 'evaluator'] as const;
