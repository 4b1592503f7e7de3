// deploy/kubernetes: every kustomization renders offline, every object validates against the
// Kubernetes schemas (strictly: see k8s-validate.ts), and the app pod carries the proxy as a
// hardened native sidecar. A deliberately broken copy proves the validation catches mistakes.
import { resourceAttributesFromEnv } from '../../shared/telemetry/otel-env.ts';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../shared/config/load.ts';
import { apiRuleProblems, podSpecOf, validateObjects, type K8sObject } from './k8s-validate.ts';
import { kustomize, mustRunKustomize } from './kustomize.ts';

const K8S = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const OVERLAYS = ['base', 'overlays/dev', 'overlays/production'] as const;
const DRAIN_MS = 25_000;

const run = mustRunKustomize ? describe : describe.skip;
const rendered = new Map<string, K8sObject[]>();
const render = (dir: string): K8sObject[] => {
  let objects = rendered.get(dir);
  if (!objects) rendered.set(dir, (objects = kustomize(join(K8S, dir))));
  return objects;
};
const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in the rendering`);
  return o;
};

interface Container {
  name: string;
  image: string;
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  [probe: string]: unknown;
}

run('kubernetes manifests (kubectl kustomize)', () => {
  it.each(OVERLAYS)('%s renders and every object validates against the Kubernetes schemas', (dir) => {
    const objects = render(dir);
    expect(objects.length).toBeGreaterThan(5);
    expect(validateObjects(objects)).toEqual([]);
  });

  it('the Altinity overlay renders its ClickHouseInstallation (a CRD: checked by hand, not by schema)', () => {
    const [chi, ...rest] = kustomize(join(K8S, 'clickhouse/altinity'));
    expect(rest).toEqual([]);
    expect(chi).toMatchObject({ apiVersion: 'clickhouse.altinity.com/v1', kind: 'ClickHouseInstallation', metadata: { name: 'llm-sidecar', namespace: 'llm-sidecar' } });
    const spec = chi?.spec as { configuration: { users: Record<string, unknown>; clusters: { name: string; layout: Record<string, number> }[] } };
    expect(spec.configuration.clusters[0]?.layout).toEqual({ shardsCount: 1, replicasCount: 1 });
    // The password comes from the same Secret and key as the sidecars use.
    expect(spec.configuration.users['llm_sidecar/k8s_secret_password']).toBe('llm-sidecar/llm-sidecar-secrets/clickhouse-password');
  });

  describe.each(OVERLAYS)('%s: the app pod', (dir) => {
    const pod = () => {
      const spec = podSpecOf(find(render(dir), 'Deployment', 'checkout-api'));
      if (!spec) throw new Error('no pod template');
      return spec as unknown as { initContainers: Container[]; containers: Container[]; volumes: { name: string; emptyDir?: unknown; configMap?: { name: string } }[]; securityContext: Record<string, unknown>; terminationGracePeriodSeconds: number };
    };
    const sidecar = () => {
      const c = pod().initContainers.find((x) => x.name === 'llm-sidecar');
      if (!c) throw new Error('no llm-sidecar init container');
      return c;
    };

    it('runs the proxy as a native sidecar: an init container with restartPolicy Always, command proxy', () => {
      expect(sidecar().restartPolicy).toBe('Always');
      expect(sidecar().image).toMatch(/llm-sidecar:/);
      expect(sidecar().args?.toString()).toBe(['proxy', '--config', '/etc/llm-sidecar/config.yaml'].toString());
      expect(pod().containers.map((c) => c.name)).not.toContain('llm-sidecar');
    });

    it('probes /healthz (liveness), /readyz (readiness, startup) on the admin port 4001', () => {
      const c = sidecar();
      const portOf = (p: number | string) => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
      const probe = (k: string) => (c[k] as { httpGet: { path: string; port: number | string } }).httpGet;
      expect(probe('livenessProbe').path).toBe('/healthz');
      expect(probe('readinessProbe').path).toBe('/readyz');
      expect(probe('startupProbe').path).toBe('/readyz');
      for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe']) expect(portOf(probe(k).port)).toBe(4001);
    });

    it('is hardened: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
      expect(pod().securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of [sidecar(), ...pod().containers]) {
        expect(c.securityContext, c.name).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
      }
    });

    it('writes only to emptyDirs (/tmp, the spool) and reads its config from the ConfigMap directory', () => {
      const mounts = new Map(sidecar().volumeMounts?.map((m) => [m.mountPath, m.name]));
      const volume = (path: string) => pod().volumes.find((v) => v.name === mounts.get(path));
      expect(volume('/tmp')?.emptyDir).toBeDefined();
      expect(volume('/app/.llm-sidecar/spool')?.emptyDir).toBeDefined();
      expect(volume('/etc/llm-sidecar')?.configMap?.name).toBe('llm-sidecar-config');
    });

    it('has the downward-API env, OTEL_SERVICE_NAME and secrets by reference only', () => {
      const env = new Map(sidecar().env?.map((e) => [e.name, e]));
      const field = (n: string) => env.get(n)?.valueFrom?.fieldRef?.fieldPath;
      expect(field('POD_NAME')).toBe('metadata.name');
      expect(field('POD_NAMESPACE')).toBe('metadata.namespace');
      expect(field('NODE_NAME')).toBe('spec.nodeName');
      expect(field('POD_UID')).toBe('metadata.uid');
      expect(env.has('OTEL_SERVICE_NAME')).toBe(true);
      // OTEL_RESOURCE_ATTRIBUTES as the Operator writes it: $(VAR) references, which Kubernetes expands
      // only for variables defined earlier in the list; expanded, it parses to the k8s.* attributes.
      const list = sidecar().env ?? [];
      const at = list.findIndex((e) => e.name === 'OTEL_RESOURCE_ATTRIBUTES');
      const value = list[at]?.value ?? '';
      const refs = [...value.matchAll(/\$\((\w+)\)/g)].map((m) => m[1] as string);
      expect(refs.length).toBeGreaterThan(0);
      for (const r of refs) expect(list.findIndex((e) => e.name === r), r).toBeLessThan(at);
      const expanded = value.replace(/\$\((\w+)\)/g, (_m, n: string) => `<${n}>`);
      expect(resourceAttributesFromEnv({ OTEL_RESOURCE_ATTRIBUTES: expanded })).toMatchObject({ 'k8s.pod.name': '<POD_NAME>', 'k8s.namespace.name': '<POD_NAMESPACE>', 'k8s.container.name': 'llm-sidecar' });
      for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'CLICKHOUSE_PASSWORD']) {
        expect(env.get(k)?.valueFrom?.secretKeyRef?.name, k).toBe('llm-sidecar-secrets');
        expect(env.get(k)?.value, k).toBeUndefined();
      }
    });

    it('sets requests and limits, and a grace period above the drain time', () => {
      for (const c of [sidecar(), ...pod().containers]) {
        expect(c.resources?.requests?.cpu, c.name).toBeDefined();
        expect(c.resources?.requests?.memory, c.name).toBeDefined();
        expect(c.resources?.limits?.memory, c.name).toBeDefined();
      }
      const drain = Number(sidecar().env?.find((e) => e.name === 'LLM_SIDECAR_DRAIN_MS')?.value ?? DRAIN_MS);
      expect(pod().terminationGracePeriodSeconds * 1000).toBeGreaterThan(drain);
    });
  });

  it('no Secret is rendered with real values: the base and production expect it to exist; dev generates throwaway ones', () => {
    expect(render('base').filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(render('overlays/production').filter((o) => o.kind === 'Secret')).toEqual([]);
    const dev = find(render('overlays/dev'), 'Secret', 'llm-sidecar-secrets');
    expect(Object.keys(dev.data as object).sort()).toEqual(['anthropic-api-key', 'clickhouse-password', 'openai-api-key']);
    // The example Secret documents the same keys, and stays out of every kustomization.
    const example = readFileSync(join(K8S, 'base/secret.example.yaml'), 'utf8');
    for (const k of ['openai-api-key', 'anthropic-api-key', 'clickhouse-password']) expect(example).toContain(`${k}:`);
    const kustomization = parse(readFileSync(join(K8S, 'base/kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });

  it.each(OVERLAYS)('%s: the sidecar ConfigMap is a valid llm-sidecar configuration', (dir) => {
    const cm = find(render(dir), 'ConfigMap', 'llm-sidecar-config') as K8sObject & { data: Record<string, string> };
    const env = { OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k', CLICKHOUSE_PASSWORD: 'p', CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_USER: 'llm_sidecar', REDIS_URL: 'redis://redis:6379' };
    const config = parseConfigText(cm.data['config.yaml'] as string, `${dir} llm-sidecar-config`, env);
    expect(config.listen).toMatchObject({ host: '127.0.0.1', port: 4000 });
    expect(config.admin.port).toBe(4001);
    expect(config.telemetry.clickhouse).toMatchObject({ mode: 'server', database: 'otel', migrate: false });
    // Budgets and rate limits shared by every replica through Redis.
    expect(config.budgets?.backend).toMatchObject({ type: 'redis', url: 'redis://redis:6379' });
  });

  it('production points at external ClickHouse and Redis and drops the in-cluster Redis', () => {
    const objects = render('overlays/production');
    const env = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('llm-sidecar-env')) as K8sObject & { data: Record<string, string> };
    expect(env.data.CLICKHOUSE_URL).toMatch(/^https:\/\//);
    expect(env.data.REDIS_URL).toMatch(/^rediss:\/\//);
    expect(objects.some((o) => o.metadata?.name === 'redis')).toBe(false);
    expect((find(objects, 'Deployment', 'checkout-api').spec as { replicas: number }).replicas).toBeGreaterThan(1);
  });
});

// The validation must fail on real mistakes: render broken copies of the manifests.
run('kubernetes validation catches mistakes', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const SIDECAR_POLICY = '          restartPolicy: Always\n';
  const broken = (edit: (app: string) => string): string[] => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-sidecar-k8s-'));
    dirs.push(dir);
    cpSync(K8S, dir, { recursive: true });
    const file = join(dir, 'base/example-app.yaml');
    const before = readFileSync(file, 'utf8');
    const after = edit(before);
    expect(after, 'the edit must change the file').not.toBe(before);
    writeFileSync(file, after);
    return validateObjects(kustomize(join(dir, 'base')));
  };

  it.each([
    ['a typo in the sidecar restartPolicy', (s: string) => s.replace(SIDECAR_POLICY, '          restartPolicy: Alwayz\n'), /initContainers\[0\] \(llm-sidecar\): restartPolicy: Unsupported value "Alwayz"/],
    ['an unknown field', (s: string) => s.replace(SIDECAR_POLICY, `${SIDECAR_POLICY}          restartPolicyy: Always\n`), /Deployment\/checkout-api: spec\.template\.spec\.initContainers\[0\]\.restartPolicyy: Object literal may only specify known properties/],
    ['a misspelt securityContext field', (s: string) => s.replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true'), /securityContext\.readOnlyRootFileSystem: Object literal may only specify known properties/],
    ['a port number as a string', (s: string) => s.replace('containerPort: 4001', 'containerPort: "4001"'), /containerPort must be integer/],
    ['an invalid enum value', (s: string) => s.replace('image: llm-sidecar\n', 'image: llm-sidecar\n          imagePullPolicy: Sometimes\n'), /imagePullPolicy must be equal to one of the allowed values/],
    ['probes on an init container that is no longer a sidecar', (s: string) => s.replace(SIDECAR_POLICY, ''), /probes are only allowed on sidecar init containers/],
    ['a probe on an undeclared named port', (s: string) => s.replace('httpGet: { path: /healthz, port: admin }', 'httpGet: { path: /healthz, port: admin-port }'), /port "admin-port" is not a named port/],
  ])('%s fails', (_what, edit, expected) => {
    const problems = broken(edit);
    expect(problems.join('\n')).toMatch(expected);
  });
});

it('the API-rule layer rejects restartPolicy on a regular container (no kubectl needed)', () => {
  const pod: K8sObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', restartPolicy: 'Always' }] } };
  expect(apiRuleProblems(pod)).toEqual(['Pod/p: containers[0] (c): restartPolicy may only be set on init containers']);
});
