// The test renderer of deploy/k8s (kustomize-render.ts) on small inputs: strategic merge by name,
// deletion, overlays over bases, and a refusal of every kustomization key it does not implement
// (so it cannot silently render something kustomize would render differently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kustomizeBuild, strategicMerge } from './kustomize-render.js';

test('strategic merge: maps merge, null deletes, named lists merge by name, other lists are replaced', () => {
  const base = { spec: { replicas: 2, keep: 1, drop: 2, args: ['a', 'b'], containers: [{ name: 'a', image: 'x:1', env: [{ name: 'E', value: '1' }] }, { name: 'b', image: 'y' }] } };
  const patch = { spec: { replicas: 3, drop: null, args: ['c'], containers: [{ name: 'a', env: [{ name: 'F', value: '2' }] }, { name: 'c', image: 'z' }] } };
  assert.deepEqual(strategicMerge(base, patch), {
    spec: {
      replicas: 3,
      keep: 1,
      args: ['c'],
      containers: [
        { name: 'a', image: 'x:1', env: [{ name: 'E', value: '1' }, { name: 'F', value: '2' }] },
        { name: 'b', image: 'y' },
        { name: 'c', image: 'z' },
      ],
    },
  });
});

test('overlay: namespace, image, replaced generated ConfigMap, patch and $patch: delete', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-kz-'));
  try {
    mkdirSync(join(dir, 'base'));
    mkdirSync(join(dir, 'over'));
    writeFileSync(join(dir, 'base/kustomization.yaml'), 'resources: [d.yaml]\nconfigMapGenerator: [{ name: cfg, files: [a.txt] }]\ngeneratorOptions: { disableNameSuffixHash: true }\n');
    writeFileSync(join(dir, 'base/a.txt'), 'base');
    writeFileSync(join(dir, 'base/d.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\nspec: { replicas: 1, template: { spec: { containers: [{ name: c, image: "app:1" }] } } }\n---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\n');
    writeFileSync(join(dir, 'over/kustomization.yaml'), 'namespace: ns\nresources: [../base]\nimages: [{ name: app, newName: reg/app, newTag: "2" }]\nconfigMapGenerator: [{ name: cfg, behavior: replace, files: [a.txt] }]\npatches: [{ path: p.yaml }]\n');
    writeFileSync(join(dir, 'over/a.txt'), 'over');
    writeFileSync(join(dir, 'over/p.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\nspec: { replicas: 3 }\n---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\n$patch: delete\n');
    const out = kustomizeBuild(join(dir, 'over'));
    assert.deepEqual(out.map((o) => `${o.kind}/${o.metadata.name}@${o.metadata.namespace}`), ['Deployment/d@ns', 'ConfigMap/cfg@ns']);
    const d = out[0] as unknown as { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } };
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.template.spec.containers[0]!.image, 'reg/app:2');
    assert.deepEqual(out[1]!.data, { 'a.txt': 'over' });

    writeFileSync(join(dir, 'over/kustomization.yaml'), 'resources: [../base]\ncommonLabels: { a: b }\n');
    assert.throws(() => kustomizeBuild(join(dir, 'over')), /does not support commonLabels/);
    writeFileSync(join(dir, 'over/kustomization.yaml'), 'resources: [../base]\npatches: [{ path: p.yaml, target: { kind: Deployment } }]\n');
    assert.throws(() => kustomizeBuild(join(dir, 'over')), /only patches with a path/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
