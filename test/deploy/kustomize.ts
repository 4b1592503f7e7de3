// `kubectl kustomize` (offline: kustomize is built into kubectl) and its multi-document output.
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s-validate.ts';

const probe = spawnSync('kubectl', ['version', '--client', '--output=json'], { encoding: 'utf8' });
export const kubectlAvailable = probe.status === 0;
/** Under CI a missing kubectl is a failure, never a skip: these tests are the only check of deploy/kubernetes. */
export const mustRunKustomize = kubectlAvailable || process.env.CI === 'true';

export function kustomize(dir: string): K8sObject[] {
  if (!kubectlAvailable) {
    throw new Error(`kubectl is not installed (or not on PATH): it renders deploy/kubernetes with its built-in kustomize. Install kubectl ≥ 1.27 (${probe.error?.message ?? probe.stderr})`);
  }
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} exited ${r.status}:\n${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: unparseable output: ${d.errors[0]?.message}`);
    return d.toJS() as K8sObject;
  });
}
