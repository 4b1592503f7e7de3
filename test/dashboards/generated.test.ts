// The committed files are exactly what the generator produces now (a schema rename, or an edit of
// a dashboard in TypeScript without regenerating, fails here), and their structure is what Grafana
// provisioning and the ClickHouse plugin expect. The SQL itself is executed in queries.test.ts.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { ALL_SENTINEL, CLICKHOUSE_PLUGIN_VERSION, DATASOURCE, GRAFANA_VERSION, SCHEMA_VERSION, allPanels } from '../../dashboards/builder.ts';
import { PLACEHOLDER_MONTHLY_BUDGET_USD, budgetsFromConfig } from '../../dashboards/budgets.ts';
import { GENERATED_DIR, main as generate } from '../../dashboards/generate.ts';
import { GENERATED_FILES, buildAll } from '../../dashboards/index.ts';
import { EVENT, SKIP_REASON_CIRCUIT_OPEN } from '../../dashboards/sql.ts';
import { BudgetsSchema } from '../../shared/config/budgets.ts';
import { OTEL_TRACES, TABLE_OTEL_TRACES } from '../../shared/clickhouse/schema.ts';
import type * as Schema from '../../shared/clickhouse/schema.ts';
import { alertQueries, panelQueries, readCommitted, traceLinkQuery, traceLinks, variableQueries } from './harness.ts';
import { typeCheckDashboards } from './schema-typecheck.ts';

describe('generated files', () => {
  it('the committed files are byte-identical to a fresh generation (regenerate: node --import tsx dashboards/generate.ts)', () => {
    const { files } = buildAll();
    for (const name of GENERATED_FILES) {
      const committed = readFileSync(join(GENERATED_DIR, name), 'utf8');
      expect(committed, `dashboards/generated/${name} is stale`).toBe(files[name]);
    }
  });

  it('generate.ts --check passes on the committed files and fails on a stale copy', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const dir = await mkdtemp(join(tmpdir(), 'dash-gen-'));
    try {
      expect(await generate(['--check'])).toBe(0);
      expect(await generate(['--out', dir])).toBe(0);
      for (const name of GENERATED_FILES) expect(await readFile(join(dir, name), 'utf8')).toBe(readFileSync(join(GENERATED_DIR, name), 'utf8'));
      await writeFile(join(dir, 'cost.json'), '{}\n');
      expect(await generate(['--check', '--out', dir])).toBe(1);
      expect(error.mock.calls.flat().join(' ')).toMatch(/stale generated files.*cost\.json/);
    } finally {
      log.mockRestore();
      error.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a renamed column constant changes the generated SQL (so the committed files would be stale)', async () => {
    vi.resetModules();
    vi.doMock('../../shared/clickhouse/schema.ts', async (importOriginal) => {
      const real = await importOriginal<typeof Schema>();
      return { ...real, LLM_CALLS: { ...real.LLM_CALLS, CostUsd: 'CostUsdRenamed' } };
    });
    try {
      const fresh = await import('../../dashboards/index.ts');
      const { files } = fresh.buildAll();
      expect(files['cost.json']).toContain('CostUsdRenamed');
      expect(files['cost.json']).not.toBe(readFileSync(join(GENERATED_DIR, 'cost.json'), 'utf8'));
    } finally {
      vi.doUnmock('../../shared/clickhouse/schema.ts');
      vi.resetModules();
    }
  });
});

describe('dashboards', () => {
  const c = readCommitted();

  it.each(Object.entries(c.dashboards))('%s: schema, uid, unique panel ids, panels inside the 24-column grid', (_name, d) => {
    expect(d.schemaVersion).toBe(SCHEMA_VERSION);
    expect(d.uid).toMatch(/^llm-sidecar-(sre|cost|quality)$/);
    expect(d.tags).toContain('llm-sidecar');
    const panels = allPanels(d);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const g = p.gridPos;
      expect(g, p.title).toBeDefined();
      expect((g?.x ?? 0) + (g?.w ?? 0), p.title).toBeLessThanOrEqual(24);
      if (p.type !== 'row' && p.type !== 'text') expect(p.description, `${p.title} has a description`).toBeTruthy();
    }
    // No two panels overlap.
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos as { x: number; y: number; w: number; h: number };
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('every target is raw SQL on the ClickHouse datasource (uid clickhouse) with a valid format', () => {
    const queries = panelQueries(c);
    expect(queries.length).toBeGreaterThan(40);
    for (const d of Object.values(c.dashboards)) {
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? []) {
          expect(t.datasource).toEqual(DATASOURCE);
          expect(p.datasource).toEqual(DATASOURCE);
          expect(t.editorType).toBe('sql');
          // Without it (or below 4.0.0, or with queryType sql/builder) the plugin migrates the target on load.
          expect(t.pluginVersion).toBe(CLICKHOUSE_PLUGIN_VERSION);
          expect([0, 1, 2, 3]).toContain(t.format);
          expect(t.queryType).toBe({ 0: 'timeseries', 1: 'table', 2: 'logs', 3: 'traces' }[t.format]);
          expect(t.rawSql).toMatch(/^(SELECT|WITH)\b/);
          expect(t.rawSql).not.toMatch(/\$__conditionalAll|\$__adHoc/);
        }
      }
    }
  });

  it('variables: service, route, provider, model, tenant on every dashboard (+ evaluator on Quality), multi-value with a custom All', () => {
    for (const [name, d] of Object.entries(c.dashboards)) {
      const names = d.templating.list.map((v) => v.name);
      expect(names).toEqual(name === 'quality' ? ['service', 'route', 'provider', 'model', 'tenant', 'evaluator'] : ['service', 'route', 'provider', 'model', 'tenant']);
      for (const v of d.templating.list) {
        expect(v).toMatchObject({ type: 'query', multi: true, includeAll: true, allValue: `'${ALL_SENTINEL}'`, refresh: 2, datasource: DATASOURCE });
        expect(v.query).toBe(v.definition);
        expect(v.query).toMatch(/\$__timeFilter\(/);
      }
    }
    // Panel SQL uses every variable in the browser-safe form only: `${name:singlequote}`.
    for (const q of panelQueries(c)) {
      for (const m of q.sql.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)(:[a-z]+)?\}?/g)) {
        if ((m[1] as string).startsWith('__')) continue;
        expect(m[2], `${q.title}: ${m[0]}`).toBe(':singlequote');
      }
    }
    expect(variableQueries(c)).toHaveLength(16);
  });

  it('TraceId columns link to Explore with a trace query (format 3) on the ClickHouse datasource', () => {
    const links = traceLinks(c);
    expect(links.map((l) => `${l.dashboard}/${l.title}`)).toEqual(['sre/Top errors', 'quality/Lowest-scored recent calls', "quality/User feedback beside the judges' scores"]);
    for (const link of links) {
      expect(link.url).toMatch(/^\/explore\?schemaVersion=1&orgId=1&panes=/);
      expect(link.url).toContain('${__value.raw}');
      const pane = traceLinkQuery(link.url, '0123456789abcdef0123456789abcdef');
      expect(pane.datasource).toBe(DATASOURCE.uid);
      expect(pane.queries[0]).toMatchObject({ format: 3, queryType: 'traces', editorType: 'sql', pluginVersion: CLICKHOUSE_PLUGIN_VERSION });
      expect(pane.queries[0]?.rawSql).toContain("'0123456789abcdef0123456789abcdef' AS trace_id");
    }
  });
});

describe('@grafana/schema and the plugin conventions', () => {
  type Json = { panels: { type: string; fieldConfig?: unknown; gridPos?: { h: unknown }; pluginVersion?: string; targets?: Record<string, unknown>[] }[] };
  const committed = Object.fromEntries(['sre', 'cost', 'quality'].map((n) => [n, readFileSync(join(GENERATED_DIR, `${n}.json`), 'utf8')]));
  /** A copy of sre.json with one fault: `break` changes the first panel that has a target. */
  const broken = (fault: (p: Json['panels'][number], t: Record<string, unknown>) => void) => {
    const d = JSON.parse(committed.sre as string) as Json;
    const p = d.panels.find((x) => (x.targets?.length ?? 0) > 0) as Json['panels'][number];
    fault(p, (p.targets as Record<string, unknown>[])[0] as Record<string, unknown>);
    return JSON.stringify(d, null, 2);
  };
  const faults: Record<string, string> = {
    'gridPos height as a string': broken((p) => void ((p.gridPos as { h: unknown }).h = '8')),
    'panel without a type': broken((p) => void Reflect.deleteProperty(p, 'type')),
    'misspelled fieldConfig': broken((p) => {
      Object.assign(p, { fieldconfig: p.fieldConfig });
      Reflect.deleteProperty(p, 'fieldConfig');
    }),
    'panel without pluginVersion': broken((p) => void Reflect.deleteProperty(p, 'pluginVersion')),
    'target without pluginVersion': broken((_p, t) => void Reflect.deleteProperty(t, 'pluginVersion')),
    'target of plugin v3': broken((_p, t) => void (t.pluginVersion = '3.4.0')),
    'v3 query type sql': broken((_p, t) => void (t.queryType = 'sql')),
    'target on another datasource': broken((_p, t) => void (t.datasource = { type: 'prometheus', uid: 'clickhouse' })),
  };

  it('the committed dashboards type-check against @grafana/schema (ClickHouse targets with pluginVersion), and each malformed copy fails', { timeout: 120_000 }, () => {
    const diagnostics = typeCheckDashboards({ ...committed, ...faults });
    const by = (name: string) => diagnostics.filter((d) => d.name === name).map((d) => d.message);
    for (const name of Object.keys(committed)) expect(by(name), `${name}.json`).toEqual([]);
    for (const name of Object.keys(faults)) expect(by(name).length, name).toBeGreaterThan(0);
    expect(by('(prelude)')).toEqual([]);
  });

  it('panels carry the Grafana version their options are written for: the image docker-compose.yml pins', () => {
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    expect(compose).toContain(`image: grafana/grafana:${GRAFANA_VERSION}`);
    for (const d of Object.values(readCommitted().dashboards))
      for (const p of allPanels(d)) expect(p.pluginVersion, p.title).toBe(p.type === 'row' ? undefined : GRAFANA_VERSION);
  });
});

describe('alert rules (alerts.yaml)', () => {
  const c = readCommitted();
  const raw = parse(readFileSync(join(GENERATED_DIR, 'alerts.yaml'), 'utf8')) as typeof c.alerts;

  it('parse as Grafana alert provisioning with consistent refs', () => {
    expect(raw.apiVersion).toBe(1);
    const uids = raw.groups.flatMap((g) => g.rules.map((r) => r.uid));
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids).toEqual([
      'llm-sidecar-error-rate',
      'llm-sidecar-latency-p95',
      'llm-sidecar-ttft-p95',
      'llm-sidecar-fallback-rate',
      'llm-sidecar-breaker-open',
      'llm-sidecar-telemetry-stalled',
      'llm-sidecar-spend-daily-burn',
      'llm-sidecar-budget-80',
      'llm-sidecar-budget-100',
      'llm-sidecar-quality-drop',
      'llm-sidecar-evaluator-stalled',
      'llm-sidecar-judge-spend-cap',
      'llm-sidecar-cache-equivalence',
    ]);
    for (const g of raw.groups) {
      expect(g).toMatchObject({ orgId: 1, folder: 'LLM sidecar' });
      expect(g.interval).toMatch(/^\d+[ms]$/);
      for (const r of g.rules) {
        const refIds = r.data.map((d) => d.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
        expect(refIds).toContain(r.condition);
        expect(r.for).toMatch(/^\d+[smh]$/);
        expect(r.uid.length).toBeLessThanOrEqual(40);
        for (const d of r.data) {
          expect(d.model.refId).toBe(d.refId);
          if (d.datasourceUid === '__expr__') {
            expect(refIds).toContain(d.model.expression);
            expect(d.model.expression).not.toBe(d.refId);
          } else {
            expect(d.datasourceUid).toBe(DATASOURCE.uid);
            expect(d.relativeTimeRange?.from).toBeGreaterThan(0);
            expect(d.model).toMatchObject({ datasource: DATASOURCE, editorType: 'sql', format: 1, pluginVersion: CLICKHOUSE_PLUGIN_VERSION });
          }
        }
        // Labels are env-interpolated by the provisioning loader: no `$` there.
        for (const v of Object.values(r.labels)) expect(v).not.toContain('$');
        expect(r.annotations.summary).toBeTruthy();
        // The dashboard panel an alert points at exists.
        const dash = Object.values(c.dashboards).find((d) => d.uid === r.annotations.__dashboardUid__);
        expect(dash, r.uid).toBeDefined();
        expect(allPanels(dash!).some((p) => String(p.id) === r.annotations.__panelId__), r.uid).toBe(true);
      }
    }
  });

  it('use only backend macros: no template variables, no $__conditionalAll', () => {
    for (const a of alertQueries(c)) {
      expect(a.sql).not.toMatch(/\$\{|\[\[|\$__conditionalAll|\$__adHoc/);
      for (const m of a.sql.matchAll(/\$(__)?([A-Za-z_]+)/g)) expect(m[1], `${a.uid}: ${m[0]}`).toBe('__');
      expect(Number.isFinite(a.threshold)).toBe(true);
      expect(['gt', 'lt']).toContain(a.evaluator);
    }
  });
});

describe('datasource provisioning', () => {
  it('points the OpenTelemetry trace settings at otel_traces with the collector column names', () => {
    const { datasource } = readCommitted();
    const ds = (datasource.datasources as Record<string, unknown>[])[0] as { uid: string; type: string; jsonData: { traces: Record<string, unknown> } };
    expect(ds.uid).toBe(DATASOURCE.uid);
    expect(ds.type).toBe(DATASOURCE.type);
    expect(ds.jsonData.traces).toMatchObject({
      defaultDatabase: 'otel',
      defaultTable: TABLE_OTEL_TRACES,
      otelEnabled: true,
      traceIdColumn: OTEL_TRACES.TraceId,
      spanIdColumn: OTEL_TRACES.SpanId,
      durationColumn: OTEL_TRACES.Duration,
      durationUnit: 'nanoseconds',
      traceTimestampTableSuffix: '_trace_id_ts',
    });
  });
});

describe('inputs the dashboards depend on', () => {
  it('the proxy still writes the span events and the skip reason the panels and rules read', () => {
    const source = readFileSync(new URL('../../proxy/llm-call.ts', import.meta.url), 'utf8');
    for (const constant of ['EVENT_LLM_SIDECAR_RETRY', 'EVENT_LLM_SIDECAR_FALLBACK', 'EVENT_LLM_SIDECAR_TARGET_SKIPPED', 'EVENT_LLM_SIDECAR_CASCADE_ESCALATED']) expect(source, constant).toContain(`this.event(${constant}`);
    expect(Object.values(EVENT)).toEqual(['llm_sidecar.retry', 'llm_sidecar.fallback', 'llm_sidecar.target.skipped', 'llm_sidecar.cascade.escalated']);
    expect(source).toContain(`reason: '${SKIP_REASON_CIRCUIT_OPEN}'`);
  });

  it('budgets come from the configuration (tier, tenant override, default tier), with a placeholder otherwise', () => {
    const config = BudgetsSchema.parse({
      tiers: { small: { tenantMonthlyUsd: '50' }, big: { tenantMonthlyUsd: 500 } },
      defaultTier: 'small',
      tenants: { acme: { tier: 'big' }, globex: { tenantMonthlyUsd: '75.5' }, initech: { tier: 'big', tenantMonthlyUsd: null } },
    });
    expect(budgetsFromConfig(config)).toEqual({ tenants: { acme: 500, globex: 75.5 }, defaultUsd: 50 });
    expect(budgetsFromConfig(config, 10)).toEqual({ tenants: { acme: 500, globex: 75.5, initech: 10 }, defaultUsd: 50 });
    expect(budgetsFromConfig(undefined)).toEqual({ tenants: {} });
    expect(buildAll().files['cost.json']).toContain(`CAST(${PLACEHOLDER_MONTHLY_BUDGET_USD}, 'Nullable(Float64)')`);
  });
});
