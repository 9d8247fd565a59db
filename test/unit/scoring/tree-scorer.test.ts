// The generated WebAssembly tree scorer against onnxruntime (same bits on every row of every bundled
// model), its margin kernel against a float32 reference walk on hand-built trees (every node mode,
// NaN inputs, missing_value_tracks_true), the logistic's expf rule, and when onnxruntime scores alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFeatureSpec } from '../../../src/features/load-spec.js';
import { loadScoringModel } from '../../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../../src/simulator/index.js';
import type { ActivityEventJson } from '../../../src/events/wire-types.js';
import {
  buildTreeEnsemble,
  NodeMode,
  parseOnnxTreeEnsemble,
  parseTreeEnsembleAttributes,
  takesTrueBranch,
  type TreeEnsemble,
  type TreeEnsembleAttributes,
} from '../../../src/scoring/explain/onnx-tree-ensemble.js';
import { compileMarginKernel } from '../../../src/scoring/trees/wasm-margin-kernel.js';
import { logisticFromExp, settledLogistic } from '../../../src/scoring/trees/onnx-logistic.js';
import { whyNotCompilable } from '../../../src/scoring/trees/eligibility.js';
import { probeRows } from '../../../src/scoring/trees/probe-rows.js';
import { createTreeScorer } from '../../../src/scoring/trees/tree-scorer.js';
import { readModelTrees, type ModelTrees } from '../../../src/scoring/explain/model-trees.js';
import { createTreeExplainer } from '../../../src/scoring/explain/explainer.js';
import { loadModelBundle } from '../../../src/scoring/model-bundle.js';
import { ChurnflowError } from '../../../src/errors.js';
import { runSnapshot } from '../../helpers/run-snapshot.js';
import { rng } from '../../helpers/rng.js';
import { handAttributes, handNodeRows, type HandNode } from '../../helpers/hand-built-trees.js';

const MODELS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'].map((v) => join('models/churn-gbdt', v));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });

/** The float32 margin the kernel promises: leaves added in float32, tree after tree, from 0. */
function referenceMargin(e: TreeEnsemble, row: Float32Array, offset: number, start = 0): number {
  let sum = start;
  for (let t = 0; t < e.nTrees; t++) {
    let k = e.roots[t]!;
    while (e.mode[k] !== NodeMode.LEAF) k = takesTrueBranch(e, k, row[offset + e.feature[k]!]!) ? e.trueChild[k]! : e.falseChild[k]!;
    sum = Math.fround(sum + e.value[k]!);
  }
  return sum;
}

function assertKernelMatches(e: TreeEnsemble, rows: Float32Array, width: number, what: string): void {
  const n = rows.length / width;
  const kernel = compileMarginKernel(e, width);
  kernel.input(n).set(rows);
  const out = kernel.margins(n);
  for (let i = 0; i < n; i++) {
    const want = referenceMargin(e, rows, i * width);
    assert.ok(Object.is(out[i], Math.fround(want)), `${what}: row ${i} margin ${out[i]}, reference ${want}`);
  }
}

test('every bundled model: the generated (wasm) engine gives onnxruntime\'s bits on simulated, probe and random rows', async () => {
  const sim = resolveSimulatorOptions({ customers: 120, days: 90, seed: 21 });
  const events: ActivityEventJson[] = [];
  for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
  const simulated = (await runSnapshot(events, spec, simulationEndTime(sim), { everyDays: 3, warmupDays: 7 })).rows.map((r) => r.features);
  assert.ok(simulated.length > 1000, `rows: ${simulated.length}`);
  const rand = rng(77);
  const random = Array.from({ length: 1500 }, () => Float64Array.from(simulated[Math.floor(rand() * simulated.length)]!, (v) => (rand() < 0.1 ? Number.NaN : rand() < 0.5 ? v : v * (rand() * 4 - 1.5))));
  for (const dir of MODELS) {
    const js = await loadScoringModel(dir, spec);
    const onnx = await loadScoringModel(dir, spec, { engine: 'onnxruntime' });
    try {
      assert.equal(js.scorer.engine, 'wasm', `${dir}: ${js.scorer.onnxOnlyBecause}`);
      assert.equal(onnx.scorer.engine, 'onnxruntime');
      for (const [what, rows] of [['simulated', simulated], ['random', random]] as const) {
        for (let i = 0; i < rows.length; i += 600) {
          const batch = rows.slice(i, i + 600);
          const a = await js.scoreFeatures(batch);
          const b = await onnx.scoreFeatures(batch);
          for (let j = 0; j < batch.length; j++) assert.ok(Object.is(a[j], b[j]), `${dir} ${what} row ${i + j}: ${a[j]} vs onnxruntime ${b[j]}`);
        }
      }
      // Model input rows around the thresholds (another seed than the load-time check's).
      const e = parseOnnxTreeEnsemble(readFileSync(join(dir, 'model.onnx')), dir);
      const probes = probeRows(e, js.scorer.width, 1024, 99);
      const a = await js.scorer.score(probes, 1024);
      const b = await onnx.scorer.score(probes, 1024);
      for (let j = 0; j < 1024; j++) assert.ok(Object.is(a[j], b[j]), `${dir} probe row ${j}: ${a[j]} vs onnxruntime ${b[j]}`);
      assertKernelMatches(e, probes, js.scorer.width, `${dir} kernel`);
      assert.ok(js.scorer.settledByOnnx() < 0.05 * (simulated.length + random.length + 1024), `rows left to onnxruntime: ${js.scorer.settledByOnnx()}`);
    } finally {
      await js.close();
      await onnx.close();
    }
  }
});

test('an empty batch and a short buffer', async () => {
  const m = await loadScoringModel(MODELS[1]!, spec);
  try {
    assert.equal((await m.scorer.score(new Float32Array(0), 0)).length, 0);
    await assert.rejects(m.scorer.score(new Float32Array(m.scorer.width), 2), /CF_SCORING_FAILED|values for 2 rows/);
  } finally {
    await m.close();
  }
});

type Node = HandNode;

function handBuilt(trees: Node[]): { attributes: TreeEnsembleAttributes; ensemble: TreeEnsemble } {
  const attributes = handAttributes(handNodeRows(trees), { float32Leaves: true });
  return { attributes, ensemble: buildTreeEnsemble(attributes, null, 'hand-built') };
}

const leaf = (v: number): Node => ({ leaf: v });
const MODES = ['BRANCH_LEQ', 'BRANCH_LT', 'BRANCH_GTE', 'BRANCH_GT', 'BRANCH_EQ', 'BRANCH_NEQ'] as const;

test('margin kernel: every node mode, NaN with and without missing_value_tracks_true, float32 sums in tree order', () => {
  const trees: Node[] = [];
  MODES.forEach((mode, i) => {
    for (const tracks of [0, 1] as const) {
      trees.push({ f: i % 3, t: 0.5, mode, tracks, yes: { f: 3, t: -1.25, mode: 'BRANCH_LEQ', yes: leaf(0.1 * (i + 1)), no: leaf(-0.3) }, no: leaf(1e-8 * (i + 1) - 0.7) });
    }
  });
  // Sums that round differently in float32 than in float64, in an order that matters.
  trees.push({ f: 0, t: 0, mode: 'BRANCH_GT', yes: leaf(16_777_216), no: leaf(1) }, { f: 0, t: 0, mode: 'BRANCH_GT', yes: leaf(1), no: leaf(-16_777_216) });
  for (let d = 0; d < 6; d++) trees.push({ f: 3, t: d - 3, mode: 'BRANCH_LT', yes: leaf(0.1), no: leaf(0.2) });
  const { ensemble } = handBuilt(trees);
  const width = 4;
  const values = [Number.NaN, 0, -0, 0.5, Math.fround(0.5 + 2 ** -24), Math.fround(0.5 - 2 ** -25), -1.25, Math.fround(-1.25 - 2 ** -22), 1, 3, -Infinity, Infinity];
  const rand = rng(5);
  const rows = new Float32Array(4000 * width);
  for (let i = 0; i < rows.length; i++) rows[i] = values[Math.floor(rand() * values.length)]!;
  assertKernelMatches(ensemble, rows, width, 'hand-built');
  // The margins start at 0 on every call (not at what the previous call left), and growing the memory keeps working.
  const kernel = compileMarginKernel(ensemble, width);
  for (const n of [3, 2, 40_000, 1]) {
    const input = kernel.input(n);
    for (let i = 0; i < n * width; i++) input[i] = rows[i % rows.length]!;
    const out = kernel.margins(n);
    assert.equal(out.length, n);
    for (let i = 0; i < n; i += 997) assert.ok(Object.is(out[i], referenceMargin(ensemble, input, i * width)), `n ${n} row ${i}`);
  }
});

test('settledLogistic: onnxruntime\'s float32 logistic, NaN only where expf\'s last bit decides', () => {
  const rand = rng(11);
  let open = 0;
  for (let i = 0; i < 200_000; i++) {
    const m = Math.fround((rand() - 0.5) * (i % 2 === 0 ? 8 : 60));
    const p = settledLogistic(m);
    const e = Math.fround(Math.exp(-Math.abs(m)));
    if (Number.isNaN(p)) {
      open++;
      continue;
    }
    // Whichever float32 expf returns near e^-|m| (the correctly rounded one or a neighbour inside the slack), p is the same.
    assert.equal(p, logisticFromExp(e, m < 0), `m ${m}`);
    assert.ok(p >= 0 && p <= 1);
  }
  assert.ok(open > 0 && open < 10_000, `unsettled: ${open}`); // ≈3 % of these margins
  assert.equal(settledLogistic(0), 0.5);
  assert.equal(settledLogistic(-0), 0.5);
  assert.ok(Number.isNaN(settledLogistic(Number.NaN)));
  assert.ok(Number.isNaN(settledLogistic(81)));
  assert.ok(Number.isNaN(settledLogistic(-Infinity)));
  assert.equal(settledLogistic(40), 1);
  assert.equal(settledLogistic(-40), Math.fround(1 - 1));
});

test('eligibility: what keeps a model on onnxruntime alone', () => {
  const tree: Node = { f: 0, t: 0.5, mode: 'BRANCH_LEQ', yes: leaf(0.25), no: leaf(-0.5) };
  const { attributes, ensemble } = handBuilt([tree]);
  assert.equal(whyNotCompilable(attributes, ensemble, 1), null);
  assert.match(whyNotCompilable(attributes, ensemble, 2)!, /intraOpThreads/);
  assert.match(whyNotCompilable({ ...attributes, base_values: [0.1] }, ensemble, 1)!, /base_values/);
  assert.match(whyNotCompilable({ ...attributes, leaf_weights: [0.25, 0.5] }, ensemble, 1)!, /negative/);
  assert.match(whyNotCompilable({ ...attributes, leaf_weights: [0.1, -0.5] }, ensemble, 1)!, /float32/);
  assert.match(whyNotCompilable({ ...attributes, leaf_treeids: [0, 0, 0], leaf_nodeids: [1, 2, 2], leaf_weights: [0.25, -0.5, 0.5] }, ensemble, 1)!, /more than one weight/);
});

test('intraOpThreads > 1 or engine onnxruntime: onnxruntime scores alone, with the reason', async () => {
  const two = await loadScoringModel(MODELS[1]!, spec, { intraOpThreads: 2 });
  const asked = await loadScoringModel(MODELS[1]!, spec, { engine: 'onnxruntime' });
  try {
    assert.equal(two.scorer.engine, 'onnxruntime');
    assert.match(two.scorer.onnxOnlyBecause!, /intraOpThreads is 2/);
    assert.equal(asked.scorer.engine, 'onnxruntime');
    assert.equal(asked.scorer.settledByOnnx(), 0);
  } finally {
    await two.close();
    await asked.close();
  }
});

test('parseTreeEnsembleAttributes of a bundled model passes the eligibility rules', () => {
  for (const dir of MODELS) {
    const { attributes, covers } = parseTreeEnsembleAttributes(readFileSync(join(dir, 'model.onnx')), dir);
    assert.equal(whyNotCompilable(attributes, buildTreeEnsemble(attributes, covers, dir), 1), null, dir);
  }
});

test('one parse of model.onnx serves both tree walkers: a parse failure keeps the scorer on onnxruntime with the reason and fails the explainer', async () => {
  const bundle = await loadModelBundle(MODELS[1]!, spec);
  const failed: ModelTrees = { ok: false, error: new ChurnflowError('CF_MODEL_INVALID', 'unreadable trees (test)') };
  const fallback = await createTreeScorer(bundle, { trees: failed });
  const parsed = await readModelTrees(bundle);
  assert.ok(parsed.ok);
  const generated = await createTreeScorer(bundle, { trees: parsed });
  try {
    assert.equal(fallback.engine, 'onnxruntime');
    assert.match(fallback.onnxOnlyBecause!, /its trees could not be compiled: .*unreadable trees \(test\)/);
    assert.equal(generated.engine, 'wasm');
    const rows = probeRows(parsed.ensemble, generated.width, 64, 9);
    assert.deepEqual([...(await generated.score(rows, 64))], [...(await fallback.score(rows, 64))]);
    await assert.rejects(createTreeExplainer(bundle, failed), /unreadable trees \(test\)/);
    const shared = await createTreeExplainer(bundle, parsed);
    const own = await createTreeExplainer(bundle);
    assert.deepEqual([...shared.contributions(rows, 0)], [...own.contributions(rows, 0)]);
  } finally {
    await fallback.close();
    await generated.close();
  }
});
