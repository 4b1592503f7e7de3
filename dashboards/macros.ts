// Expands a panel's SQL the way Grafana and the ClickHouse plugin do before it reaches ClickHouse,
// so the report (and the tests) can run the dashboards' exact SQL:
//   1. template variables, in the browser: `${name:singlequote}`, `${name:csv}`, `${name:raw}`;
//      "All" with a custom all value inserts that value as written (no formatting), like Grafana;
//   2. the plugin's backend macros (pkg/macros/macros.go, plugin v4): `$__timeFilter(col)` →
//      `col >= toDateTime(<from s>) AND col <= toDateTime(<to s>)`, `$__timeFilter_ms(col)` (with
//      fromUnixTimestamp64Milli), `$__dateFilter(col)` (toDate('YYYY-MM-DD')), `$__dateTimeFilter(d, t)`
//      / `$__dt`, `$__fromTime`, `$__toTime`, `$__fromTime_ms`, `$__toTime_ms`, `$__interval_s`
//      (whole seconds, at least 1), `$__timeInterval(col)` → `toStartOfInterval(toDateTime(col),
//      INTERVAL <interval_s> second)`, `$__timeInterval_ms(col)`.
// Anything else that starts with `$` is an error (e.g. `$__conditionalAll`, browser-only, or a
// variable that is not defined): better a failed test than SQL Grafana would send differently.

export interface VariableValue {
  /** Selected values, or 'all'. */
  selected: readonly string[] | 'all';
  /** The variable's custom all value (inserted as written when 'all'). */
  allValue?: string;
  /** Every option, for 'all' without a custom all value. */
  options?: readonly string[];
}

export interface ExpandContext {
  from: Date;
  to: Date;
  /** Grafana's $__interval in seconds (panel width / range); default 60. */
  intervalSeconds?: number;
  variables?: Record<string, VariableValue>;
}

const BACKEND_MACROS = new Set(['timeFilter', 'timeFilter_ms', 'dateFilter', 'dateTimeFilter', 'dt', 'fromTime', 'toTime', 'fromTime_ms', 'toTime_ms', 'timeInterval', 'timeInterval_ms', 'interval_s']);

function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function formatValues(values: readonly string[], format: string, name: string): string {
  switch (format) {
    case 'singlequote':
      return values.map(quote).join(',');
    case 'csv':
      return values.join(',');
    case 'raw':
      return values.join(',');
    default:
      throw new Error(`variable \${${name}:${format}}: format not supported here (use singlequote, csv or raw)`);
  }
}

/** Step 1: template variables, as the browser does. */
export function expandVariables(sql: string, variables: Record<string, VariableValue> = {}): string {
  const left = /\$\{(?![A-Za-z0-9_]+(?::[A-Za-z]+)?\})[^}]*\}/.exec(sql);
  if (left) throw new Error(`${left[0]}: Grafana builtins and field paths are expanded by the browser only: not supported in dashboards' SQL`);
  // ${name}, ${name:format}, $name, [[name]] (skipping $__ builtins, handled by the backend step).
  return sql.replace(/\$\{([A-Za-z0-9_]+)(?::([A-Za-z]+))?\}|\$(?!__)([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g, (match, n1: string | undefined, fmt: string | undefined, n2: string | undefined, n3: string | undefined) => {
    const name = (n1 ?? n2 ?? n3) as string;
    if (name.startsWith('__')) throw new Error(`Grafana builtin ${match} is expanded by the browser only: not supported in dashboards' SQL`);
    const v = variables[name];
    if (!v) throw new Error(`template variable ${match} is not defined (alert rules cannot use template variables)`);
    if (fmt === undefined) throw new Error(`template variable ${match} has no format: write \${${name}:singlequote} so values are quoted`);
    if (v.selected === 'all') {
      if (v.allValue !== undefined) return v.allValue;
      return formatValues(v.options ?? [], fmt, name);
    }
    return formatValues(v.selected, fmt, name);
  });
}

/** Splits a macro's argument list on top-level commas. */
function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  let inString = false;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i] as string;
    if (inString) {
      cur += ch;
      if (ch === '\\') cur += args[++i] ?? '';
      else if (ch === "'") inString = false;
      continue;
    }
    if (ch === "'") inString = true;
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Step 2: the plugin's backend macros. */
export function expandBackendMacros(sql: string, ctx: ExpandContext): string {
  const fromS = Math.floor(ctx.from.getTime() / 1000);
  const toS = Math.floor(ctx.to.getTime() / 1000);
  const fromMs = ctx.from.getTime();
  const toMs = ctx.to.getTime();
  const intervalS = Math.max(Math.floor(ctx.intervalSeconds ?? 60), 1);
  const date = (d: Date) => `toDate('${d.toISOString().slice(0, 10)}')`;
  let out = '';
  let i = 0;
  const re = /\$__([A-Za-z_]+)/g;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    const name = m[1] as string;
    if (!BACKEND_MACROS.has(name)) throw new Error(`macro $__${name} is not a backend macro of the ClickHouse plugin (browser-only or unknown): not allowed`);
    out += sql.slice(i, m.index);
    let end = re.lastIndex;
    let args: string[] = [];
    if (sql[end] === '(') {
      let depth = 0;
      let j = end;
      for (; j < sql.length; j++) {
        if (sql[j] === '(') depth++;
        else if (sql[j] === ')' && --depth === 0) break;
      }
      if (depth !== 0 && j >= sql.length) throw new Error(`macro $__${name}: unbalanced parentheses`);
      args = splitArgs(sql.slice(end + 1, j));
      end = j + 1;
    }
    const need = (n: number) => {
      if (args.length !== n) throw new Error(`macro $__${name} expects ${n} argument(s), got ${args.length}`);
    };
    let rep: string;
    switch (name) {
      case 'timeFilter':
        need(1);
        rep = `${args[0]} >= toDateTime(${fromS}) AND ${args[0]} <= toDateTime(${toS})`;
        break;
      case 'timeFilter_ms':
        need(1);
        rep = `${args[0]} >= fromUnixTimestamp64Milli(${fromMs}) AND ${args[0]} <= fromUnixTimestamp64Milli(${toMs})`;
        break;
      case 'dateFilter':
        need(1);
        rep = `${args[0]} >= ${date(ctx.from)} AND ${args[0]} <= ${date(ctx.to)}`;
        break;
      case 'dateTimeFilter':
      case 'dt':
        need(2);
        rep = `(${args[0]} >= ${date(ctx.from)} AND ${args[0]} <= ${date(ctx.to)}) AND (${args[1]} >= toDateTime(${fromS}) AND ${args[1]} <= toDateTime(${toS}))`;
        break;
      case 'fromTime':
        rep = `toDateTime(${fromS})`;
        break;
      case 'toTime':
        rep = `toDateTime(${toS})`;
        break;
      case 'fromTime_ms':
        rep = `fromUnixTimestamp64Milli(${fromMs})`;
        break;
      case 'toTime_ms':
        rep = `fromUnixTimestamp64Milli(${toMs})`;
        break;
      case 'timeInterval':
        need(1);
        rep = `toStartOfInterval(toDateTime(${args[0]}), INTERVAL ${intervalS} second)`;
        break;
      case 'timeInterval_ms':
        need(1);
        rep = `toStartOfInterval(toDateTime64(${args[0]}, 3), INTERVAL ${Math.max(intervalS * 1000, 1)} millisecond)`;
        break;
      case 'interval_s':
        rep = String(intervalS);
        break;
      default:
        throw new Error(`macro $__${name} not handled`);
    }
    out += rep;
    i = end;
    re.lastIndex = end;
  }
  return out + sql.slice(i);
}

/** Variables (browser) then macros (plugin backend): the SQL ClickHouse receives. */
export function expandGrafanaSql(sql: string, ctx: ExpandContext): string {
  return expandBackendMacros(expandVariables(sql, ctx.variables), ctx);
}
