// Per-tree precomputation for Linear TreeSHAP (Yu et al., NeurIPS 2022), as flat typed arrays.
//
// Path-dependent TreeSHAP gives a leaf l with distinct path features U (d = |U|) the Shapley values
//   φ_i = v_l · (o_i − z_i) · Σ_{S ⊆ U\i} w_d(|S|) Π_{j∈S} o_j Π_{j∈U\S\i} z_j,   w_d(s) = s!(d−1−s)!/d!
// (z_j: product of the cover ratios of the path's edges on j; o_j ∈ {0, 1}: the row takes all of them).
// Since w_d(s) = ∫₀¹ tˢ(1−t)^(d−1−s) dt, the sum is ∫₀¹ Π_{j∈U\i} f_j(t) dt with f_j(t) = z_j(1−t) + o_j·t:
// the integral of a polynomial of degree d − 1, which an n-point Gauss–Legendre rule gets exactly for
// n ≥ d/2. With P_l(t) = Π_{j∈U} f_j(t) and G_n(t) = Σ_{leaves l under n} v_l P_l(t), feature i of the
// edge e into node n (o_e, z_e combined over the path's edges on i so far) gets
//   (o_e − z_e) · Σ_k w_k · (G_n(t_k) − Σ_{n'} G_{n'}(t_k)) / f_e(t_k),
// n' the nearest nodes below n entered on the same feature (their leaves count at n' instead).
// Every factor of P is positive at the points (no cancellation); per row a tree costs O(nodes · n).
//
// A row changes only whether each edge is hot (o = 1) or cold (o = 0), so the factors are tabulated
// per node for both: the multiplier from the parent's P to this node's P (f_e / f_prev, prev = the
// previous edge on the same feature, hot here or absent: a cold prev makes the edge cold and the ratio
// the scalar z_e / z_prev), and the weights V(t_k) whose dot product with G_n is the node's share of
// φ (its own term minus what its leaves would have added at prev). The two leaves of a twig fold into
// one step (summed arrays: the row takes one of them, and both credit the same column).
import { ChurnflowError } from '../../errors.js';
import { gaussLegendre01, type Quadrature } from './gauss-legendre.js';
import { NodeMode, type TreeEnsemble } from './onnx-tree-ensemble.js';

/**
 * The ensemble's trees (lone leaves left out: they only add to the bias), each a block of nodes: its
 * branches in preorder (a parent before its children, the root first), then its leaves. Per-node
 * arrays are indexed by the global node number `treeStart[t] + j`; child / parent / prev links are
 * tree-local `j`.
 */
export interface LinearTreeShapPlan {
  readonly nTrees: number;
  /** First global node of each tree, and the node count last. */
  readonly treeStart: Int32Array;
  /** Branch nodes per tree (local 0 .. branches-1; its leaves follow). */
  readonly treeBranches: Int32Array;
  /**
   * Quadrature points per tree: the ceil(D / 2) of the Gauss–Legendre rule (D = most distinct features
   * on one of its paths), plus one of weight 0 when that is odd, so the WebAssembly pass fills both
   * f64x2 lanes (the padding point adds exact zeros: the values stay those of the rule).
   */
  readonly treePoints: Int32Array;
  /** Points of each tree's Gauss–Legendre rule before the padding (paddedRule(treeRule[t]) gives its points and weights). */
  readonly treeRule: Int32Array;
  /** Branch test: input column, NodeMode, threshold, 1 when NaN takes the true child. */
  readonly split: Int32Array;
  readonly mode: Uint8Array;
  readonly threshold: Float64Array;
  readonly nanTrue: Uint8Array;
  /**
   * Local children (-1 for leaves). A twig's folded false leaf is ceil(maxTreeNodes · maxPoints / n):
   * a slot past every value a pass writes, whose G stays 0 (scratch G has maxTreeNodes + 2 slots).
   */
  readonly trueChild: Int32Array;
  readonly falseChild: Int32Array;
  /** Local parent (-1 for the root). */
  readonly parent: Int32Array;
  /** 1 when the node is its parent's true child. */
  readonly isTrueEdge: Uint8Array;
  /** Input column of the edge into the node (the parent's split). */
  readonly edgeFeature: Int32Array;
  /** Local node entered by the previous edge on the same column on this path, -1 if none. */
  readonly prev: Int32Array;
  /**
   * The edge's combined zero fraction z (its column's cover ratios down the path to here; 1 for the
   * root): a branch without a prev has hot multipliers z + (1 − z)t and cold ones z(1 − t), which the
   * WebAssembly pass computes from z instead of reading them (wasm-tree-shap.ts).
   */
  readonly zero: Float64Array;
  /**
   * Offset into coef of the node's five n-point arrays: P multiplier and φ weights when hot, P
   * multiplier and φ weights when cold (prev hot or absent: each pair is what one row reads, side by
   * side), and z_e / z_prev repeated n times
   * (the multiplier when prev is cold, and so is this edge: every edge's P is one loop over an array;
   * only nodes with a prev have it, the others' prev reads as hot). For a leaf the multipliers are times its value, and the weights times the multiplier and the
   * value (foldLeafValue).
   */
  readonly coefAt: Int32Array;
  /** coef[0 .. maxPoints) stays 0: the weights of an edge cold under a cold prev (its share is 0). */
  readonly coef: Float64Array;
  /** Most nodes in one tree and most points of one tree (scratch sizes). */
  readonly maxTreeNodes: number;
  readonly maxPoints: number;
  /** Most distinct features on one path, over all trees. */
  readonly maxPathFeatures: number;
  /** Bytes held by the arrays above. */
  readonly bytes: number;
}

interface PlannedNode {
  ensembleNode: number;
  parent: number;
  prev: number;
  /** Combined zero fraction of the edge's column on the path down to and including this edge. */
  zero: number;
  prevZero: number;
  /** On the true leaf of a twig (a branch whose children are both leaves): the false leaf, folded into it. */
  pair?: PlannedNode;
}

/** Builds the plan; `cover` is the ensemble's node covers (checked non-null by the caller). */
export function buildLinearTreeShapPlan(e: TreeEnsemble, cover: Float64Array, source = 'tree ensemble'): LinearTreeShapPlan {
  const trees: { nodes: PlannedNode[]; depthFeatures: number; branches: number }[] = [];
  for (const r of e.roots) {
    if (e.mode[r] === NodeMode.LEAF) continue;
    trees.push(planTree(e, cover, r, source));
  }
  const treeStart = new Int32Array(trees.length + 1);
  const treePoints = new Int32Array(trees.length);
  const treeBranches = new Int32Array(trees.length);
  const rulePoints = new Int32Array(trees.length);
  let nNodes = 0;
  let nCoef = 0; // after the zero block, once maxPoints is known
  let maxTreeNodes = 0;
  let maxPoints = 2; // also the zero block's length
  let maxPathFeatures = 0;
  trees.forEach((t, i) => {
    treeStart[i] = nNodes;
    treeBranches[i] = t.branches;
    nNodes += t.nodes.length;
    rulePoints[i] = Math.max(1, Math.ceil(t.depthFeatures / 2));
    treePoints[i] = evenPoints(rulePoints[i]!);
    // Four arrays per edge, a fifth (z / z_prev) only where there is a prev; the root has no edge.
    for (const p of t.nodes) if (p.parent >= 0) nCoef += (p.prev >= 0 ? 5 : 4) * treePoints[i]!;
    maxTreeNodes = Math.max(maxTreeNodes, t.nodes.length);
    maxPoints = Math.max(maxPoints, treePoints[i]!);
    maxPathFeatures = Math.max(maxPathFeatures, t.depthFeatures);
  });
  treeStart[trees.length] = nNodes;

  const split = new Int32Array(nNodes);
  const mode = new Uint8Array(nNodes);
  const threshold = new Float64Array(nNodes);
  const nanTrue = new Uint8Array(nNodes);
  const trueChild = new Int32Array(nNodes);
  const falseChild = new Int32Array(nNodes);
  const parent = new Int32Array(nNodes);
  const isTrueEdge = new Uint8Array(nNodes);
  const edgeFeature = new Int32Array(nNodes);
  const prev = new Int32Array(nNodes);
  const zero = new Float64Array(nNodes);
  const coefAt = new Int32Array(nNodes);
  const coef = new Float64Array(maxPoints + nCoef);
  const rules = new Map<number, Quadrature>();
  let at = maxPoints;
  trees.forEach((t, ti) => {
    const n = treePoints[ti]!;
    // A node slot whose G stays 0: past maxTreeNodes · maxPoints values, which no tree's pass writes
    // (node j's values are at j · n); the scratch holds two slots of maxPoints more.
    const zeroSlot = Math.ceil((maxTreeNodes * maxPoints) / n);
    let rule = rules.get(rulePoints[ti]!);
    if (rule === undefined) rules.set(rulePoints[ti]!, (rule = paddedRule(rulePoints[ti]!)));
    const local = new Map(t.nodes.map((p, j) => [p.ensembleNode, j]));
    t.nodes.forEach((p, j) => {
      const g = treeStart[ti]! + j;
      const k = p.ensembleNode;
      const leaf = e.mode[k] === NodeMode.LEAF;
      split[g] = leaf ? -1 : e.feature[k]!;
      mode[g] = e.mode[k]!;
      threshold[g] = e.threshold[k]!;
      nanTrue[g] = e.missingTracksTrue[k] === 1 || e.mode[k] === NodeMode.BRANCH_NEQ ? 1 : 0;
      trueChild[g] = leaf ? -1 : local.get(e.trueChild[k]!)!;
      falseChild[g] = leaf ? -1 : (local.get(e.falseChild[k]!) ?? zeroSlot); // a twig's folded leaf: the zero slot
      parent[g] = p.parent;
      prev[g] = p.prev;
      zero[g] = p.zero;
      coefAt[g] = at;
      if (p.parent < 0) return; // the root: no edge, no coefficients
      isTrueEdge[g] = e.trueChild[t.nodes[p.parent]!.ensembleNode] === k ? 1 : 0;
      edgeFeature[g] = e.feature[t.nodes[p.parent]!.ensembleNode]!;
      fillNodeCoef(coef, at, n, rule.t, rule.w, p.zero, p.prev >= 0 ? p.prevZero : -1);
      if (leaf) foldLeafValue(coef, at, n, e.value[k]!, p.prev >= 0);
      if (p.pair !== undefined) addFoldedPair(coef, at, n, rule, p.pair, e.value[p.pair.ensembleNode]!);
      at += (p.prev >= 0 ? 5 : 4) * n;
    });
  });

  const arrays = [treeStart, treePoints, rulePoints, treeBranches, split, mode, threshold, nanTrue, trueChild, falseChild, parent, isTrueEdge, edgeFeature, prev, zero, coefAt, coef];
  return {
    nTrees: trees.length,
    treeStart,
    treePoints,
    treeRule: rulePoints,
    treeBranches,
    split,
    mode,
    threshold,
    nanTrue,
    trueChild,
    falseChild,
    parent,
    isTrueEdge,
    edgeFeature,
    prev,
    zero,
    coefAt,
    coef,
    maxTreeNodes,
    maxPoints,
    maxPathFeatures,
    bytes: arrays.reduce((s, a) => s + a.byteLength, 0),
  };
}

function evenPoints(n: number): number {
  return n + (n % 2);
}

/** The `n`-point Gauss–Legendre rule, with one more point of weight 0 when n is odd (t = 1/2 keeps every factor positive). */
export function paddedRule(n: number): Quadrature {
  const rule = gaussLegendre01(n);
  if (n % 2 === 0) return rule;
  const t = new Float64Array(n + 1);
  const w = new Float64Array(n + 1);
  t.set(rule.t);
  w.set(rule.w);
  t[n] = 0.5;
  return { t, w };
}

/**
 * The node's five n-point arrays at coef[at ..] (four when it has no prev: zp < 0): with cold factor
 * c(t) = z(1 − t) and hot factor h(t) = c(t) + t = z + (1 − z)t (z of this edge; zp of prev, or −1 when there is no prev and the divisor is 1):
 * hot: P multiplier h / hp, φ weights (1 − z)w / h − own(prev); cold: c / hp, −w / (1 − t) − own(prev);
 * own(prev) = (1 − zp)w / hp (a cold prev leaves the node no weights: its two terms are equal).
 */
function fillNodeCoef(coef: Float64Array, at: number, n: number, t: Float64Array, w: Float64Array, z: number, zp: number): void {
  for (let k = 0; k < n; k++) {
    const tk = t[k]!;
    const wk = w[k]!;
    // h = c + t (= z + (1 − z)t): a branch without prev then has multipliers the WebAssembly pass
    // computes from z in these very operations (wasm-coefficients.ts) instead of reading two arrays.
    const cold = z * (1 - tk);
    const hot = cold + tk;
    const hp = zp < 0 ? 1 : zp * (1 - tk) + tk;
    const ownPrev = zp < 0 ? 0 : ((1 - zp) * wk) / hp;
    coef[at + k] = hot / hp;
    coef[at + n + k] = ((1 - z) * wk) / hot - ownPrev;
    coef[at + 2 * n + k] = cold / hp;
    coef[at + 3 * n + k] = -wk / (1 - tk) - ownPrev;
    if (zp >= 0) coef[at + 4 * n + k] = z / zp;
  }
}

/**
 * Adds the false leaf b of a twig into its true sibling's arrays at coef[at ..]: the row taking the
 * true side makes the true leaf hot and b cold, the false side the reverse, and under a cold prev both
 * are z / z_prev (b has the same prev, so the same number of arrays).
 */
function addFoldedPair(coef: Float64Array, at: number, n: number, rule: Quadrature, b: PlannedNode, v: number): void {
  const withPrev = b.prev >= 0;
  const own = new Float64Array(5 * n);
  fillNodeCoef(own, 0, n, rule.t, rule.w, b.zero, withPrev ? b.prevZero : -1);
  foldLeafValue(own, 0, n, v, withPrev);
  for (let k = 0; k < n; k++) {
    coef[at + k] = coef[at + k]! + own[2 * n + k]!; // true side: b's cold multiplier and weights
    coef[at + n + k] = coef[at + n + k]! + own[3 * n + k]!;
    coef[at + 2 * n + k] = coef[at + 2 * n + k]! + own[k]!; // false side: b's hot ones
    coef[at + 3 * n + k] = coef[at + 3 * n + k]! + own[n + k]!;
    if (withPrev) coef[at + 4 * n + k] = coef[at + 4 * n + k]! + own[4 * n + k]!;
  }
}

/**
 * A leaf needs no P of its own: its G is v · P(parent) · multiplier and its φ share the dot product of
 * that with the weights, so both are folded into one array each (v · multiplier, v · multiplier ·
 * weights) and a row's pass reads the parent's P once.
 */
function foldLeafValue(coef: Float64Array, at: number, n: number, v: number, withPrev: boolean): void {
  for (let k = 0; k < n; k++) {
    coef[at + n + k] = v * coef[at + k]! * coef[at + n + k]!;
    coef[at + 3 * n + k] = v * coef[at + 2 * n + k]! * coef[at + 3 * n + k]!;
    coef[at + k] = v * coef[at + k]!;
    coef[at + 2 * n + k] = v * coef[at + 2 * n + k]!;
    if (withPrev) coef[at + 4 * n + k] = v * coef[at + 4 * n + k]!;
  }
}

/** One tree's nodes in preorder with, per edge, the combined zero fraction of its column and its prev. */
function planTree(e: TreeEnsemble, cover: Float64Array, root: number, source: string): { nodes: PlannedNode[]; depthFeatures: number; branches: number } {
  const nodes: PlannedNode[] = [];
  let depthFeatures = 0;
  // path: per distinct column on the path so far, its latest local node and combined zero fraction.
  const visit = (k: number, parentLocal: number, path: readonly { column: number; node: number; zero: number }[]): void => {
    const j = nodes.length;
    const planned: PlannedNode = { ensembleNode: k, parent: parentLocal, prev: -1, zero: 1, prevZero: 1 };
    nodes.push(planned);
    let here = path;
    if (parentLocal >= 0) {
      const pk = nodes[parentLocal]!.ensembleNode;
      const column = e.feature[pk]!;
      const ratio = cover[k]! / cover[pk]!;
      if (!(ratio > 0 && ratio <= 1)) {
        // The cold factor z(1 − t) divides the φ weights: an edge with no cover has no defined share.
        throw new ChurnflowError('CF_MODEL_INVALID', `${source}: node covers must be positive and no larger than the parent's (child/parent cover ${cover[k]}/${cover[pk]})`);
      }
      const p = path.findIndex((el) => el.column === column);
      if (p >= 0) {
        planned.prev = path[p]!.node;
        planned.prevZero = path[p]!.zero;
        planned.zero = path[p]!.zero * ratio;
        here = path.map((el, i) => (i === p ? { column, node: j, zero: planned.zero } : el));
      } else {
        planned.zero = ratio;
        here = [...path, { column, node: j, zero: ratio }];
      }
    }
    if (e.mode[k] === NodeMode.LEAF) {
      depthFeatures = Math.max(depthFeatures, here.length);
      return;
    }
    visit(e.trueChild[k]!, j, here);
    visit(e.falseChild[k]!, j, here);
  };
  visit(root, -1, []);
  // Twigs: the two leaves under one branch are one step. Both edges test the branch's column and share
  // its prev, and the row takes exactly one of them (or, under a cold prev, neither), so the pair's
  // G (v_a·P·f_a + v_b·P·f_b) and φ (both on that column) come from summed coefficients: the true leaf
  // carries them, the false one is dropped and its parent's false child becomes the zero slot.
  const at = new Map(nodes.map((p, j) => [p.ensembleNode, j]));
  const dropped = new Set<number>();
  for (const p of nodes) {
    const k = p.ensembleNode;
    if (e.mode[k] === NodeMode.LEAF) continue;
    const a = e.trueChild[k]!;
    const b = e.falseChild[k]!;
    if (e.mode[a] !== NodeMode.LEAF || e.mode[b] !== NodeMode.LEAF) continue;
    nodes[at.get(a)!]!.pair = nodes[at.get(b)!]!;
    dropped.add(at.get(b)!);
  }
  // Branches first (still in preorder), then the leaves: a row's pass runs over each kind without
  // testing which kind a node is. Parents and prevs are branches, so they still come first.
  const order = [...nodes.keys()].filter((j) => !dropped.has(j)).sort((a, b) => leafRank(a) - leafRank(b) || a - b);
  function leafRank(j: number): number {
    return e.mode[nodes[j]!.ensembleNode] === NodeMode.LEAF ? 1 : 0;
  }
  const renumber = new Int32Array(nodes.length);
  order.forEach((j, i) => (renumber[j] = i));
  const reordered = order.map((j) => {
    const p = nodes[j]!;
    return { ...p, parent: p.parent < 0 ? -1 : renumber[p.parent]!, prev: p.prev < 0 ? -1 : renumber[p.prev]! };
  });
  const branches = reordered.filter((p) => e.mode[p.ensembleNode] !== NodeMode.LEAF).length;
  return { nodes: reordered, depthFeatures, branches };
}
