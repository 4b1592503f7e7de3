// A deliberately small Grafana dashboard builder: plain interfaces for the parts of the dashboard
// JSON model we emit (schemaVersion 39, Grafana 10.4+; newer Grafana migrates it on load), and
// helpers that fill in the repetitive bits. Every target is raw SQL on the ClickHouse datasource.
// Kept over @grafana/grafana-foundation-sdk after a trial (dashboards/README.md, "Builder"); the
// output is type-checked against @grafana/schema in test/dashboards/generated.test.ts.

/** The ClickHouse datasource every panel, variable and alert rule uses (ARCHITECTURE.md §3). */
export const DATASOURCE = Object.freeze({ type: 'grafana-clickhouse-datasource', uid: 'clickhouse' } as const);
export const SCHEMA_VERSION = 39;

/**
 * `pluginVersion` of every ClickHouse query. The plugin (v4+) migrates a query on load when its
 * `pluginVersion` is missing or below 4.0.0 (its `migrateCHQuery`): it rewrites the target, and the
 * first save writes every rewritten target back. Its editor stamps the plugin's own version (its
 * package.json), so this is the version the queries were written against (4.20.0, ARCHITECTURE.md).
 */
export const CLICKHOUSE_PLUGIN_VERSION = '4.20.0';
/**
 * `pluginVersion` of every panel: the Grafana version its options are written for (the image
 * pinned in docker-compose.yml; a test holds them equal). Grafana runs a panel plugin's migration
 * handler, and stamps its own version, whenever they differ; some handlers treat a missing version
 * as a very old panel (the text panel reads it as 6.1).
 */
export const GRAFANA_VERSION = '12.2.0';

/** The plugin's `format`: how the backend shapes the result frame. */
export const Format = { TimeSeries: 0, Table: 1, Logs: 2, Traces: 3 } as const;
export type FormatValue = (typeof Format)[keyof typeof Format];
const QUERY_TYPE: Record<FormatValue, string> = { 0: 'timeseries', 1: 'table', 2: 'logs', 3: 'traces' };

export interface Target {
  refId: string;
  datasource: typeof DATASOURCE;
  editorType: 'sql';
  queryType: string;
  format: FormatValue;
  rawSql: string;
  pluginVersion: typeof CLICKHOUSE_PLUGIN_VERSION;
}

export interface DataLink {
  title: string;
  url: string;
  targetBlank?: boolean;
}

export interface FieldOverride {
  matcher: { id: 'byName' | 'byRegexp'; options: string };
  properties: { id: string; value: unknown }[];
}

export interface Panel {
  id?: number;
  type: 'timeseries' | 'stat' | 'table' | 'bargauge' | 'barchart' | 'text' | 'row';
  title: string;
  description?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  pluginVersion?: typeof GRAFANA_VERSION;
  datasource?: typeof DATASOURCE;
  targets?: Target[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: FieldOverride[] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: Panel[];
}

export interface Variable {
  type: 'query';
  name: string;
  label: string;
  datasource: typeof DATASOURCE;
  query: string;
  definition: string;
  refresh: 2;
  multi: true;
  includeAll: true;
  allValue: string;
  current: { selected: boolean; text: string[]; value: string[] };
  options: [];
  sort: 1;
  hide: 0;
  regex: '';
  skipUrlSync: false;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: 'utc';
  schemaVersion: number;
  version: 1;
  editable: true;
  graphTooltip: 1;
  time: { from: string; to: string };
  refresh: string;
  templating: { list: Variable[] };
  annotations: { list: [] };
  links: { type: 'dashboards'; title: string; tags: string[]; asDropdown: false; icon: 'external link'; tooltip: ''; targetBlank: false; includeVars: true; keepTime: true }[];
  panels: Panel[];
}

/**
 * The value a multi-value variable takes when "All" is selected. Grafana inserts a custom all
 * value as written, without formatting, so `${v:singlequote}` becomes `'__all__'` and the filter
 * of `variableFilter()` short-circuits instead of listing every option.
 */
export const ALL_SENTINEL = '__all__';

export function target(rawSql: string, format: FormatValue, refId = 'A'): Target {
  return { refId, datasource: DATASOURCE, editorType: 'sql', queryType: QUERY_TYPE[format], format, rawSql, pluginVersion: CLICKHOUSE_PLUGIN_VERSION };
}

/** A query variable fed by `sql` (one column of distinct values), multi-value with "All". */
export function variable(name: string, label: string, sql: string): Variable {
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    query: sql,
    definition: sql,
    refresh: 2, // on time range change
    multi: true,
    includeAll: true,
    allValue: `'${ALL_SENTINEL}'`,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    sort: 1,
    hide: 0,
    regex: '',
    skipUrlSync: false,
  };
}

export interface PanelSpec {
  type: Exclude<Panel['type'], 'row'>;
  title: string;
  description: string;
  /** Grid width (of 24) and height; placed left to right, wrapping. */
  w: number;
  h: number;
  targets?: Target[];
  unit?: string;
  defaults?: Record<string, unknown>;
  overrides?: FieldOverride[];
  options?: Record<string, unknown>;
}

const PANEL_OPTIONS: Record<PanelSpec['type'], Record<string, unknown>> = {
  timeseries: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
  stat: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none', justifyMode: 'auto', textMode: 'auto', orientation: 'auto' },
  table: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
  bargauge: { displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true, reduceOptions: { calcs: ['lastNotNull'], fields: '', values: true } },
  barchart: { orientation: 'vertical', showValue: 'auto', stacking: 'none', legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'single', sort: 'none' } },
  text: {},
};

export function panel(spec: PanelSpec): Panel {
  const defaults: Record<string, unknown> = { ...(spec.unit !== undefined ? { unit: spec.unit } : {}), ...spec.defaults };
  if (spec.type === 'timeseries') defaults.custom = { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: true, ...(defaults.custom as object | undefined) };
  const p: Panel = { type: spec.type, title: spec.title, description: spec.description, gridPos: { h: spec.h, w: spec.w, x: 0, y: 0 }, pluginVersion: GRAFANA_VERSION };
  if (spec.targets) {
    p.datasource = DATASOURCE;
    p.targets = spec.targets;
  }
  if (spec.type !== 'text') p.fieldConfig = { defaults, overrides: spec.overrides ?? [] };
  p.options = { ...PANEL_OPTIONS[spec.type], ...spec.options };
  return p;
}

export function text(title: string, markdown: string, w: number, h: number): Panel {
  return panel({ type: 'text', title, description: '', w, h, options: { mode: 'markdown', content: markdown } });
}

export interface Row {
  title: string;
  panels: Panel[];
}

/** Lays rows out top to bottom (a row header, then its panels left to right) and numbers every panel. */
export function layout(rows: Row[]): Panel[] {
  const out: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    out.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const pos = p.gridPos ?? { h: 8, w: 12, x: 0, y: 0 };
      if (x + pos.w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      out.push({ ...p, id: id++, gridPos: { h: pos.h, w: pos.w, x, y } });
      x += pos.w;
      rowHeight = Math.max(rowHeight, pos.h);
    }
    y += rowHeight;
  }
  return out;
}

export function dashboard(d: { uid: string; title: string; description: string; tags: string[]; time: string; variables: Variable[]; rows: Row[] }): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['llm-sidecar', ...d.tags],
    timezone: 'utc',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    editable: true,
    graphTooltip: 1,
    time: { from: d.time, to: 'now' },
    refresh: '1m',
    templating: { list: d.variables },
    annotations: { list: [] },
    // icon, tooltip and targetBlank: required by @grafana/schema's DashboardLink (and what Grafana saves).
    links: [{ type: 'dashboards', title: 'LLM sidecar', tags: ['llm-sidecar'], asDropdown: false, icon: 'external link', tooltip: '', targetBlank: false, includeVars: true, keepTime: true }],
    panels: layout(d.rows),
  };
}

/** Every panel of a dashboard, rows' nested panels included. */
export function allPanels(d: { panels: Panel[] }): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
