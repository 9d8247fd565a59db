// Exact path-dependent TreeSHAP (the values of Lundberg et al. 2018, Algorithm 2, and of LightGBM's
// `pred_contrib`) by Linear TreeSHAP (Yu, Bhattacharya, Mukherjee et al., NeurIPS 2022): per tree,
// one pass down the branches carries each node's path polynomial P at the tree's quadrature points;
// one over the leaves and one back up the branches sum the leaves' v·P into G and add each edge's
// share of its column's value (a dot product of G with precomputed weights). O(nodes · points) per
// row, points = ceil(distinct path columns / 2) rounded up to even, instead of the reference's
// O(leaves · depth²) (tree-shap-reference.ts, kept as the tests' oracle). The derivation and the tabulated factors are
// in linear-tree-shap-plan.ts. It explains the ensemble's margin (log-odds for the churn
// classifier): contributions per input column plus the bias (expected margin over the training
// data, weighted by node covers) add up to the margin of the row. Runs once per explained risk
// event: nothing is allocated per row. The engine runs the same pass compiled to WebAssembly with
// SIMD (wasm-tree-shap.ts); this JavaScript one is the fallback where that module cannot load.
import { ChurnflowError } from '../../errors.js';
import { goesFalse } from './branch-test.js';
import { buildLinearTreeShapPlan, type LinearTreeShapPlan } from './linear-tree-shap-plan.js';
import { NodeMode, type TreeEnsemble } from './onnx-tree-ensemble.js';
import { checkBatchArgs, checkContributionArgs } from './contribution-args.js';
import { compileWasmTreeShap, wasmKernel } from './wasm-tree-shap.js';

export interface TreeShap {
  /** Input columns explained (contributions have width + 1 entries, the bias last). */
  readonly width: number;
  /** The bias: base value + each tree's cover-weighted mean leaf value. */
  readonly expectedValue: number;
  /** Bytes of precomputed tables and scratch held for this ensemble. */
  readonly memoryBytes: number;
  /** Which implementation computes the values (the engine's: linear-wasm, or linear-js where WebAssembly is unavailable). */
  readonly kernel: 'linear-wasm' | 'linear-js' | 'tables' | 'reference';
  /** The plan the WebAssembly pass runs (linear-wasm): a worker thread builds the same pass from it (shap-worker.ts). */
  readonly plan?: LinearTreeShapPlan;
  /**
   * Writes the SHAP values of the row at `row[offset .. offset+width)` into out[0 .. width) and the bias
   * into out[width] (out is overwritten, not accumulated into). Synchronous; scratch space is reused.
   */
  contributions(row: Float32Array, offset: number, out: Float64Array): void;
  /**
   * The same for `count` rows at rows[i*width ..], values at out[i*(width+1) ..]. Tree by tree, so a
   * tree's tables stay in cache across the rows: cheaper per row than one call per row.
   */
  contributionsBatch(rows: Float32Array, count: number, out: Float64Array): void;
}

/** Checks what exact TreeSHAP needs from `e` and returns its covers and bias (shared with the reference). */
export function checkedCoversAndBias(e: TreeEnsemble, width: number, source: string): { cover: Float64Array; expectedValue: number } {
  const cover = e.cover;
  if (cover === null) {
    throw new ChurnflowError(
      'CF_MODEL_INVALID',
      `${source}: the tree ensemble carries no node covers (ONNX metadata 'churnflow.tree_covers'), which exact TreeSHAP needs; re-export the bundle with 'python -m churnflow_trainer reexport-onnx --bundle <dir>' or retrain it`,
    );
  }
  if (!Number.isInteger(width) || width < e.nFeaturesUsed) {
    throw new ChurnflowError('CF_MODEL_INVALID', `${source}: the trees test input column ${e.nFeaturesUsed - 1}, but rows have ${width} columns`);
  }
  // What LightGBM's Tree::ExpectedValue sums per tree (sum of leaf cover / root cover * leaf value).
  let expectedValue = e.baseValue;
  const stack: number[] = [];
  for (const r of e.roots) {
    if (e.mode[r] === NodeMode.LEAF) {
      expectedValue += e.value[r]!;
      continue;
    }
    let ev = 0;
    stack.push(r);
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (e.mode[k] === NodeMode.LEAF) ev += (cover[k]! / cover[r]!) * e.value[k]!;
      else stack.push(e.trueChild[k]!, e.falseChild[k]!);
    }
    expectedValue += ev;
  }
  return { cover, expectedValue };
}

/**
 * Which pass runs: 'auto' the WebAssembly one when its module loads (SIMD needed; Node 20 has it) and
 * the JavaScript one otherwise; 'wasm' fails (CF_SCORING_FAILED) rather than fall back; 'js' always
 * JavaScript. Both give the same bits.
 */
export type TreeShapKernel = 'auto' | 'wasm' | 'js';

/** Prepares TreeSHAP over `e` for rows of `width` input columns. Throws CF_MODEL_INVALID without covers. */
export function compileTreeShap(e: TreeEnsemble, width: number, source = 'tree ensemble', kernel: TreeShapKernel = 'auto'): TreeShap {
  const { cover, expectedValue } = checkedCoversAndBias(e, width, source);
  const plan = buildLinearTreeShapPlan(e, cover, source);
  if (kernel === 'wasm') return compileWasmTreeShap(plan, width, expectedValue);
  if (kernel === 'auto') {
    const wasm = wasmKernel();
    if (!('error' in wasm)) return compileWasmTreeShap(plan, width, expectedValue);
    warnFallbackOnce(wasm.error);
  }
  return compileJsTreeShap(plan, width, expectedValue);
}

let fallbackWarned = false;
/** A missing kernel (a build without `npm run build:wasm`) costs ≈4× per explained row: say so once rather than silently. */
function warnFallbackOnce(reason: string): void {
  if (fallbackWarned) return;
  fallbackWarned = true;
  process.emitWarning(`TreeSHAP runs the JavaScript pass (4.6–7× slower a row on the bundled models, npm run bench -- treeshap): the WebAssembly kernel is not available (${reason}); run 'npm run build'`, { code: 'CF_TREESHAP_FALLBACK' });
}

/** The JavaScript pass (the fallback, and the bench's baseline for the WebAssembly one). */
function compileJsTreeShap(plan: LinearTreeShapPlan, width: number, expectedValue: number): TreeShap {
  const { nTrees, treeStart, treeBranches, treePoints, split, mode, threshold, nanTrue, trueChild, falseChild, parent, isTrueEdge, edgeFeature, prev, coefAt, coef } = plan;
  // Per tree-local node: P and G at the points (node j at j * points), 1 when its edge is hot (a slot
  // past the nodes stays 1: "no prev" reads as a hot prev), where its edge's φ weights are in coef, 1
  // when the row takes its true child.
  const poly = new Float64Array(plan.maxTreeNodes * plan.maxPoints);
  const sums = new Float64Array((plan.maxTreeNodes + 2) * plan.maxPoints); // and the zero slot (a twig's folded leaf)
  const hotSentinel = plan.maxTreeNodes;
  const hot = new Uint8Array(plan.maxTreeNodes + 1).fill(1);
  const weights = new Int32Array(plan.maxTreeNodes);
  const takesTrue = new Uint8Array(plan.maxTreeNodes);
  const memoryBytes = plan.bytes + poly.byteLength + sums.byteLength + hot.byteLength + weights.byteLength + takesTrue.byteLength;

  /** Adds tree ti's share of the row at row[ro ..] to out[oo ..]. */
  function explainTree(ti: number, row: Float32Array, ro: number, out: Float64Array, oo: number): void {
    const s = treeStart[ti]!;
    const m = treeStart[ti + 1]! - s;
    const nb = treeBranches[ti]!;
    const n = treePoints[ti]!;
    // Down over the branches: P of each from its parent's, and the row's direction at each.
    for (let k = 0; k < n; k++) poly[k] = 1;
    takesTrue[0] = takesTrueAt(s, row[ro + split[s]!]!);
    for (let j = 1; j < nb; j++) {
      const g = s + j;
      const c = factorsOf(g, j, n);
      const at = j * n;
      const from = parent[g]! * n;
      for (let k = 0; k < n; k++) poly[at + k] = poly[from + k]! * coef[c + k]!;
      takesTrue[j] = takesTrueAt(g, row[ro + split[g]!]!);
    }
    // The leaves: G = (v · factor) · P(parent) in place, and their edge's share at once.
    for (let j = nb; j < m; j++) {
      const g = s + j;
      const c = factorsOf(g, j, n);
      const w = weights[j]!;
      const at = j * n;
      const from = parent[g]! * n;
      // Two sums, even and odd points, added last: the WebAssembly pass's f64x2 lanes, so both agree to the bit.
      let even = 0;
      let odd = 0;
      for (let k = 0; k < n; k += 2) {
        const pk = poly[from + k]!;
        const pl = poly[from + k + 1]!;
        sums[at + k] = pk * coef[c + k]!;
        sums[at + k + 1] = pl * coef[c + k + 1]!;
        even += pk * coef[w + k]!;
        odd += pl * coef[w + k + 1]!;
      }
      const o = oo + edgeFeature[g]!;
      out[o] = out[o]! + (even + odd);
    }
    // Up over the branches (children first): G from the children's, and the share of the edge into it.
    for (let j = nb - 1; j > 0; j--) {
      const g = s + j;
      const w = weights[j]!;
      const at = j * n;
      const a = trueChild[g]! * n;
      const b = falseChild[g]! * n;
      let even = 0;
      let odd = 0;
      for (let k = 0; k < n; k += 2) {
        const gk = sums[a + k]! + sums[b + k]!;
        const gl = sums[a + k + 1]! + sums[b + k + 1]!;
        sums[at + k] = gk;
        sums[at + k + 1] = gl;
        even += gk * coef[w + k]!;
        odd += gl * coef[w + k + 1]!;
      }
      const o = oo + edgeFeature[g]!;
      out[o] = out[o]! + (even + odd);
    }
  }

  /**
   * The edge into local node j (global g) for this row: records whether it is hot, where its φ weights
   * are (the zero block when it is cold under a cold prev) and returns where its P multipliers are.
   * Arithmetic rather than branches: whether an edge is hot is data, about half the time each way.
   */
  function factorsOf(g: number, j: number, n: number): number {
    const c = coefAt[g]!;
    const p = prev[g]!;
    const prevHot = hot[p < 0 ? hotSentinel : p]!;
    const q = parent[g]!;
    const h = prevHot & (isTrueEdge[g]! ^ takesTrue[q]! ^ 1);
    hot[j] = h;
    // hot: factors at c, weights c + n; cold: c + 2n, c + 3n; cold under a cold prev: c + 4n, the zero block.
    weights[j] = prevHot * (c + (3 - 2 * h) * n);
    return c + (prevHot === 1 ? 2 - 2 * h : 4) * n;
  }

  /** 1 when the row's value x takes branch g's true child (NaN by the node's missing rule). */
  function takesTrueAt(g: number, x: number): number {
    return x !== x ? nanTrue[g]! : 1 - goesFalse(mode[g]!, x, threshold[g]!);
  }

  return {
    width,
    expectedValue,
    memoryBytes,
    kernel: 'linear-js',
    contributions(row, offset, out) {
      checkContributionArgs(width, row, offset, out);
      out.fill(0, 0, width);
      for (let t = 0; t < nTrees; t++) explainTree(t, row, offset, out, 0);
      out[width] = expectedValue;
    },
    contributionsBatch(rows, count, out) {
      checkBatchArgs(width, rows, count, out);
      out.fill(0, 0, count * (width + 1));
      for (let t = 0; t < nTrees; t++) {
        for (let i = 0; i < count; i++) explainTree(t, rows, i * width, out, i * (width + 1));
      }
      for (let i = 0; i < count; i++) out[i * (width + 1) + width] = expectedValue;
    },
  };
}
