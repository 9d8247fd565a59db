// AssemblyScript (compiled to ../linear-tree-shap.wasm by `npm run build:wasm`, not by tsc): the per-tree
// pass of Linear TreeSHAP (see ../tree-shap.ts and ../linear-tree-shap-plan.ts for the algorithm), the
// same arithmetic in the same order as the JavaScript pass but two quadrature points per f64x2 SIMD
// instruction. Every tree has an even number of points, so a node's n values are n/2 whole vectors,
// and a dot product is summed per lane (even points, odd points) and then lane 0 + lane 1: the
// JavaScript pass sums in that order too, so both give bit-identical values.
//
// Memory is the host's (imported): ../wasm-tree-shap.ts copies the plan's arrays into it once and
// passes their byte addresses to layout(); rows and contributions are copied in and out per call.
// Nothing is allocated here, so the module needs no AssemblyScript runtime and has no data segment.

// Byte addresses of the plan's arrays (tree-local links, global node numbers; see LinearTreeShapPlan).
let treeStartP: usize = 0; // i32 per tree + 1
let treeBranchesP: usize = 0; // i32 per tree
let treePointsP: usize = 0; // i32 per tree
let splitP: usize = 0; // i32 per node
let modeP: usize = 0; // u8 per node
let thresholdP: usize = 0; // f64 per node
let nanTrueP: usize = 0; // u8 per node
let trueChildP: usize = 0; // i32 per node
let falseChildP: usize = 0; // i32 per node
let parentP: usize = 0; // i32 per node
let isTrueEdgeP: usize = 0; // u8 per node
let edgeFeatureP: usize = 0; // i32 per node
let prevP: usize = 0; // i32 per node
let coefAtP: usize = 0; // i32 per node: the byte address of its five n-point blocks
let zeroP: usize = 0; // maxPoints zero f64: the φ weights of an edge cold under a cold prev
// Scratch, per tree-local node: P and G at the points, hot edge (u8, plus a sentinel slot that stays 1),
// byte address of the edge's φ weights, the row takes the true child (u8).
let polyP: usize = 0;
let sumsP: usize = 0;
let hotP: usize = 0;
let hotSentinel: i32 = 0;
let weightsP: usize = 0;
let takesTrueP: usize = 0;
let nTrees: i32 = 0;

export function layout(
  trees: i32, treeStart: usize, treeBranches: usize, treePoints: usize, split: usize, mode: usize, threshold: usize, nanTrue: usize,
  trueChild: usize, falseChild: usize, parent: usize, isTrueEdge: usize, edgeFeature: usize, prev: usize, coefAt: usize, zero: usize,
  poly: usize, sums: usize, hot: usize, sentinel: i32, weights: usize, takesTrue: usize,
): void {
  nTrees = trees;
  treeStartP = treeStart;
  treeBranchesP = treeBranches;
  treePointsP = treePoints;
  splitP = split;
  modeP = mode;
  thresholdP = threshold;
  nanTrueP = nanTrue;
  trueChildP = trueChild;
  falseChildP = falseChild;
  parentP = parent;
  isTrueEdgeP = isTrueEdge;
  edgeFeatureP = edgeFeature;
  prevP = prev;
  coefAtP = coefAt;
  zeroP = zero;
  polyP = poly;
  sumsP = sums;
  hotP = hot;
  hotSentinel = sentinel;
  weightsP = weights;
  takesTrueP = takesTrue;
}

/**
 * Contributions of `count` rows (f32, `width` columns each, at `rows`) into out (f64, width + 1 per
 * row, overwritten, the bias last), tree by tree so a tree's coefficients stay in cache across rows.
 */
export function explain(rows: usize, count: i32, width: i32, out: usize, bias: f64): void {
  const outStride = <usize>(width + 1) << 3;
  memory.fill(out, 0, outStride * <usize>count);
  for (let t = 0; t < nTrees; t++) {
    for (let i = 0; i < count; i++) explainTree(t, rows + ((<usize>(i * width)) << 2), out + outStride * <usize>i);
  }
  for (let i = 0; i < count; i++) store<f64>(out + outStride * <usize>i + (<usize>width << 3), bias);
}

@inline function i32At(base: usize, g: i32): i32 {
  return load<i32>(base + (<usize>g << 2));
}

/** Adds tree t's share of the row at `row` to out. */
function explainTree(t: i32, row: usize, out: usize): void {
  const s = i32At(treeStartP, t);
  const m = i32At(treeStartP, t + 1) - s;
  const nb = i32At(treeBranchesP, t);
  const nB = <usize>i32At(treePointsP, t) << 3; // bytes of one node's n values
  // Down over the branches: P of each from its parent's, and the row's direction at each.
  const ones = f64x2.splat(1.0);
  for (let k: usize = 0; k < nB; k += 16) v128.store(polyP + k, ones);
  store<u8>(takesTrueP, takesTrueAt(s, row));
  for (let j = 1; j < nb; j++) {
    const g = s + j;
    const c = factorsOf(g, j, nB);
    const at = polyP + <usize>j * nB;
    const from = polyP + <usize>i32At(parentP, g) * nB;
    for (let k: usize = 0; k < nB; k += 16) v128.store(at + k, f64x2.mul(v128.load(from + k), v128.load(c + k)));
    store<u8>(takesTrueP + <usize>j, takesTrueAt(g, row));
  }
  // The leaves: G = (v · factor) · P(parent), and their edge's share at once.
  for (let j = nb; j < m; j++) {
    const g = s + j;
    const c = factorsOf(g, j, nB);
    const w = <usize>load<i32>(weightsP + (<usize>j << 2));
    const at = sumsP + <usize>j * nB;
    const from = polyP + <usize>i32At(parentP, g) * nB;
    let acc = f64x2.splat(0);
    for (let k: usize = 0; k < nB; k += 16) {
      const pk = v128.load(from + k);
      v128.store(at + k, f64x2.mul(pk, v128.load(c + k)));
      acc = f64x2.add(acc, f64x2.mul(pk, v128.load(w + k)));
    }
    const o = out + (<usize>i32At(edgeFeatureP, g) << 3);
    store<f64>(o, load<f64>(o) + (f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1)));
  }
  // Up over the branches (children first): G from the children's, and the share of the edge into it.
  for (let j = nb - 1; j > 0; j--) {
    const g = s + j;
    const w = <usize>load<i32>(weightsP + (<usize>j << 2));
    const at = sumsP + <usize>j * nB;
    const a = sumsP + <usize>i32At(trueChildP, g) * nB;
    const b = sumsP + <usize>i32At(falseChildP, g) * nB;
    let acc = f64x2.splat(0);
    for (let k: usize = 0; k < nB; k += 16) {
      const gk = f64x2.add(v128.load(a + k), v128.load(b + k));
      v128.store(at + k, gk);
      acc = f64x2.add(acc, f64x2.mul(gk, v128.load(w + k)));
    }
    const o = out + (<usize>i32At(edgeFeatureP, g) << 3);
    store<f64>(o, load<f64>(o) + (f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1)));
  }
}

/**
 * The edge into local node j (global g) for this row: records whether it is hot and where its φ
 * weights are (the zero block when it is cold under a cold prev), returns where its P multipliers are.
 * Block order at the node's address: hot factors, cold factors, hot weights, cold weights, z / z_prev.
 */
@inline function factorsOf(g: i32, j: i32, nB: usize): usize {
  const c = <usize>i32At(coefAtP, g);
  const p = i32At(prevP, g);
  const prevHot = <i32>load<u8>(hotP + <usize>(p < 0 ? hotSentinel : p));
  const q = i32At(parentP, g);
  const h = prevHot & (<i32>load<u8>(isTrueEdgeP + <usize>g) ^ <i32>load<u8>(takesTrueP + <usize>q) ^ 1);
  store<u8>(hotP + <usize>j, <u8>h);
  store<i32>(weightsP + (<usize>j << 2), <i32>(prevHot ? c + <usize>(3 - h) * nB : zeroP));
  return c + <usize>(prevHot ? 1 - h : 4) * nB;
}

/** 1 when the row takes branch g's true child (NaN by the node's missing rule; ONNX node modes). */
@inline function takesTrueAt(g: i32, row: usize): i32 {
  const x = <f64>load<f32>(row + (<usize>i32At(splitP, g) << 2));
  if (x != x) return <i32>load<u8>(nanTrueP + <usize>g);
  const th = load<f64>(thresholdP + (<usize>g << 3));
  switch (<i32>load<u8>(modeP + <usize>g)) {
    case 1: return <i32>(x <= th); // BRANCH_LEQ (all LightGBM writes)
    case 2: return <i32>(x < th);
    case 3: return <i32>(x >= th);
    case 4: return <i32>(x > th);
    case 5: return <i32>(x == th);
    default: return <i32>(x != th); // BRANCH_NEQ
  }
}
