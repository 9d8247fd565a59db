import assert from 'node:assert/strict';
import { test } from 'node:test';
import { float32Above, float32Below, float32Threshold } from '../../../src/scoring/explain/float32-threshold.js';
import { NodeMode } from '../../../src/scoring/explain/onnx-tree-ensemble.js';

/** The node mode's comparison, as the JavaScript pass makes it (float64). */
function holds(mode: number, x: number, t: number): boolean {
  switch (mode) {
    case NodeMode.BRANCH_LEQ: return x <= t;
    case NodeMode.BRANCH_LT: return x < t;
    case NodeMode.BRANCH_GTE: return x >= t;
    case NodeMode.BRANCH_GT: return x > t;
    case NodeMode.BRANCH_EQ: return x === t;
    default: return x !== t;
  }
}

test('a float32 threshold splits every float32 input as the float64 one does, for every node mode', () => {
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  const near = (f: number, d: number): number => {
    f32[0] = f;
    bits[0] = bits[0]! + d;
    return f32[0];
  };
  const thresholds = [0.1, 0.2, 0.3, -0.7, 1 / 3, 1e-300, -1e-300, 0, -0, 1e300, -1e300, Infinity, -Infinity, 0.5, 3.4028235677973366e38, 2 ** -149, 1e-46, 123456.789];
  for (let i = 0; i < 200; i++) thresholds.push((Math.sin(i * 12.9898) * 43758.5453) % 50);
  for (const t of thresholds) {
    const around = [Math.fround(t), 0, -0, Infinity, -Infinity, 2 ** -149, -(2 ** -149)];
    for (const f of [Math.fround(t)]) for (let d = -3; d <= 3; d++) if (Number.isFinite(f)) around.push(near(f, d));
    for (const mode of [NodeMode.BRANCH_LEQ, NodeMode.BRANCH_LT, NodeMode.BRANCH_GTE, NodeMode.BRANCH_GT, NodeMode.BRANCH_EQ, NodeMode.BRANCH_NEQ]) {
      const u = float32Threshold(mode, t);
      assert.ok(Number.isNaN(u) || Math.fround(u) === u, `mode ${mode} t ${t}: ${u} is a float32`);
      for (const x of around) {
        if (Number.isNaN(x)) continue;
        assert.equal(holds(mode, x, u), holds(mode, x, t), `mode ${mode}, threshold ${t} (float32 ${u}), x ${x}`);
      }
    }
  }
});

test('float32Below and float32Above: the float32 neighbours of a float64', () => {
  assert.equal(float32Below(0.1), Math.fround(0.1) > 0.1 ? 0.09999999403953552 : Math.fround(0.1));
  assert.equal(float32Above(0.1), Math.fround(0.1));
  assert.equal(float32Below(1e300), 3.4028234663852886e38);
  assert.equal(float32Above(1e300), Infinity);
  assert.equal(float32Below(-1e-300), -(2 ** -149));
  assert.ok(float32Above(-1e-300) === 0); // -0: the same comparisons as 0
  assert.equal(float32Below(0.5), 0.5);
  assert.equal(float32Above(0.5), 0.5);
});
