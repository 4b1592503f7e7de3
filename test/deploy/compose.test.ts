// docker-compose.yml, the Dockerfile and the files they mount: checked statically (no Docker engine
// here). The collector and Grafana provisioning are checked against the ClickHouse contract, and the
// sidecar configuration against the real config schema.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_DATABASE, TABLE_OTEL_TRACES } from '../../shared/clickhouse/schema.ts';
import { parseConfigText } from '../../shared/config/load.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const yaml = (path: string): unknown => parse(read(path), { merge: true });

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  restart?: string;
  environment?: Record<string, string>;
}
const compose = yaml('docker-compose.yml') as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

describe('docker-compose.yml', () => {
  it('has the whole stack, and the demo profile adds the fake provider and the traffic generator', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['clickhouse', 'evaluator', 'fake-provider', 'grafana', 'migrate', 'otel-collector', 'proxy', 'redis', 'traffic']);
    const demo = services.filter(([, s]) => s.profiles?.includes('demo')).map(([n]) => n);
    expect(demo.sort()).toEqual(['fake-provider', 'traffic']);
  });

  it('publishes every host port once, on 127.0.0.1 only', () => {
    const published = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, p } of published) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    const hostPorts = published.map(({ p }) => p.split(':')[1]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('mounts only files and folders that exist in the repository, and declared named volumes', () => {
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0] as string;
        if (source.startsWith('.')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
        else expect(compose.volumes, `${name}: named volume ${source}`).toHaveProperty(source);
      }
    }
  });

  it('depends only on existing services, with conditions those services can meet', () => {
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = service(dep);
        expect(['service_started', 'service_healthy', 'service_completed_successfully'], `${name} → ${dep}`).toContain(condition);
        if (condition === 'service_healthy') expect(target.healthcheck, `${name} waits for ${dep} to be healthy`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(target.restart, `${dep} is a one-shot`).toBe('no');
        // A service outside the demo profile cannot wait for one inside it.
        if (target.profiles?.includes('demo')) expect(s.profiles, `${name} → ${dep}`).toContain('demo');
      }
    }
  });

  it('builds from existing Dockerfile targets and pins every image tag', () => {
    const targets = [...read('Dockerfile').matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const [name, s] of services) {
      if (s.build) {
        expect(existsSync(join(ROOT, s.build.context, 'Dockerfile')), name).toBe(true);
        expect(targets, name).toContain(s.build.target);
      }
      expect(s.image, name).toMatch(/:[\w.-]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('runs the documented commands', () => {
    expect(service('migrate').command).toEqual(['migrate', '--config', '/etc/llm-sidecar/config.yaml']);
    expect(service('proxy').command).toEqual(['proxy', '--config', '/etc/llm-sidecar/config.yaml']);
    expect(service('evaluator').command).toEqual(['evaluator', '--config', '/etc/llm-sidecar/config.yaml']);
    expect(service('fake-provider').entrypoint).toEqual(['node', '--import', 'tsx', 'simulator/main.ts']);
    expect(service('fake-provider').command).toEqual(['--port', '9000', '--host', '0.0.0.0']);
    expect(existsSync(join(ROOT, 'simulator/main.ts'))).toBe(true);
    expect(existsSync(join(ROOT, service('traffic').entrypoint?.[3] as string))).toBe(true);
    // The proxy's stop grace outlasts its drain.
    expect(Number(service('proxy').environment?.LLM_SIDECAR_DRAIN_MS)).toBeLessThan(30_000);
    expect((service('proxy') as { stop_grace_period?: string }).stop_grace_period).toBe('30s');
  });

  it('gives the proxy, evaluator and migrate job a valid llm-sidecar configuration', () => {
    const env = { ...service('proxy').environment, CLICKHOUSE_PASSWORD: 'secret' };
    const config = parseConfigText(read('deploy/config/sidecar.compose.yaml'), 'sidecar.compose.yaml', env);
    expect(config.listen).toMatchObject({ host: '0.0.0.0', port: 4000 });
    expect(config.admin.port).toBe(4001);
    expect(config.telemetry.clickhouse).toMatchObject({ mode: 'server', url: 'http://clickhouse:8123', database: DEFAULT_DATABASE, migrate: false });
    expect(config.providers['fake-openai']?.baseUrl).toBe('http://fake-provider:9000/v1');
    expect(config.routes['demo-openai']?.targets[0]?.provider).toBe('fake-openai');
    expect(config.budgets?.backend).toMatchObject({ type: 'redis', url: 'redis://redis:6379' });
    // Direct export to ClickHouse only: OTLP to the collector as well would store every span twice.
    expect(config.telemetry.otlp).toBeUndefined();
    for (const name of ['proxy', 'evaluator', 'migrate']) expect(service(name).volumes, name).toContain('./deploy/config/sidecar.compose.yaml:/etc/llm-sidecar/config.yaml:ro');
  });
});

describe('collector and Grafana provisioning', () => {
  type Collector = { exporters: { clickhouse: Record<string, unknown> }; service: { pipelines: { traces: { exporters: string[] } } } };
  const collectors = ['deploy/otel-collector/config.yaml', 'deploy/kubernetes/base/otel-collector/config.yaml'].map((p) => [p, yaml(p) as Collector] as const);

  it.each(collectors)('%s writes traces to the otel database, table otel_traces, without creating the schema', (_path, c) => {
    expect(c.exporters.clickhouse).toMatchObject({ database: DEFAULT_DATABASE, traces_table_name: TABLE_OTEL_TRACES, create_schema: false });
    expect(c.service.pipelines.traces.exporters).toEqual(['clickhouse']);
  });

  it('the compose and Kubernetes collector configurations differ only in the endpoint', () => {
    const [[, a], [, b]] = collectors as [(typeof collectors)[0], (typeof collectors)[0]];
    const strip = (c: Collector) => ({ ...c, exporters: { ...c.exporters, clickhouse: { ...c.exporters.clickhouse, endpoint: undefined } } });
    expect(strip(a)).toEqual(strip(b));
  });

  type Datasources = { datasources: { uid: string; type: string; jsonData: { defaultDatabase: string; traces: Record<string, unknown> } }[] };
  const datasources = ['deploy/grafana/provisioning/datasources/clickhouse.yaml', 'deploy/kubernetes/base/grafana/datasource.yaml'].map((p) => [p, yaml(p) as Datasources] as const);

  it.each(datasources)('%s provides the ClickHouse datasource with uid "clickhouse" and the OTel trace settings', (_path, d) => {
    expect(d.datasources).toHaveLength(1);
    const ds = d.datasources[0];
    expect(ds).toMatchObject({ uid: 'clickhouse', type: 'grafana-clickhouse-datasource' });
    expect(ds?.jsonData.defaultDatabase).toBe(DEFAULT_DATABASE);
    expect(ds?.jsonData.traces).toMatchObject({ defaultDatabase: DEFAULT_DATABASE, defaultTable: TABLE_OTEL_TRACES, otelEnabled: true });
    expect(datasources[0]?.[1]).toEqual(d);
  });

  it('the dashboards provider reads dashboards/generated through the compose mount', () => {
    const provider = yaml('deploy/grafana/provisioning/dashboards/llm-sidecar.yaml') as { providers: { options: { path: string } }[] };
    const mount = service('grafana').volumes?.find((v) => v.startsWith('./dashboards:'))?.split(':')[1];
    expect(mount).toBeDefined();
    expect(provider.providers[0]?.options.path).toBe(`${mount}/generated`);
    expect(service('grafana').environment?.GF_INSTALL_PLUGINS).toBe('grafana-clickhouse-datasource');
    expect((yaml('deploy/grafana/provisioning/alerting/llm-sidecar.yaml') as { apiVersion: number }).apiVersion).toBe(1);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('is multi-stage on node:26-slim (the Active LTS): npm ci in a build stage, production dependencies in the runtime image', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:26-slim$/m);
    expect(dockerfile).toMatch(/RUN npm ci --no-audit --no-fund/);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev/);
    expect(runtime).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime$/m);
    expect(runtime).toMatch(/COPY --from=prod-deps \/app\/node_modules/);
  });

  it('runs as a numeric non-root user, proxy by default', () => {
    expect(runtime).toMatch(/^USER 1000:1000$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "bin\/llm-sidecar"\]$/m);
    expect(runtime).toMatch(/^CMD \["proxy"\]$/m);
  });

  it('copies only paths that exist, and .dockerignore keeps local state out of the context', () => {
    for (const [, src] of runtime.matchAll(/^COPY (?!--from)(\S+)/gm)) expect(existsSync(join(ROOT, src as string)), src).toBe(true);
    const ignored = read('.dockerignore').split('\n');
    for (const p of ['node_modules', '.git', '.llm-sidecar', '.env']) expect(ignored).toContain(p);
  });
});
