// TreeSHAP against brute-force Shapley values (every coalition, path-dependent conditional
// expectation) on hand-built and random ensembles; additivity; reasons (indicator folding, top-k
// order); the ONNX reader on the committed bundle and on small models encoded here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs/light.js';
import * as ort from 'onnxruntime-node';
import { ChurnflowError } from '../../../src/errors.js';
import type { FeatureColumn } from '../../../src/features/compile-spec.js';
import {
  buildTreeEnsemble,
  ensembleMargin,
  NodeMode,
  ONNX_ML_SUBSET_DESCRIPTOR,
  parseOnnxTreeEnsemble,
  TREE_COVERS_FORMAT,
  TREE_COVERS_KEY,
  type NodeModeName,
  type TreeEnsemble,
} from '../../../src/scoring/explain/onnx-tree-ensemble.js';
import { gaussLegendre01 } from '../../../src/scoring/explain/gauss-legendre.js';
import { buildLinearTreeShapPlan } from '../../../src/scoring/explain/linear-tree-shap-plan.js';
import { compileTableTreeShap } from '../../../src/scoring/explain/table-tree-shap.js';
import { compileTreeShap, type TreeShap } from '../../../src/scoring/explain/tree-shap.js';
import { wasmKernel } from '../../../src/scoring/explain/wasm-tree-shap.js';
import { compileTreeShapReference } from '../../../src/scoring/explain/tree-shap-reference.js';
import { handAttributes, handNodeRows } from '../../helpers/hand-built-trees.js';
import { buildTreeExplainer, createTreeExplainer } from '../../../src/scoring/explain/explainer.js';
import { readManifest } from '../../../src/scoring/model-bundle.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';

// ---- hand-built ensembles -------------------------------------------------------------------------

type TreeNode = { leaf: number; cover: number } | { f: number; t: number; mode?: NodeModeName; tracks?: 0 | 1; yes: TreeNode; no: TreeNode };

/** ONNX-style attributes for the trees (node ids in DFS order, attribute order reversed to show order does not matter). */
function ensembleOf(trees: TreeNode[], opts: { base?: number; covers?: 'ok' | 'none' | 'broken' } = {}): TreeEnsemble {
  const rows = handNodeRows(trees).reverse();
  const covers = rows.map((r) => r.cover);
  if (opts.covers === 'broken') covers[covers.length - 1]! += 1; // the first tree's root
  return buildTreeEnsemble(
    handAttributes(rows, opts.base === undefined ? {} : { base: opts.base }),
    opts.covers === 'none' ? null : covers,
    'test ensemble',
  );
}

// ---- brute force ----------------------------------------------------------------------------------

function goesTrue(e: TreeEnsemble, k: number, v: number): boolean {
  if (Number.isNaN(v)) return e.missingTracksTrue[k] === 1 || e.mode[k] === NodeMode.BRANCH_NEQ;
  const t = e.threshold[k]!;
  return [false, v <= t, v < t, v >= t, v > t, v === t, v !== t][e.mode[k]!]!;
}

/** E[f(x) | x_S] with features outside S averaged over the training data as it split (node covers). */
function conditional(e: TreeEnsemble, k: number, x: Float32Array, inS: (f: number) => boolean): number {
  if (e.mode[k] === NodeMode.LEAF) return e.value[k]!;
  const f = e.feature[k]!;
  const t = e.trueChild[k]!;
  const n = e.falseChild[k]!;
  if (inS(f)) return conditional(e, goesTrue(e, k, x[f]!) ? t : n, x, inS);
  return (e.cover![t]! * conditional(e, t, x, inS) + e.cover![n]! * conditional(e, n, x, inS)) / e.cover![k]!;
}

function value(e: TreeEnsemble, x: Float32Array, mask: number): number {
  let v = e.baseValue;
  for (const r of e.roots) v += conditional(e, r, x, (f) => (mask & (1 << f)) !== 0);
  return v;
}

/** Exact Shapley values over all 2^M coalitions of the M columns; bias = v(empty set). */
function bruteForce(e: TreeEnsemble, x: Float32Array, m: number): number[] {
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const phi = new Array<number>(m + 1).fill(0);
  const bits = (s: number): number => s.toString(2).replace(/0/g, '').length;
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < 1 << m; s++) {
      if (s & (1 << i)) continue;
      const weight = (fact(bits(s)) * fact(m - bits(s) - 1)) / fact(m);
      phi[i]! += weight * (value(e, x, s | (1 << i)) - value(e, x, s));
    }
  }
  phi[m] = value(e, x, 0);
  return phi;
}

function shap(e: TreeEnsemble, x: Float32Array, width: number): Float64Array {
  const out = new Float64Array(width + 1);
  compileTreeShap(e, width).contributions(x, 0, out);
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${Math.abs(actual[i]! - expected[i]!)})`);
  }
}

// A depth-3 tree over 4 columns that splits on column 0 twice on one path (exercises UNWIND), plus
// a tree with other modes and a NaN-tracking node.
const TREE_A: TreeNode = {
  f: 0, t: 0.5,
  yes: {
    f: 1, t: 2,
    yes: { f: 0, t: 0.25, yes: { leaf: 3, cover: 10 }, no: { leaf: -1, cover: 30 } },
    no: { f: 2, t: 1, mode: 'BRANCH_GT', yes: { leaf: 0.5, cover: 15 }, no: { leaf: 2, cover: 5 } },
  },
  no: {
    f: 3, t: 7, mode: 'BRANCH_LT', tracks: 1,
    yes: { f: 1, t: 4, mode: 'BRANCH_GTE', yes: { leaf: -2, cover: 8 }, no: { leaf: 1, cover: 12 } },
    no: { leaf: 4, cover: 20 },
  },
};
const TREE_B: TreeNode = {
  f: 2, t: 3, mode: 'BRANCH_EQ',
  yes: { leaf: 1.5, cover: 25 },
  no: { f: 3, t: 1, mode: 'BRANCH_NEQ', yes: { f: 2, t: 5, yes: { leaf: -0.5, cover: 30 }, no: { leaf: 0.25, cover: 20 } }, no: { leaf: -3, cover: 25 } },
};

test('TreeSHAP equals brute-force Shapley values on a hand-built ensemble (modes, repeated splits, NaN)', () => {
  const e = ensembleOf([TREE_A, TREE_B], { base: 0.125 });
  const rows = [
    [0.1, 1, 0, 6],
    [0.3, 1, 2, 8],
    [0.3, 3, 2, 8],
    [0.9, 5, 3, 1],
    [0.9, 3, 5, NaN],
    [NaN, NaN, NaN, NaN],
    [0.5, 2, 1, 7],
  ];
  for (const r of rows) {
    const x = Float32Array.from(r);
    const got = shap(e, x, 4);
    assertClose(got, bruteForce(e, x, 4), 1e-12, `row ${r}`);
    assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - ensembleMargin(e, x)) < 1e-12, 'additivity');
  }
  // The hand-built values are not trivially zero: some rows get sizeable attributions on several columns.
  const phi = shap(e, Float32Array.from([0.1, 1, 0, 6]), 4);
  assert.ok([0, 1, 2, 3].filter((j) => Math.abs(phi[j]!) > 0.05).length >= 3, `${phi}`);
});

test('TreeSHAP equals brute force on random deep ensembles, and contributions add up to the margin', () => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const modes: NodeModeName[] = ['BRANCH_LEQ', 'BRANCH_LEQ', 'BRANCH_LT', 'BRANCH_GTE', 'BRANCH_GT'];
  const grow = (depth: number): TreeNode =>
    depth === 0 || rand() < 0.15
      ? { leaf: Math.round((rand() * 4 - 2) * 1000) / 1000, cover: 1 + Math.floor(rand() * 50) }
      : { f: Math.floor(rand() * 4), t: Math.floor(rand() * 10) / 2, mode: modes[Math.floor(rand() * modes.length)]!, tracks: rand() < 0.5 ? 1 : 0, yes: grow(depth - 1), no: grow(depth - 1) };
  for (let trial = 0; trial < 20; trial++) {
    const e = ensembleOf([grow(6), grow(5), grow(1 + (trial % 4))], { base: rand() - 0.5 });
    // Default tables, and leaves with more than 0 / 2 path features computed without a table.
    const variants = [compileTreeShap(e, 4), compileTableTreeShap(e, 4, 'random', { maxTableBits: 0 }), compileTableTreeShap(e, 4, 'random', { maxTableBits: 2 }), compileTreeShapReference(e, 4)];
    for (let r = 0; r < 5; r++) {
      const x = Float32Array.from([0, 1, 2, 3].map(() => (rand() < 0.1 ? NaN : Math.floor(rand() * 10) / 2)));
      const want = bruteForce(e, x, 4);
      variants.forEach((tree, v) => {
        const got = new Float64Array(5);
        tree.contributions(x, 0, got);
        assertClose(got, want, 1e-9, `trial ${trial} variant ${v} row ${[...x]}`);
        assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - ensembleMargin(e, x)) < 1e-9, 'additivity');
      });
    }
  }
});

// ---- Linear TreeSHAP specifics ----------------------------------------------------------------------

test('Gauss-Legendre on [0, 1]: n points integrate t^p exactly up to p = 2n - 1, and not p = 2n', () => {
  for (let n = 1; n <= 10; n++) {
    const { t, w } = gaussLegendre01(n);
    assert.ok(t.every((x, i) => x > 0 && x < 1 && (i === 0 || x > t[i - 1]!)), `points of ${n}: ${t}`);
    for (let p = 0; p <= 2 * n; p++) {
      let q = 0;
      for (let k = 0; k < n; k++) q += w[k]! * t[k]! ** p;
      const err = Math.abs(q - 1 / (p + 1));
      if (p < 2 * n) assert.ok(err < 1e-14, `n ${n}, t^${p}: ${q} vs ${1 / (p + 1)}`);
      // One degree more is off by an amount that shrinks fast with n (9e-8 at n = 6): checked while measurable.
      else if (n <= 5) assert.ok(err > 1e-7, `n ${n} is not exact for t^${p} (${err}): the rule is no wider than it claims`);
    }
  }
});

/** Every row of 0/1 values (and NaN) over m columns, so each node is taken both ways in some row. */
function everyRow(m: number, values: readonly number[]): Float32Array[] {
  const rows: Float32Array[] = [];
  const total = values.length ** m;
  for (let i = 0; i < total; i++) {
    let r = i;
    rows.push(Float32Array.from({ length: m }, () => {
      const v = values[r % values.length]!;
      r = Math.floor(r / values.length);
      return v;
    }));
  }
  return rows;
}

test('Linear TreeSHAP: one column split three times down a path (hot under hot, cold under hot, cold under cold) equals brute force', () => {
  // Column 0 at 0.5, then 0.25 and 0.75 below, with column 1 between: rows at 0.1 / 0.4 / 0.6 / 0.9
  // make every mix of hot and cold edges on column 0 along the paths.
  const tree: TreeNode = {
    f: 0, t: 0.5,
    yes: { f: 1, t: 0.5, yes: { f: 0, t: 0.25, yes: { f: 0, t: 0.1, yes: { leaf: 5, cover: 3 }, no: { leaf: -1, cover: 9 } }, no: { leaf: 2, cover: 11 } }, no: { f: 0, t: 0.25, yes: { leaf: -3, cover: 7 }, no: { f: 2, t: 0.5, yes: { leaf: 1, cover: 4 }, no: { leaf: 0.5, cover: 6 } } } },
    no: { f: 0, t: 0.75, yes: { f: 1, t: 0.5, yes: { leaf: 4, cover: 5 }, no: { f: 0, t: 0.6, yes: { leaf: -2, cover: 8 }, no: { leaf: 3, cover: 2 } } }, no: { leaf: -4, cover: 10 } },
  };
  const e = ensembleOf([tree], { base: -0.25 });
  const plan = buildLinearTreeShapPlan(e, e.cover!);
  assert.ok(plan.prev.some((p) => p >= 0), 'some edges have a previous edge on the same column');
  const t = compileTreeShap(e, 3);
  let rows = 0;
  for (const x of everyRow(3, [0.05, 0.2, 0.4, 0.6, 0.9, NaN])) {
    const got = new Float64Array(4);
    t.contributions(x, 0, got);
    assertClose(got, bruteForce(e, x, 3), 1e-12, `row ${[...x]}`);
    rows++;
  }
  assert.equal(rows, 216);
});

test('Linear TreeSHAP: depth-1 trees (stumps) and lone leaves', () => {
  const e = ensembleOf([{ f: 0, t: 0.5, yes: { leaf: 1.5, cover: 1 }, no: { leaf: -1.5, cover: 1 } }, { f: 1, t: 0.5, yes: { leaf: -1, cover: 3 }, no: { leaf: 2, cover: 1 } }, { leaf: 0.75, cover: 4 }], { base: 0.5 });
  const t = compileTreeShap(e, 2);
  for (const x of everyRow(2, [0, 1, NaN])) {
    const got = new Float64Array(3);
    t.contributions(x, 0, got);
    assertClose(got, bruteForce(e, x, 2), 1e-14, `row ${[...x]}`);
  }
  // A stump's value in closed form: the leaf taken minus the cover-weighted mean leaf.
  const phi = new Float64Array(3);
  t.contributions(Float32Array.from([0, 0]), 0, phi);
  assertClose(phi, [1.5, -1 - (3 * -1 + 1 * 2) / 4, 0.5 + 0 + (3 * -1 + 1 * 2) / 4 + 0.75], 1e-15, 'closed form');
});

test('Linear TreeSHAP: a missing value takes each node\'s default direction (tracks true, tracks false, NEQ)', () => {
  const tracksTrue: TreeNode = { f: 0, t: 0.5, tracks: 1, yes: { leaf: 1, cover: 2 }, no: { leaf: -1, cover: 6 } };
  const tracksFalse: TreeNode = { f: 0, t: 0.5, tracks: 0, yes: { leaf: 1, cover: 2 }, no: { leaf: -1, cover: 6 } };
  const neq: TreeNode = { f: 1, t: 1, mode: 'BRANCH_NEQ', yes: { leaf: 2, cover: 5 }, no: { leaf: -2, cover: 5 } };
  const nan = Float32Array.from([NaN, NaN]);
  const one = (tree: TreeNode): Float64Array => {
    const out = new Float64Array(3);
    compileTreeShap(ensembleOf([tree]), 2).contributions(nan, 0, out);
    return out;
  };
  // Mean leaf 1·(2/8) - 1·(6/8) = -0.5: NaN to the true leaf gives +1.5, to the false leaf -0.5.
  assertClose(one(tracksTrue), [1.5, 0, -0.5], 1e-15, 'tracks true');
  assertClose(one(tracksFalse), [-0.5, 0, -0.5], 1e-15, 'tracks false (NaN <= t is false)');
  assertClose(one(neq), [0, 2, 0], 1e-15, 'NEQ: NaN != t');
  for (const tree of [tracksTrue, tracksFalse, neq]) {
    const e = ensembleOf([tree]);
    assertClose(one(tree), bruteForce(e, nan, 2), 1e-15, 'brute force');
  }
});

test('Linear TreeSHAP equals the reference recursion on random deep ensembles over 20 columns (up to 16 distinct on a path)', () => {
  let seed = 777;
  const rand = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const grow = (depth: number, columns: number): TreeNode =>
    depth === 0 || rand() < 0.08
      ? { leaf: rand() * 4 - 2, cover: 1 + Math.floor(rand() * 200) }
      : { f: Math.floor(rand() * columns), t: Math.floor(rand() * 10) / 10, tracks: rand() < 0.5 ? 1 : 0, yes: grow(depth - 1, columns), no: grow(depth - 1, columns) };
  let widest = 0;
  for (let trial = 0; trial < 12; trial++) {
    const columns = trial % 2 === 0 ? 20 : 5; // wide paths, or few columns split again and again
    const e = ensembleOf([grow(16, columns), grow(12, columns), grow(3, columns)], { base: rand() });
    widest = Math.max(widest, buildLinearTreeShapPlan(e, e.cover!).maxPathFeatures);
    const reference = compileTreeShapReference(e, 20);
    const linear = compileTreeShap(e, 20);
    const count = 40;
    const rows = Float32Array.from({ length: count * 20 }, () => (rand() < 0.1 ? NaN : Math.floor(rand() * 10) / 10 + 0.05));
    const batch = new Float64Array(count * 21);
    linear.contributionsBatch(rows, count, batch);
    const want = new Float64Array(21);
    const got = new Float64Array(21);
    for (let i = 0; i < count; i++) {
      reference.contributions(rows, i * 20, want);
      linear.contributions(rows, i * 20, got);
      assertClose(got, want, 1e-9, `trial ${trial} row ${i}`);
      assertClose(batch.subarray(i * 21, (i + 1) * 21), want, 1e-9, `trial ${trial} row ${i} (batch)`);
    }
  }
  assert.ok(widest >= 14, `the widest path has ${widest} distinct columns: the test does not reach deep rules`);
});

test('contributions read the row at an offset and overwrite (not accumulate) the output', () => {
  const e = ensembleOf([TREE_A, TREE_B]);
  const t = compileTreeShap(e, 4);
  const rows = Float32Array.from([9, 9, 0.3, 1, 2, 8, 9]);
  const out = new Float64Array(5).fill(7);
  t.contributions(rows, 2, out);
  assertClose(out, shap(e, Float32Array.from([0.3, 1, 2, 8]), 4), 0, 'offset row');
  t.contributions(rows, 2, out);
  assertClose(out, shap(e, Float32Array.from([0.3, 1, 2, 8]), 4), 0, 'second call');
  assert.throws(() => t.contributions(rows, 4, out), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_SCORING_FAILED');
});

/** Rows that reach every side of the ensemble's splits: values at, just below and above thresholds, and NaN. */
function rowsAroundThresholds(e: TreeEnsemble, width: number, count: number, seed: number): Float32Array {
  let state = seed;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const byColumn: number[][] = Array.from({ length: width }, () => []);
  for (let k = 0; k < e.nNodes; k++) if (e.mode[k] !== NodeMode.LEAF) byColumn[e.feature[k]!]!.push(e.threshold[k]!);
  const rows = new Float32Array(count * width);
  for (let i = 0; i < rows.length; i++) {
    const ts = byColumn[i % width]!;
    const u = rand();
    rows[i] = u < 0.1 || ts.length === 0 ? NaN : ts[Math.floor(rand() * ts.length)]! * (u < 0.4 ? 1 : u < 0.7 ? 1 + 1e-3 : 1 - 1e-3) + (u < 0.4 ? 0 : u < 0.7 ? 1e-4 : -1e-4);
  }
  return rows;
}

/** Asserts `a` and `b` give the same bits on every row, one row per call and in one batch. */
function assertSameBits(a: TreeShap, b: TreeShap, rows: Float32Array, width: number, what: string): void {
  const count = rows.length / width;
  const x = new Float64Array(width + 1);
  const y = new Float64Array(width + 1);
  for (let i = 0; i < count; i++) {
    a.contributions(rows, i * width, x);
    b.contributions(rows, i * width, y);
    assert.deepEqual([...x], [...y], `${what}: row ${i}`);
  }
  const bx = new Float64Array(count * (width + 1));
  const by = new Float64Array(count * (width + 1));
  a.contributionsBatch(rows, count, bx);
  b.contributionsBatch(rows, count, by);
  assert.deepEqual([...bx], [...by], `${what}: batch of ${count}`);
}

test('the build ships the WebAssembly kernel, and the engine uses it by default', () => {
  const kernel = wasmKernel();
  assert.ok(!('error' in kernel), 'error' in kernel ? kernel.error : '');
  const e = ensembleOf([TREE_A, TREE_B]);
  assert.equal(compileTreeShap(e, 4).kernel, 'linear-wasm');
  assert.equal(compileTreeShap(e, 4, 'x', 'wasm').kernel, 'linear-wasm');
  assert.equal(compileTreeShap(e, 4, 'x', 'js').kernel, 'linear-js');
});

test('the WebAssembly and JavaScript passes give the same bits: random ensembles with repeated columns, stumps, every node mode, NaN', () => {
  let seed = 4242;
  const rand = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const modes: NodeModeName[] = ['BRANCH_LEQ', 'BRANCH_LT', 'BRANCH_GTE', 'BRANCH_GT', 'BRANCH_EQ', 'BRANCH_NEQ'];
  const grow = (depth: number, columns: number, anyMode: boolean): TreeNode =>
    depth === 0 || rand() < 0.1
      ? { leaf: rand() * 4 - 2, cover: 1 + Math.floor(rand() * 200) }
      : {
          f: Math.floor(rand() * columns),
          t: Math.floor(rand() * 10) / 10,
          mode: anyMode ? modes[Math.floor(rand() * modes.length)]! : 'BRANCH_LEQ',
          tracks: rand() < 0.5 ? 1 : 0,
          yes: grow(depth - 1, columns, anyMode),
          no: grow(depth - 1, columns, anyMode),
        };
  // A path of `length` distinct columns, a leaf off each node: ceil(length / 2) points, odd ones padded.
  const caterpillar = (length: number, from: number): TreeNode =>
    length === 0 ? { leaf: rand() * 2 - 1, cover: 5 + Math.floor(rand() * 50) } : { f: (from + length) % width, t: 0.5, tracks: rand() < 0.5 ? 1 : 0, yes: { leaf: rand() * 2 - 1, cover: 1 + Math.floor(rand() * 50) }, no: caterpillar(length - 1, from) };
  const width = 20;
  const points = new Set<number>();
  for (let trial = 0; trial < 16; trial++) {
    // Few columns (split again and again down a path) or many; paths of up to 19 distinct columns
    // (2 to 10 points: the kernel's unrolled forms and its loop past 8), stumps and lone leaves.
    const columns = trial % 3 === 0 ? 3 : width;
    const trees = [grow(4 + (trial % 8), columns, trial % 2 === 1), grow(1, columns, true), { leaf: 0.5, cover: 10 }, caterpillar(trial + 4, trial), grow(6, columns, true)];
    const e = ensembleOf(trees, { base: rand() });
    buildLinearTreeShapPlan(e, e.cover!).treePoints.forEach((n) => points.add(n));
    const count = 50; // past the kernel's first I/O area (16 rows): the batch grows its memory
    const rows = Float32Array.from({ length: count * width }, () => (rand() < 0.15 ? NaN : Math.floor(rand() * 10) / 10 + (rand() < 0.5 ? 0 : 0.05)));
    const wasm = compileTreeShap(e, width, 'random', 'wasm');
    const js = compileTreeShap(e, width, 'random', 'js');
    assertSameBits(wasm, js, rows, width, `trial ${trial}`);
    // And both are the exact values.
    const reference = compileTreeShapReference(e, width);
    const want = new Float64Array(width + 1);
    const got = new Float64Array(width + 1);
    for (let i = 0; i < count; i++) {
      reference.contributions(rows, i * width, want);
      wasm.contributions(rows, i * width, got);
      assertClose(got, want, 1e-9, `trial ${trial} row ${i}`);
    }
  }
  for (const n of [2, 4, 6, 8, 10]) assert.ok(points.has(n), `no tree with ${n} points: [${[...points].sort((a, b) => a - b)}]`);
});

for (const dir of ['models/churn-gbdt/1.0.0', 'models/churn-gbdt/1.1.0', 'models/churn-gbdt/1.2.0', 'models/churn-gbdt/1.3.0']) {
  test(`${dir}: Linear TreeSHAP and the per-leaf tables equal the reference recursion, one row or a batch`, () => {
    const e = parseOnnxTreeEnsemble(readFileSync(join(dir, 'model.onnx')), dir);
    const width = e.nFeaturesUsed;
    const count = 60;
    const rows = rowsAroundThresholds(e, width, count, 7);
    const reference = compileTreeShapReference(e, width);
    const linear = compileTreeShap(e, width);
    const tables = compileTableTreeShap(e, width);
    const fewTables = compileTableTreeShap(e, width, dir, { maxTableBits: 4 });
    const want = new Float64Array(width + 1);
    const got = new Float64Array(width + 1);
    const batch = new Float64Array(count * (width + 1));
    let maxDiff = 0;
    let sizeable = 0;
    for (let i = 0; i < count; i++) {
      reference.contributions(rows, i * width, want);
      for (const tree of [linear, tables, fewTables]) {
        tree.contributions(rows, i * width, got);
        for (let j = 0; j <= width; j++) maxDiff = Math.max(maxDiff, Math.abs(got[j]! - want[j]!));
      }
      for (let j = 0; j < width; j++) if (Math.abs(want[j]!) > 1e-3) sizeable++;
    }
    for (const tree of [linear, tables]) {
      tree.contributionsBatch(rows, count, batch);
      for (let i = 0; i < count; i++) {
        tree.contributions(rows, i * width, got);
        assert.deepEqual([...batch.subarray(i * (width + 1), (i + 1) * (width + 1))], [...got], `row ${i}: a batch gives the single-row values bit for bit`);
      }
    }
    assert.ok(maxDiff < 1e-12, `max |fast - reference| = ${maxDiff}`);
    assert.equal(linear.kernel, 'linear-wasm');
    assertSameBits(linear, compileTreeShap(e, width, dir, 'js'), rows, width, `${dir} WebAssembly vs JavaScript`);
    assert.ok(sizeable > count * 5, `only ${sizeable} sizeable contributions: the rows do not exercise the trees`);
    // Table memory is bounded by maxTableBits: fewer table bits, fewer bytes (and every leaf still answers exactly).
    assert.ok(fewTables.memoryBytes < tables.memoryBytes, `${fewTables.memoryBytes} vs ${tables.memoryBytes}`);
    const leaves = e.mode.filter((m) => m === NodeMode.LEAF).length;
    assert.ok(fewTables.memoryBytes <= leaves * 8 * (1 << 4) + 64 * e.nNodes, `${fewTables.memoryBytes} bytes for ${leaves} leaves`);
    // Linear TreeSHAP holds five arrays of at most 8 points per edge (paths of ≤ 16 distinct columns) plus scratch.
    assert.ok(linear.memoryBytes < e.nNodes * (5 * 8 * 8 + 64) + 2 ** 20, `${linear.memoryBytes} bytes for ${e.nNodes} nodes`);
  });
}

test('contributionsBatch checks its sizes; node covers must be positive', () => {
  const e = ensembleOf([TREE_A, TREE_B]);
  const t = compileTreeShap(e, 4);
  assert.throws(() => t.contributionsBatch(new Float32Array(8), 3, new Float64Array(15)), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_SCORING_FAILED');
  assert.throws(() => t.contributionsBatch(new Float32Array(12), 3, new Float64Array(14)), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_SCORING_FAILED');
  const zero = { ...e, cover: Float64Array.from(e.cover!, (c, k) => (e.mode[k] === NodeMode.LEAF && c === 10 ? 0 : c)) };
  for (const compile of [compileTreeShap, compileTableTreeShap]) {
    assert.throws(() => compile(zero, 4, 'zero.onnx'), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_INVALID' && /zero\.onnx.*covers must be positive/.test(err.message));
  }
  assert.throws(() => compileTableTreeShap(e, 4, 'x', { maxTableBits: 25 }), (err: unknown) => err instanceof ChurnflowError && /maxTableBits/.test(err.message));
});

test('ensembles TreeSHAP cannot explain exactly are refused with CF_MODEL_INVALID', () => {
  const invalid = (fn: () => unknown, pattern: RegExp): void => {
    assert.throws(fn, (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_INVALID' && pattern.test(err.message));
  };
  invalid(() => compileTreeShap(ensembleOf([TREE_A], { covers: 'none' }), 4), /no node covers.*reexport-onnx/);
  invalid(() => ensembleOf([TREE_A], { covers: 'broken' }), /do not belong to these trees/);
  invalid(() => compileTreeShap(ensembleOf([TREE_A]), 3), /input column 3/);
  invalid(() => ensembleOf([{ f: 0, t: 1, mode: 'BRANCH_MEMBER' as NodeModeName, yes: { leaf: 1, cover: 1 }, no: { leaf: 2, cover: 1 } }]), /node mode 'BRANCH_MEMBER'.*supported/);
});

// ---- reasons ---------------------------------------------------------------------------------------

// Columns: a, a__missing, b, c, c__missing, d. Stumps give exactly representable SHAP values.
const stump = (f: number, hot: number): TreeNode => ({ f, t: 0.5, yes: { leaf: hot, cover: 1 }, no: { leaf: -hot, cover: 1 } });
const REASON_MANIFEST = {
  name: 'm',
  version: '1.0.0',
  features: [
    { name: 'b', impute: 0, missing_indicator: false },
    { name: 'a', impute: 0.2, missing_indicator: true },
    { name: 'c', impute: 0, missing_indicator: true },
    { name: 'd', impute: 0, missing_indicator: false },
  ],
  input_columns: ['b', 'a', 'a__missing', 'c', 'c__missing', 'd'],
} as unknown as ModelManifest;
// Row (b, a, a__missing, c, c__missing, d): b = 0.25, a missing (imputed 0.2, indicator 1), c missing.
const REASON_ROW = Float32Array.from([0.25, 0.2, 1, 0, 1, 0]);
function reasonEnsemble(): TreeEnsemble {
  return ensembleOf([
    stump(1, 0.5), // a <= 0.5: +0.5
    stump(2, -0.25), // a__missing = 1 > 0.5: +0.25
    stump(0, 0.5), // b: +0.5
    stump(0, 0.25), // b: +0.25 (b = a in total, bit for bit: ties break by name)
    stump(3, 0.125), // c: +0.125
    stump(4, 0.25), // c__missing = 1: -0.25, folded into c: -0.125
  ]);
}

test('reasons fold missing indicators into their feature, keep only positive ones, sort by contribution then name', () => {
  const ex = buildTreeExplainer(reasonEnsemble(), REASON_MANIFEST);
  assert.equal(ex.width, 6);
  assert.deepEqual(ex.features, ['b', 'a', 'c', 'd']);
  const phi = ex.contributions(REASON_ROW);
  assertClose(phi, [0.75, 0.5, 0.25, 0.125, -0.25, 0, 0], 1e-15, 'contributions');
  const raw = Float64Array.from([0.25, NaN, NaN, 0]);
  assert.deepEqual(ex.reasons(REASON_ROW, raw, 5), [
    { feature: 'a', value: null, contribution: 0.75 },
    { feature: 'b', value: 0.25, contribution: 0.75 },
  ]);
  assert.deepEqual(ex.reasons(REASON_ROW, raw, 1), [{ feature: 'a', value: null, contribution: 0.75 }]);
  assert.deepEqual(ex.reasons(REASON_ROW, raw, 0), []);
  // Without folding c would be a reason (+0.125); c__missing's -0.25 makes it a net negative.
  assert.ok(phi[3]! > 0 && phi[3]! + phi[4]! < 0);
  // Make c's indicator push up too: c now ranks, between the tie and nothing.
  const row2 = Float32Array.from([0.25, 0.2, 1, 0, 0, 0]);
  assert.deepEqual(
    ex.reasons(row2, Float64Array.from([0.25, NaN, 0, 0]), 3).map((r) => [r.feature, r.value, r.contribution]),
    [['a', null, 0.75], ['b', 0.25, 0.75], ['c', 0, 0.375]],
  );
  assert.throws(() => ex.reasons(REASON_ROW, raw.subarray(1), 3), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_INPUT_INVALID');
});

test('forSpec: reasons straight from a spec feature row (spec column order, NaN = missing)', () => {
  const ex = buildTreeExplainer(reasonEnsemble(), REASON_MANIFEST);
  const col = (name: string, missingIndicator: boolean): FeatureColumn => ({ name, feature: name, missingIndicator, kind: 'numeric' });
  const columns = [col('d', false), col('extra', false), col('c', true), col('a', true), col('b', false)];
  const bound = ex.forSpec(columns);
  const features = Float64Array.from([0, 42, NaN, NaN, 0.25]); // d, extra, c, a, b
  assert.deepEqual(bound.reasons(features, 5), ex.reasons(REASON_ROW, Float64Array.from([0.25, NaN, NaN, 0]), 5));
  assert.deepEqual(bound.reasons(features, 5).map((r) => r.feature), ['a', 'b']);
  assertClose(bound.contributions(features), ex.contributions(REASON_ROW), 0, 'contributions');
  // Several rows at once (grown buffers, then reused for a smaller batch): the same reasons row by row.
  const other = Float64Array.from([1, 0, 0.5, 0.1, NaN]);
  for (const batch of [[features, other, features, other], [other, features]]) {
    assert.deepEqual(bound.reasonsMany(batch, 5), batch.map((fs) => bound.reasons(fs, 5)));
    assert.deepEqual(bound.reasonsMany(batch, 1), batch.map((fs) => bound.reasons(fs, 1)));
  }
  assert.deepEqual(bound.reasonsMany([], 3), []);
  assert.throws(
    () => ex.forSpec(columns.filter((c) => c.name !== 'c')),
    (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_SPEC_MISMATCH',
  );
});

// ---- the ONNX reader -------------------------------------------------------------------------------

const BUNDLE = 'models/churn-gbdt/1.0.0';
const root = protobuf.Root.fromJSON(ONNX_ML_SUBSET_DESCRIPTOR as unknown as protobuf.INamespace);
const ModelProto = root.lookupType('onnx.ModelProto');

test(`reads the committed ${BUNDLE} model.onnx: same trees as lightgbm.txt, margins match onnxruntime`, async () => {
  const bytes = readFileSync(join(BUNDLE, 'model.onnx'));
  const e = parseOnnxTreeEnsemble(bytes, BUNDLE);
  const text = readFileSync(join(BUNDLE, 'lightgbm.txt'), 'utf8');
  const leaves = [...text.matchAll(/^num_leaves=(\d+)$/gm)].map((m) => Number(m[1]));
  assert.equal(e.nTrees, leaves.length);
  assert.equal(e.nNodes, leaves.reduce((n, l) => n + 2 * l - 1, 0));
  assert.deepEqual(e.output, { kind: 'binary-logit', positiveLabel: '1' });
  assert.ok(e.cover !== null);
  // Every tree's root covers the same training rows (LightGBM's internal_count of the root).
  const rootCovers = new Set([...e.roots].map((r) => e.cover![r]));
  assert.equal(rootCovers.size, 1);

  const manifest = await readManifest(BUNDLE);
  const ex = await createTreeExplainer({ dir: BUNDLE, manifest, onnxPath: join(BUNDLE, 'model.onnx') });
  const rows = manifest.reference_outputs!.rows;
  const width = manifest.input_columns.length;
  const flat = Float32Array.from(rows.flat());
  const session = await ort.InferenceSession.create(join(BUNDLE, 'model.onnx'), { intraOpNumThreads: 1 });
  const probs = (await session.run({ input: new ort.Tensor('float32', flat, [rows.length, width]) }, ['probabilities'])).probabilities!.data as Float32Array;
  await session.release();
  for (let i = 0; i < rows.length; i++) {
    const margin = ensembleMargin(e, flat, i * width);
    assert.ok(Math.abs(1 / (1 + Math.exp(-margin)) - probs[2 * i + 1]!) < 1e-6, `row ${i}: sigmoid(${margin}) vs ${probs[2 * i + 1]}`);
    const phi = ex.contributions(flat, i * width);
    assert.ok(Math.abs(phi.reduce((a, b) => a + b, 0) - margin) < 1e-9, `row ${i}: additivity`);
    assert.equal(phi[width], ex.expectedValue);
  }
});

test('a model.onnx without covers is refused with a clear error; covers for another op are too', async () => {
  const bytes = readFileSync(join(BUNDLE, 'model.onnx'));
  const model = ModelProto.decode(bytes) as unknown as { metadata_props: { key: string; value: string }[] };
  const covers = model.metadata_props.find((p) => p.key === TREE_COVERS_KEY)!;
  model.metadata_props = [];
  const stripped = ModelProto.encode(model as unknown as protobuf.Message).finish();
  const e = parseOnnxTreeEnsemble(stripped, 'stripped.onnx');
  assert.equal(e.cover, null);
  assert.throws(() => compileTreeShap(e, 58, 'stripped.onnx'), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_INVALID' && /stripped\.onnx.*no node covers/.test(err.message));

  model.metadata_props = [{ key: TREE_COVERS_KEY, value: covers.value.replace('"op":"TreeEnsembleClassifier"', '"op":"TreeEnsembleRegressor"') }];
  const wrongOp = ModelProto.encode(model as unknown as protobuf.Message).finish();
  assert.throws(() => parseOnnxTreeEnsemble(wrongOp, 'x.onnx'), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_INVALID' && /TreeEnsembleRegressor/.test(err.message));
  assert.throws(() => parseOnnxTreeEnsemble(Uint8Array.from([0xff, 0xff, 0xff]), 'junk.onnx'), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MODEL_INVALID');
});

test('reads a TreeEnsembleRegressor with tensor-valued thresholds and weights (ai.onnx.ml 3 style)', () => {
  const f64 = (values: number[]) => ({ data_type: 11, dims: [values.length], raw_data: new Uint8Array(Float64Array.from(values).buffer) });
  const f32 = (values: number[]) => ({ data_type: 1, dims: [values.length], float_data: values });
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  const strs = (name: string, v: string[]) => ({ name, type: 8, strings: v.map((s) => new TextEncoder().encode(s)) });
  // Tree 7: node 4 = (col 1 < 0.1) ? node 2 (leaf 10) : node 9 (leaf -2); covers 5 = 4 + 1. Tree 3: a single leaf.
  const model = {
    ir_version: 8,
    graph: {
      node: [
        { op_type: 'Identity', input: ['x'], output: ['y'] },
        {
          op_type: 'TreeEnsembleRegressor',
          domain: 'ai.onnx.ml',
          input: ['y'],
          output: ['out'],
          attribute: [
            ints('nodes_treeids', [7, 7, 7, 3]),
            ints('nodes_nodeids', [9, 4, 2, 0]),
            ints('nodes_featureids', [0, 1, 0, 0]),
            { name: 'nodes_values_as_tensor', type: 4, t: f64([0, 0.1, 0, 0]) },
            strs('nodes_modes', ['LEAF', 'BRANCH_LT', 'LEAF', 'LEAF']),
            ints('nodes_truenodeids', [0, 2, 0, 0]),
            ints('nodes_falsenodeids', [0, 9, 0, 0]),
            ints('target_treeids', [7, 7, 3]),
            ints('target_nodeids', [2, 9, 0]),
            ints('target_ids', [0, 0, 0]),
            { name: 'target_weights_as_tensor', type: 4, t: f32([10, -2, 0.5]) },
            { name: 'base_values', type: 6, floats: [1] },
            { name: 'n_targets', type: 2, i: 1 },
            { name: 'post_transform', type: 3, s: new TextEncoder().encode('NONE') },
          ],
        },
      ],
    },
    metadata_props: [{ key: TREE_COVERS_KEY, value: JSON.stringify({ format: TREE_COVERS_FORMAT, op: 'TreeEnsembleRegressor', covers: [1, 5, 4, 9] }) }],
  };
  const bytes = ModelProto.encode(ModelProto.fromObject(model)).finish();
  const e = parseOnnxTreeEnsemble(bytes, 'reg.onnx');
  assert.equal(e.inputName, 'y');
  assert.deepEqual(e.output, { kind: 'regression' });
  assert.equal(e.nTrees, 2);
  assert.equal(e.threshold[1], 0.1);
  // 1 (base) + 0.5 (single leaf) + tree 7.
  assert.equal(ensembleMargin(e, Float32Array.from([0, 0])), 11.5);
  assert.equal(ensembleMargin(e, Float32Array.from([0, 0.5])), -0.5);
  const phi = new Float64Array(3);
  compileTreeShap(e, 2).contributions(Float32Array.from([0, 0.5]), 0, phi);
  const bias = 1 + 0.5 + (4 * 10 + 1 * -2) / 5;
  assertClose(phi, [0, -2 - (4 * 10 + 1 * -2) / 5, bias], 1e-12, 'regressor');
});
