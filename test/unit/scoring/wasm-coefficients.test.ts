import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildLinearTreeShapPlan } from '../../../src/scoring/explain/linear-tree-shap-plan.js';
import { parseOnnxTreeEnsemble } from '../../../src/scoring/explain/onnx-tree-ensemble.js';
import { kernelCoefficients } from '../../../src/scoring/explain/wasm-coefficients.js';

for (const dir of ['models/churn-gbdt/1.0.0', 'models/churn-gbdt/1.1.0']) {
  test(`${dir}: the WebAssembly kernel computes the multipliers of every branch without a prev, and holds the rest as the plan does`, () => {
    const e = parseOnnxTreeEnsemble(readFileSync(join(dir, 'model.onnx')), dir);
    const plan = buildLinearTreeShapPlan(e, e.cover!);
    const kc = kernelCoefficients(plan);
    let eligible = 0;
    let computed = 0;
    for (let t = 0; t < plan.nTrees; t++) {
      const s = plan.treeStart[t]!;
      const n = plan.treePoints[t]!;
      for (let g = s + 1; g < plan.treeStart[t + 1]!; g++) {
        const branch = g < s + plan.treeBranches[t]!;
        if (branch && plan.prev[g]! < 0) eligible++;
        computed += kc.computed[g]!;
        const at = kc.nodeAt[g]! / 8;
        const c = plan.coefAt[g]!;
        if (kc.computed[g] === 1) {
          assert.ok(branch && plan.prev[g]! < 0);
          assert.equal(kc.values[at], plan.zero[g]);
          assert.deepEqual([...kc.values.subarray(at + 2, at + 2 + n)], [...plan.coef.subarray(c + n, c + 2 * n)], 'the hot φ weights');
          const rule = kc.ruleAt[t]! / 8;
          assert.deepEqual([...kc.values.subarray(rule + 2 * n, rule + 3 * n)], [...plan.coef.subarray(c + 3 * n, c + 4 * n)], 'the shared cold φ weights');
        } else {
          const blocks = plan.prev[g]! >= 0 ? 5 : 4;
          assert.deepEqual([...kc.values.subarray(at, at + blocks * n)], [...plan.coef.subarray(c, c + blocks * n)]);
        }
      }
    }
    assert.ok(eligible > 1000);
    assert.equal(computed, eligible, 'every branch without a prev: its multipliers are the computed ones, to the bit');
    assert.ok(kc.values.byteLength < 0.8 * plan.coef.byteLength, `${kc.values.byteLength} bytes against the plan's ${plan.coef.byteLength}`);
  });
}
