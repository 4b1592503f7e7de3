// Reads the committed generated files and lists every piece of SQL in them: panel targets,
// variable queries, the trace query behind the TraceId data links, alert rule queries. Helpers
// run them on ClickHouse after expansion and inspect their result columns and the table columns
// they read (EXPLAIN QUERY TREE).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { AlertProvisioning } from '../../dashboards/alerts.ts';
import { ALL_SENTINEL, allPanels, type Dashboard } from '../../dashboards/builder.ts';
import { GENERATED_DIR } from '../../dashboards/generate.ts';
import { CELL_VALUE } from '../../dashboards/sql.ts';
import { expandGrafanaSql, type ExpandContext, type VariableValue } from '../../dashboards/macros.ts';
import { ALL_VARIABLE_NAMES } from '../../dashboards/variables.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';

export interface Committed {
  dashboards: Record<'sre' | 'cost' | 'quality', Dashboard>;
  alerts: AlertProvisioning;
  datasource: Record<string, unknown>;
}

export function readCommitted(dir = GENERATED_DIR): Committed {
  const json = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Dashboard;
  return {
    dashboards: { sre: json('sre'), cost: json('cost'), quality: json('quality') },
    alerts: parse(readFileSync(join(dir, 'alerts.yaml'), 'utf8')) as AlertProvisioning,
    datasource: parse(readFileSync(join(dir, 'datasource.yaml'), 'utf8')) as Record<string, unknown>,
  };
}

export interface PanelQuery {
  dashboard: string;
  panelId: number;
  title: string;
  type: string;
  refId: string;
  format: number;
  sql: string;
}

export function panelQueries(c: Committed): PanelQuery[] {
  return Object.entries(c.dashboards).flatMap(([name, d]) =>
    allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: name, panelId: p.id as number, title: p.title, type: p.type, refId: t.refId, format: t.format, sql: t.rawSql }))),
  );
}

export function variableQueries(c: Committed): { dashboard: string; name: string; sql: string }[] {
  return Object.entries(c.dashboards).flatMap(([name, d]) => d.templating.list.map((v) => ({ dashboard: name, name: v.name, sql: v.query })));
}

export interface TraceLink {
  dashboard: string;
  title: string;
  column: string;
  url: string;
}

export function traceLinks(c: Committed): TraceLink[] {
  return Object.entries(c.dashboards).flatMap(([name, d]) =>
    allPanels(d).flatMap((p) =>
      (p.fieldConfig?.overrides ?? []).flatMap((o) =>
        o.properties.filter((prop) => prop.id === 'links').flatMap((prop) => (prop.value as { url: string }[]).map((l) => ({ dashboard: name, title: p.title, column: o.matcher.options, url: l.url }))),
      ),
    ),
  );
}

/** The Explore query a trace link opens once Grafana has put `traceId` in place of the cell value. */
export function traceLinkQuery(url: string, traceId: string): { datasource: unknown; queries: { format: number; queryType: string; editorType: string; rawSql: string }[]; range: unknown } {
  const resolved = url.split(CELL_VALUE).join(traceId);
  const panes = new URL(resolved, 'http://grafana.local').searchParams.get('panes');
  if (!panes) throw new Error(`no panes in ${url}`);
  const parsed = JSON.parse(panes) as Record<string, { datasource: unknown; queries: { format: number; queryType: string; editorType: string; rawSql: string }[]; range: unknown }>;
  const pane = Object.values(parsed)[0];
  if (!pane) throw new Error('empty panes');
  return pane;
}

export function alertQueries(c: Committed): { group: string; uid: string; window: number; sql: string; threshold: number; evaluator: string }[] {
  return c.alerts.groups.flatMap((g) =>
    g.rules.map((r) => {
      const a = r.data.find((d) => d.refId === 'A');
      const cond = r.data.find((d) => d.refId === r.condition);
      const conditions = (cond?.model.conditions ?? []) as { evaluator: { type: string; params: number[] } }[];
      return { group: g.name, uid: r.uid, window: a?.relativeTimeRange?.from ?? 0, sql: String(a?.model.rawSql), threshold: conditions[0]?.evaluator.params[0] ?? NaN, evaluator: conditions[0]?.evaluator.type ?? '' };
    }),
  );
}

/** Every variable at "All" (what the dashboards open with). */
export function allSelected(): Record<string, VariableValue> {
  return Object.fromEntries(ALL_VARIABLE_NAMES.map((n) => [n, { selected: 'all' as const, allValue: `'${ALL_SENTINEL}'` }]));
}

export function select(overrides: Record<string, string[]>): Record<string, VariableValue> {
  const vars = allSelected();
  for (const [k, v] of Object.entries(overrides)) vars[k] = { selected: v, allValue: `'${ALL_SENTINEL}'` };
  return vars;
}

export async function run<T = Record<string, unknown>>(store: ClickHouseStore, sql: string, ctx: ExpandContext): Promise<T[]> {
  return store.query<T>(expandGrafanaSql(sql, ctx));
}

/** Result columns (name, ClickHouse type) of already expanded SQL. */
export async function resultColumns(store: ClickHouseStore, expanded: string): Promise<{ name: string; type: string }[]> {
  return store.query<{ name: string; type: string }>(`DESCRIBE TABLE (${expanded})`);
}

/** Table columns the (expanded) query reads, from the analyzer's resolved query tree (a Map's `keys` / `values` subcolumn counts as the Map column). */
export async function columnsRead(store: ClickHouseStore, expanded: string): Promise<{ table: string; column: string }[]> {
  const rows = await store.query<{ explain: string }>(`EXPLAIN QUERY TREE passes = 1 ${expanded}`);
  const tableById = new Map<string, string>();
  const columns: { column: string; source: string }[] = [];
  for (const { explain } of rows) {
    const table = /TABLE id: (\d+),.*table_name: ([\w.]+)/.exec(explain);
    if (table) tableById.set(table[1] as string, table[2] as string);
    const col = /COLUMN id: \d+,(?: alias: [^,]+,)? column_name: ([^,]+), result_type: .*, source_id: (\d+)/.exec(explain);
    if (col) columns.push({ column: (col[1] as string).replace(/\.(keys|values)$/, ''), source: col[2] as string });
  }
  const out = new Map<string, { table: string; column: string }>();
  for (const c of columns) {
    const table = tableById.get(c.source);
    if (table) out.set(`${table}:${c.column}`, { table, column: c.column });
  }
  return [...out.values()];
}

export const isNumericType = (type: string): boolean => /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/.test(type);
export const isStringType = (type: string): boolean => /^(LowCardinality\()?(Nullable\()?String/.test(type);
export const isTimeType = (type: string): boolean => /^(Nullable\()?DateTime/.test(type);

export function num(v: unknown): number {
  if (v === null || v === undefined) return NaN;
  return Number(v);
}
