// Offline validation of rendered Kubernetes objects, in three layers, all from the `kubernetes-models`
// package (generated from the Kubernetes OpenAPI spec, ≈ v1.33):
//   1. schema: its JSON schemas, compiled with ajv — types, required fields, enums, int32/int64
//      formats (`containerPort: "4001"` or `imagePullPolicy: Alwayz` fail);
//   2. strict fields: its TypeScript declarations, checked by the TypeScript compiler — an unknown
//      or misspelt field anywhere in an object fails (the OpenAPI schemas allow extra fields, which
//      the API server drops or rejects depending on the client; kubectl's strict mode rejects them).
//      Like any compiler run, an error deep in an object can hide a second one until it is fixed;
//   3. API-server rules the OpenAPI schema does not carry and that bite sidecar manifests:
//      a container's restartPolicy is "Always" and only on init containers, probes only on
//      sidecar init containers, port names (IANA_SVC_NAME), named probe ports and volume mounts
//      that resolve, Deployment selectors matching the pod labels.
// Custom resources (CRDs) have no schema here; callers check them separately.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `kubernetes-models/apps/v1/Deployment`, `kubernetes-models/v1/Service` (core group). */
function modelModule(o: K8sObject): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/${version}/${o.kind}`;
}

export function label(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name ?? '?'}`;
}

/** Whether kubernetes-models knows this apiVersion/kind (false for custom resources). */
export function hasSchema(o: K8sObject): boolean {
  try {
    require.resolve(modelModule(o));
    return true;
  } catch {
    return false;
  }
}

/** Layer 1: the compiled JSON schema of the object's kind. */
export function schemaProblems(o: K8sObject): string[] {
  const mod = require(modelModule(o)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) return [`${label(o)}: kubernetes-models has no class ${o.kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return (err as Error).message.split(', ').map((m) => `${label(o)}: ${m.replace(/^data\//, '/')}`);
  }
}

/** The property path of the innermost node at `pos`, e.g. `spec.template.spec.containers[0].bogus`. */
function pathAt(sf: ts.SourceFile, pos: number): string {
  let node: ts.Node = sf;
  for (;;) {
    const child: ts.Node | undefined = node.getChildren(sf).find((c) => c.getStart(sf) <= pos && pos < c.getEnd());
    if (!child) break;
    node = child;
  }
  const parts: string[] = [];
  for (let n: ts.Node | undefined = node; n && !ts.isSatisfiesExpression(n); n = n.parent) {
    if (ts.isPropertyAssignment(n)) parts.unshift(n.name.getText(sf).replace(/^"|"$/g, ''));
    else if (n.parent && ts.isArrayLiteralExpression(n.parent) && ts.isExpression(n)) parts.unshift(`[${n.parent.elements.indexOf(n)}]`);
  }
  return parts.join('.').replace(/\.\[/g, '[');
}

/** Layer 2: every object as a literal that must satisfy its kind's TypeScript interface. */
export function strictFieldProblems(objects: K8sObject[]): string[] {
  const file = resolve(REPO, 'test/deploy/__rendered_manifests__.ts'); // virtual: never written
  const imports: string[] = [];
  const lines: string[] = [];
  const index = new Map<string, string>();
  objects.forEach((o, i) => {
    const mod = modelModule(o);
    let alias = index.get(mod);
    if (!alias) {
      alias = `T${index.size}`;
      index.set(mod, alias);
      imports.push(`import type { I${o.kind} as ${alias} } from '${mod}';`);
    }
    lines.push(`export const o${i} = ${JSON.stringify(o)} satisfies ${alias};`);
  });
  const header = imports.length;
  const text = [...imports, ...lines].join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, text, lang, true) : getSourceFile(name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file) as ts.SourceFile;
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file !== sf || d.start === undefined) return `TypeScript: ${message}`;
    const line = sf.getLineAndCharacterOfPosition(d.start).line;
    const o = objects[line - header];
    if (!o) return `TypeScript: ${message}`;
    return `${label(o)}: ${pathAt(sf, d.start)}: ${message.replace(/'"([^"]+)"'/g, "'$1'")}`;
  });
}

interface Container {
  name: string;
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
interface Probe {
  httpGet?: { port: number | string };
  tcpSocket?: { port: number | string };
  grpc?: { port: number };
}
export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string }[];
  [key: string]: unknown;
}

/** The pod template of a workload (Deployment, Job, …), or the Pod's own spec. */
export function podSpecOf(o: K8sObject): PodSpec | undefined {
  const spec = o.spec as { template?: { spec?: PodSpec }; jobTemplate?: { spec?: { template?: { spec?: PodSpec } } }; containers?: unknown } | undefined;
  if (o.kind === 'Pod') return spec as PodSpec | undefined;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
}

const IANA_SVC_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

/** Layer 3: API-server validation rules absent from the OpenAPI schema. */
export function apiRuleProblems(o: K8sObject): string[] {
  const pod = podSpecOf(o);
  if (!pod) return [];
  const problems: string[] = [];
  const at = (where: string, msg: string) => problems.push(`${label(o)}: ${where}: ${msg}`);
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  const check = (c: Container, where: string, init: boolean) => {
    if (c.restartPolicy !== undefined) {
      if (!init) at(where, 'restartPolicy may only be set on init containers');
      else if (c.restartPolicy !== 'Always') at(where, `restartPolicy: Unsupported value "${c.restartPolicy}": supported values: "Always"`);
    }
    const sidecar = init && c.restartPolicy === 'Always';
    const portNames = new Set<string>();
    for (const p of c.ports ?? []) {
      if (p.name === undefined) continue;
      if (!IANA_SVC_NAME.test(p.name)) at(`${where}.ports`, `invalid port name "${p.name}" (at most 15 lowercase letters, digits and '-')`);
      portNames.add(p.name);
    }
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const probe = c[kind];
      if (!probe) continue;
      if (init && !sidecar) at(`${where}.${kind}`, 'probes are only allowed on sidecar init containers (restartPolicy: Always)');
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
      if (typeof port === 'string' && !portNames.has(port)) at(`${where}.${kind}`, `port "${port}" is not a named port of the container`);
    }
    for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) at(`${where}.volumeMounts`, `volume "${m.name}" is not declared`);
  };
  (pod.initContainers ?? []).forEach((c, i) => check(c, `initContainers[${i}] (${c.name})`, true));
  pod.containers.forEach((c, i) => check(c, `containers[${i}] (${c.name})`, false));
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet') {
    const selector = (o.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {};
    const labels = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) at('spec.selector', `matchLabels ${k}=${v} does not match the pod template's labels`);
  }
  return problems;
}

/** All three layers over a rendering; custom resources are reported unless their kind is listed in `crdKinds`. */
export function validateObjects(objects: K8sObject[], crdKinds: string[] = []): string[] {
  const known = objects.filter(hasSchema);
  const problems = objects.filter((o) => !hasSchema(o) && !crdKinds.includes(o.kind)).map((o) => `${label(o)}: no schema for ${o.apiVersion} ${o.kind}`);
  for (const o of known) problems.push(...schemaProblems(o), ...apiRuleProblems(o));
  if (known.length > 0) problems.push(...strictFieldProblems(known));
  return problems;
}
