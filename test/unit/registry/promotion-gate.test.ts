// The promotion gate on copies of the committed 1.0.0 bundle (never models/ itself): the real bundle
// passes; each way a candidate can be wrong fails its own check, and every check still runs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFeatureSpec } from '../../../src/features/load-spec.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';
import { readManifest } from '../../../src/scoring/model-bundle.js';
import { evaluatePromotion, failedChecks, type PromotionPolicy } from '../../../src/registry/promotion-gate.js';

const BUNDLE = fileURLToPath(new URL('../../../../models/churn-gbdt/1.0.0/', import.meta.url));
const spec = loadFeatureSpec('builtin:churn_default');
const policy: PromotionPolicy = { maxMetricDrop: { roc_auc: 0.01, pr_auc: 0.02, recall: 0.05 }, referenceTolerance: 1e-6 };

/** The manifest as JSON, for editing. */
interface Json {
  version: string;
  feature_spec_hash: string;
  metrics: { validation: Record<string, number> };
  reference_outputs?: { rows: number[][]; scores: number[] };
  [key: string]: unknown;
}

const temps: string[] = [];
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the 1.0.0 bundle in a temp dir, its manifest changed by `edit`. */
async function bundle(edit: (m: Json) => void = () => {}, files: { onnx?: Buffer } = {}): Promise<{ dir: string; manifest: ModelManifest }> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-gate-'));
  temps.push(dir);
  const m = JSON.parse(readFileSync(join(BUNDLE, 'manifest.json'), 'utf8')) as Json;
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  if (files.onnx) writeFileSync(join(dir, 'model.onnx'), files.onnx);
  else copyFileSync(join(BUNDLE, 'model.onnx'), join(dir, 'model.onnx'));
  return { dir, manifest: await readManifest(dir) };
}

const production = async (edit: (m: Json) => void = () => {}) => (await bundle(edit)).manifest;
const check = (r: Awaited<ReturnType<typeof evaluatePromotion>>, name: string) => r.checks.find((c) => c.name === name)!;

test('the committed bundle passes every check; without production the metric checks say so', async () => {
  const r = await evaluatePromotion({ candidate: await bundle(), spec, policy });
  assert.equal(r.ok, true, JSON.stringify(r.checks));
  assert.deepEqual(r.checks.map((c) => c.name), ['feature-spec', 'reference-outputs', 'explainable', 'roc_auc', 'pr_auc', 'recall']);
  assert.match(check(r, 'reference-outputs').detail, /^32 reference rows re-scored on onnxruntime-node, max \|Δ\| 0 /);
  for (const m of ['roc_auc', 'pr_auc', 'recall']) assert.match(check(r, m).detail, /no production model to compare with/);
  assert.deepEqual(failedChecks(r), []);
});

test('the reference rows are model input rows: input_columns wide, scored as they are', async () => {
  const { manifest } = await bundle();
  const ro = manifest.reference_outputs!;
  assert.equal(ro.rows.length, 32);
  assert.ok(ro.rows.every((r) => r.length === manifest.input_columns.length));
  assert.ok(ro.scores.some((s) => s < manifest.decision.threshold / 2) && ro.scores.some((s) => s >= manifest.decision.threshold));
});

test('a feature-spec hash other than the engine spec fails feature-spec; the other checks still run', async () => {
  const r = await evaluatePromotion({ candidate: await bundle((m) => (m.feature_spec_hash = `sha256:${'0'.repeat(64)}`)), spec, policy });
  assert.equal(r.ok, false);
  assert.equal(check(r, 'feature-spec').ok, false);
  assert.match(check(r, 'feature-spec').detail, new RegExp(`trained on sha256:0{64}, the engine runs spec 'churn_default' ${spec.hash}`));
  assert.equal(check(r, 'reference-outputs').ok, true);
  assert.deepEqual(failedChecks(r).length, 1);
});

test('a recorded reference score the model does not reproduce fails reference-outputs, naming the row', async () => {
  const r = await evaluatePromotion({ candidate: await bundle((m) => (m.reference_outputs!.scores[5]! += 0.01)), spec, policy });
  assert.equal(r.ok, false);
  const c = check(r, 'reference-outputs');
  assert.equal(c.ok, false);
  assert.match(c.detail, /^1 of 32 reference rows score differently: row 5 gives .*\|Δ\| 0\.01 > tolerance 1\.00e-6/);
});

test('the reference tolerance is the policy: a drift below it passes, above it fails', async () => {
  const cand = await bundle((m) => (m.reference_outputs!.scores[0]! += 5e-7));
  assert.equal(check(await evaluatePromotion({ candidate: cand, spec, policy }), 'reference-outputs').ok, true);
  assert.equal(check(await evaluatePromotion({ candidate: cand, spec, policy: { ...policy, referenceTolerance: 1e-7 } }), 'reference-outputs').ok, false);
});

test('missing, empty or malformed reference outputs fail', async () => {
  const missing = await evaluatePromotion({ candidate: await bundle((m) => delete m.reference_outputs), spec, policy });
  assert.equal(missing.ok, false);
  assert.match(check(missing, 'reference-outputs').detail, /no reference_outputs/);
  const empty = await evaluatePromotion({ candidate: await bundle((m) => (m.reference_outputs = { rows: [], scores: [] })), spec, policy });
  assert.match(check(empty, 'reference-outputs').detail, /empty/);
  const uneven = await evaluatePromotion({ candidate: await bundle((m) => m.reference_outputs!.scores.pop()), spec, policy });
  assert.match(check(uneven, 'reference-outputs').detail, /32 rows but 31 scores/);
  const narrow = await evaluatePromotion({ candidate: await bundle((m) => m.reference_outputs!.rows[3]!.pop()), spec, policy });
  assert.match(check(narrow, 'reference-outputs').detail, /rows\[3\] is not \d+ finite numbers/);
});

test('an ONNX file that does not load fails reference-outputs instead of throwing', async () => {
  const r = await evaluatePromotion({ candidate: await bundle(() => {}, { onnx: Buffer.from('not an onnx model') }), spec, policy });
  assert.equal(r.ok, false);
  assert.match(check(r, 'reference-outputs').detail, /the ONNX model does not load/);
});

test('each validation metric may drop at most maxMetricDrop below production (the exact limit passes)', async () => {
  const prod = await production((m) => Object.assign(m.metrics.validation, { roc_auc: 0.8, pr_auc: 0.4, recall: 0.6 }));
  const cand = await bundle((m) => Object.assign(m.metrics.validation, { roc_auc: 0.75, pr_auc: 0.38, recall: 0.7 }));
  const r = await evaluatePromotion({ candidate: cand, production: prod, spec, policy });
  assert.equal(r.ok, false);
  assert.equal(check(r, 'roc_auc').ok, false);
  assert.match(check(r, 'roc_auc').detail, /^0\.75 is 0\.05 below production churn-gbdt@1\.0\.0 0\.8 \(allowed drop 0\.01\)$/);
  assert.equal(check(r, 'pr_auc').ok, true, 'a drop of exactly pr_auc 0.02 is allowed');
  assert.equal(check(r, 'recall').ok, true);
  assert.match(check(r, 'recall').detail, /\+0\.1/);
  assert.deepEqual(failedChecks(r), [`roc_auc: ${check(r, 'roc_auc').detail}`]);
  // A looser policy lets it through.
  const loose = await evaluatePromotion({ candidate: cand, production: prod, spec, policy: { ...policy, maxMetricDrop: { roc_auc: 0.06, pr_auc: 0.02, recall: 0 } } });
  assert.equal(loose.ok, true, JSON.stringify(loose.checks));
});

test('a candidate without a gated metric fails it; a production without one does not block', async () => {
  const cand = await bundle((m) => delete m.metrics.validation['recall']);
  const r = await evaluatePromotion({ candidate: cand, spec, policy });
  assert.equal(check(r, 'recall').ok, false);
  assert.match(check(r, 'recall').detail, /no metrics.validation.recall/);
  const prod = await production((m) => delete m.metrics.validation['pr_auc']);
  const r2 = await evaluatePromotion({ candidate: await bundle(), production: prod, spec, policy });
  assert.equal(check(r2, 'pr_auc').ok, true);
  assert.match(check(r2, 'pr_auc').detail, /records no pr_auc/);
});

test('every failing check is reported at once', async () => {
  const cand = await bundle((m) => {
    m.feature_spec_hash = `sha256:${'1'.repeat(64)}`;
    delete m.reference_outputs;
    m.metrics.validation['roc_auc'] = 0.5;
    m.metrics.validation['pr_auc'] = 0.1;
  });
  const r = await evaluatePromotion({ candidate: cand, production: await production(), spec, policy });
  assert.deepEqual(failedChecks(r).map((l) => l.split(':')[0]), ['feature-spec', 'reference-outputs', 'roc_auc', 'pr_auc']);
});

test('a model.onnx without tree covers scores its references but is refused as not explainable', async () => {
  const onnx = readFileSync(join(BUNDLE, 'model.onnx'));
  const key = Buffer.from('churnflow.tree_covers');
  const at = onnx.indexOf(key);
  assert.ok(at > 0, 'the committed bundle carries covers');
  const renamed = Buffer.from(onnx);
  renamed.write('churnflow.tree_cOvers', at); // same length: the protobuf stays valid, the covers are gone
  const r = await evaluatePromotion({ candidate: await bundle(() => {}, { onnx: renamed }), spec, policy });
  assert.equal(check(r, 'reference-outputs').ok, true);
  assert.equal(check(r, 'explainable').ok, false);
  assert.match(check(r, 'explainable').detail, /reexport-onnx/);
  assert.deepEqual(failedChecks(r).map((l) => l.split(':')[0]), ['explainable']);
});
