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

// Byte addresses of the plan's arrays (tree-local links, global node numbers; see LinearTreeShapPlan),
// packed by ../wasm-tree-shap.ts so that what one node's step reads is one or two records:
//   edges, 16 bytes per node: +0 byte address of its coefficient blocks (five n-point ones, or for a
//     branch whose multipliers are computed z twice and the hot φ weights; see
//     ../wasm-coefficients.ts), +4 parent, +8 prev (the hot sentinel slot when there is none), +12
//     (input column of the edge << 2) | 2 when the multipliers are computed | 1 when the node is its
//     parent's true child;
//   tests, 16 bytes per node: +0 threshold (f32, ../float32-threshold.ts), +8 byte offset of its input
//     column in a row (f32), +12 node mode (u8), +13 1 when NaN takes the true child (u8);
//   children, 8 bytes per node: +0 true child, +4 false child.
let treeStartP: usize = 0; // i32 per tree + 1
let treeBranchesP: usize = 0; // i32 per tree
let treePointsP: usize = 0; // i32 per tree
let treeRuleP: usize = 0; // i32 per tree: byte address of its rule's t, 1 − t and shared cold φ weights (n each)
let edgesP: usize = 0;
let testsP: usize = 0;
let childrenP: usize = 0;
let zeroP: usize = 0; // maxPoints zero f64: the φ weights of an edge cold under a cold prev
// Scratch, per tree-local node: P and G at the points, hot edge (u8, plus a sentinel slot that stays 1),
// byte address of the edge's φ weights, the row takes the true child (u8).
let polyP: usize = 0;
let sumsP: usize = 0;
let hotP: usize = 0;
let weightsP: usize = 0;
let takesTrueP: usize = 0;
let nTrees: i32 = 0;

export function layout(
  trees: i32, treeStart: usize, treeBranches: usize, treePoints: usize, treeRule: usize, edges: usize, tests: usize, children: usize, zero: usize,
  poly: usize, sums: usize, hot: usize, weights: usize, takesTrue: usize,
): void {
  nTrees = trees;
  treeStartP = treeStart;
  treeBranchesP = treeBranches;
  treePointsP = treePoints;
  treeRuleP = treeRule;
  edgesP = edges;
  testsP = tests;
  childrenP = children;
  zeroP = zero;
  polyP = poly;
  sumsP = sums;
  hotP = hot;
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

/**
 * Adds tree t's share of the row at `row` to out. The pass is compiled once per common point count
 * (2, 4, 6, 8: a constant byte count makes every per-node vector loop straight-line code with
 * immediate offsets, which is most of the pass's instructions) and once with loops for the rest.
 */
function explainTree(t: i32, row: usize, out: usize): void {
  const n = i32At(treePointsP, t);
  if (n == 4) explainTree4(t, row, out);
  else if (n == 6) explainTree6(t, row, out);
  else if (n == 2) explainTree2(t, row, out);
  else if (n == 8) explainTree8(t, row, out);
  else explainTreeN(t, row, out, <usize>n << 3);
}

function explainTree2(t: i32, row: usize, out: usize): void {
  explainTreeWith(t, row, out, 16);
}
function explainTree4(t: i32, row: usize, out: usize): void {
  explainTreeWith(t, row, out, 32);
}
function explainTree6(t: i32, row: usize, out: usize): void {
  explainTreeWith(t, row, out, 48);
}
function explainTree8(t: i32, row: usize, out: usize): void {
  explainTreeWith(t, row, out, 64);
}
function explainTreeN(t: i32, row: usize, out: usize, nB: usize): void {
  explainTreeWith(t, row, out, nB);
}

/** at[0 .. nB) = a * b, f64x2 by f64x2 (unrolled up to 8 points when nB is a constant, a loop past them). */
@inline function mulInto(at: usize, a: usize, b: usize, nB: usize): void {
  v128.store(at, f64x2.mul(v128.load(a), v128.load(b)));
  if (nB > 16) v128.store(at, f64x2.mul(v128.load(a, 16), v128.load(b, 16)), 16);
  if (nB > 32) v128.store(at, f64x2.mul(v128.load(a, 32), v128.load(b, 32)), 32);
  if (nB > 48) v128.store(at, f64x2.mul(v128.load(a, 48), v128.load(b, 48)), 48);
  if (nB > 64) for (let k: usize = 64; k < nB; k += 16) v128.store(at + k, f64x2.mul(v128.load(a + k), v128.load(b + k)));
}

/**
 * at[0 .. nB) = a * (z(1 − t) + (hot ? t : 0)): the multipliers of a branch without prev, from z at c
 * (twice, a vector) and t, 1 − t at rule; the plan's operations, so its values to the bit.
 */
@inline function computedInto(at: usize, a: usize, c: usize, rule: usize, h: i32, nB: usize): void {
  const z = v128.load(c);
  const hot = i64x2.splat(-(<i64>h));
  const oneMinusT = rule + nB;
  v128.store(at, f64x2.mul(v128.load(a), f64x2.add(f64x2.mul(z, v128.load(oneMinusT)), v128.and(v128.load(rule), hot))));
  if (nB > 16) v128.store(at, f64x2.mul(v128.load(a, 16), f64x2.add(f64x2.mul(z, v128.load(oneMinusT, 16)), v128.and(v128.load(rule, 16), hot))), 16);
  if (nB > 32) v128.store(at, f64x2.mul(v128.load(a, 32), f64x2.add(f64x2.mul(z, v128.load(oneMinusT, 32)), v128.and(v128.load(rule, 32), hot))), 32);
  if (nB > 48) v128.store(at, f64x2.mul(v128.load(a, 48), f64x2.add(f64x2.mul(z, v128.load(oneMinusT, 48)), v128.and(v128.load(rule, 48), hot))), 48);
  if (nB > 64) {
    for (let k: usize = 64; k < nB; k += 16) {
      v128.store(at + k, f64x2.mul(v128.load(a + k), f64x2.add(f64x2.mul(z, v128.load(oneMinusT + k)), v128.and(v128.load(rule + k), hot))));
    }
  }
}

/** at = p * f and returns Σ p * w, per lane in point order (lane 0 + lane 1 is the JavaScript pass's even + odd). */
@inline function leafInto(at: usize, p: usize, f: usize, w: usize, nB: usize): f64 {
  let pk = v128.load(p);
  v128.store(at, f64x2.mul(pk, v128.load(f)));
  let acc = f64x2.mul(pk, v128.load(w));
  if (nB > 16) {
    pk = v128.load(p, 16);
    v128.store(at, f64x2.mul(pk, v128.load(f, 16)), 16);
    acc = f64x2.add(acc, f64x2.mul(pk, v128.load(w, 16)));
  }
  if (nB > 32) {
    pk = v128.load(p, 32);
    v128.store(at, f64x2.mul(pk, v128.load(f, 32)), 32);
    acc = f64x2.add(acc, f64x2.mul(pk, v128.load(w, 32)));
  }
  if (nB > 48) {
    pk = v128.load(p, 48);
    v128.store(at, f64x2.mul(pk, v128.load(f, 48)), 48);
    acc = f64x2.add(acc, f64x2.mul(pk, v128.load(w, 48)));
  }
  if (nB > 64) for (let k: usize = 64; k < nB; k += 16) {
    pk = v128.load(p + k);
    v128.store(at + k, f64x2.mul(pk, v128.load(f + k)));
    acc = f64x2.add(acc, f64x2.mul(pk, v128.load(w + k)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** at = a + b and returns Σ at * w, per lane in point order. */
@inline function branchInto(at: usize, a: usize, b: usize, w: usize, nB: usize): f64 {
  let gk = f64x2.add(v128.load(a), v128.load(b));
  v128.store(at, gk);
  let acc = f64x2.mul(gk, v128.load(w));
  if (nB > 16) {
    gk = f64x2.add(v128.load(a, 16), v128.load(b, 16));
    v128.store(at, gk, 16);
    acc = f64x2.add(acc, f64x2.mul(gk, v128.load(w, 16)));
  }
  if (nB > 32) {
    gk = f64x2.add(v128.load(a, 32), v128.load(b, 32));
    v128.store(at, gk, 32);
    acc = f64x2.add(acc, f64x2.mul(gk, v128.load(w, 32)));
  }
  if (nB > 48) {
    gk = f64x2.add(v128.load(a, 48), v128.load(b, 48));
    v128.store(at, gk, 48);
    acc = f64x2.add(acc, f64x2.mul(gk, v128.load(w, 48)));
  }
  if (nB > 64) for (let k: usize = 64; k < nB; k += 16) {
    gk = f64x2.add(v128.load(a + k), v128.load(b + k));
    v128.store(at + k, gk);
    acc = f64x2.add(acc, f64x2.mul(gk, v128.load(w + k)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** The pass over tree t with nB bytes (n points, n even) per node. */
@inline function explainTreeWith(t: i32, row: usize, out: usize, nB: usize): void {
  // The array addresses in locals: a mutable global is a memory load per use in the compiled code.
  const edges = edgesP;
  const tests = testsP;
  const hot = hotP;
  const takesTrue = takesTrueP;
  const weights = weightsP;
  const poly = polyP;
  const sums = sumsP;
  const zero = zeroP;
  const s = i32At(treeStartP, t);
  const m = i32At(treeStartP, t + 1) - s;
  const nb = i32At(treeBranchesP, t);
  const rule = <usize>i32At(treeRuleP, t);
  // Down over the branches: P of each from its parent's, and the row's direction at each.
  const ones = f64x2.splat(1.0);
  for (let k: usize = 0; k < nB; k += 16) v128.store(poly + k, ones);
  store<u8>(takesTrue, takesTrueAt(tests + (<usize>s << 4), row));
  for (let j = 1; j < nb; j++) {
    const g = s + j;
    const e = edges + (<usize>g << 4);
    // The edge into j: hot when its prev on the column is hot (prev links to a slot that stays 1 when
    // there is none) and the row takes it. Block order at c: hot factors, hot weights, cold factors,
    // cold weights, z / z_prev; the weights of an edge cold under a cold prev are the zero block.
    const c = <usize>load<i32>(e);
    const q = load<i32>(e, 4);
    const flags = load<i32>(e, 12);
    const prevHot = <i32>load<u8>(hot + <usize>load<i32>(e, 8));
    const h = prevHot & ((flags & 1) ^ <i32>load<u8>(takesTrue + <usize>q) ^ 1);
    store<u8>(hot + <usize>j, <u8>h);
    if (flags & 2) {
      // No prev (so hot is whether the row takes the edge): multipliers from z, the rule's cold weights.
      store<i32>(weights + (<usize>j << 2), <i32>select<usize>(c + 16, rule + 2 * nB, h));
      computedInto(poly + <usize>j * nB, poly + <usize>q * nB, c, rule, h, nB);
    } else {
      store<i32>(weights + (<usize>j << 2), <i32>select<usize>(c + <usize>(3 - 2 * h) * nB, zero, prevHot));
      mulInto(poly + <usize>j * nB, poly + <usize>q * nB, c + <usize>select<i32>(2 - 2 * h, 4, prevHot) * nB, nB);
    }
    store<u8>(takesTrue + <usize>j, takesTrueAt(tests + (<usize>g << 4), row));
  }
  // The leaves: G = (v · factor) · P(parent), and their edge's share at once (no node's prev is a leaf:
  // nothing to record).
  for (let j = nb; j < m; j++) {
    const e = edges + (<usize>(s + j) << 4);
    const c = <usize>load<i32>(e);
    const q = load<i32>(e, 4);
    const prevHot = <i32>load<u8>(hot + <usize>load<i32>(e, 8));
    const column = load<i32>(e, 12);
    const h = prevHot & ((column & 1) ^ <i32>load<u8>(takesTrue + <usize>q) ^ 1);
    const w = select<usize>(c + <usize>(3 - 2 * h) * nB, zero, prevHot);
    const share = leafInto(sums + <usize>j * nB, poly + <usize>q * nB, c + <usize>select<i32>(2 - 2 * h, 4, prevHot) * nB, w, nB);
    const o = out + (<usize>(column >>> 2) << 3);
    store<f64>(o, load<f64>(o) + share);
  }
  // Up over the branches (children first): G from the children's, and the share of the edge into it.
  const children = childrenP;
  for (let j = nb - 1; j > 0; j--) {
    const g = s + j;
    const w = <usize>load<i32>(weights + (<usize>j << 2));
    const kids = children + (<usize>g << 3);
    const share = branchInto(sums + <usize>j * nB, sums + <usize>load<i32>(kids) * nB, sums + <usize>load<i32>(kids, 4) * nB, w, nB);
    const o = out + (<usize>(load<i32>(edges + (<usize>g << 4), 12) >>> 2) << 3);
    store<f64>(o, load<f64>(o) + share);
  }
}

/**
 * 1 when the row takes the true child of the branch whose test record is at `test` (NaN by the node's
 * missing rule; ONNX node modes). Compared in float32: the record's threshold splits float32 inputs
 * as the node's float64 one does (../float32-threshold.ts), and the rows are float32.
 */
@inline function takesTrueAt(test: usize, row: usize): i32 {
  const x = load<f32>(row + <usize>load<i32>(test, 8));
  const th = load<f32>(test);
  const mode = <i32>load<u8>(test, 12);
  // LEQ (every node LightGBM writes) without a branch: NaN fails the comparison and takes the node's rule.
  if (mode == 1) return <i32>(x <= th) | (<i32>(x != x) & <i32>load<u8>(test, 13));
  if (x != x) return <i32>load<u8>(test, 13);
  switch (mode) {
    case 2: return <i32>(x < th);
    case 3: return <i32>(x >= th);
    case 4: return <i32>(x > th);
    case 5: return <i32>(x == th);
    default: return <i32>(x != th); // BRANCH_NEQ
  }
}
