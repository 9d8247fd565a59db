// Per-tree precomputation for table-driven exact TreeSHAP (the idea of Fast TreeSHAP v2, Yang 2021).
// Path-dependent TreeSHAP gives each leaf a game over the distinct features U on its path (d = |U|):
// feature j has a zero fraction z_j (product of the cover ratios of the path's edges on j) and, for a
// row, a one fraction o_j ∈ {0, 1} (1 when the row takes every edge on j: "hot"). With g(S) = Π_{j∈U\S} z_j
// and Shapley weights w(s) = s!(d-1-s)!/d!, the Shapley values of the leaf value v are, for the hot set H,
//   cold i (i ∉ H):  -v · A(H)                  where A(P) = Σ_{S⊆P} w(|S|) · g(S),
//   hot i  (i ∈ H):  v · (1 - z_i) / z_i · A(H \ {i}).
// A depends on the tree only, so it is tabulated once per leaf for every P ⊆ U (2^d entries, v folded
// in) and a row costs one lookup per path element: O(leaves · depth) instead of O(leaves · depth²).
// Leaves with more than `maxTableBits` distinct features keep no table (memory stays bounded); their
// A values are computed per row from the elementary symmetric polynomials of 1/z over H (tree-shap.ts).
import { ChurnflowError } from '../../errors.js';
import { NodeMode, type TreeEnsemble } from './onnx-tree-ensemble.js';

/** Distinct features a path may have: hot sets are bit masks in an int32. */
export const MAX_PATH_FEATURES = 30;
/**
 * Default largest table per leaf: 2^6 doubles. Deeper leaves (41 % of 1.1.0's) are computed per row in
 * O(|H|²): bigger tables pay off only while they stay in cache (batches), not for one row between
 * other work (bench/treeshap.bench.ts: 1.1.0 holds 3.5 MiB at 6 bits, 12 MiB at 10).
 */
export const DEFAULT_MAX_TABLE_BITS = 6;

/**
 * One ensemble as flat arrays. Branch nodes are numbered 0 .. nBranches-1, each tree's in preorder
 * (a parent before its children) and the trees one after the other; leaf l is node nBranches + l.
 */
export interface TreeShapTables {
  readonly nBranches: number;
  readonly nLeaves: number;
  /** First branch node of each tree that is not a lone leaf (its branches run to the next root). */
  readonly roots: Int32Array;
  /** First leaf of each of those trees, and nLeaves last (its leaves run to the next entry). */
  readonly treeLeaves: Int32Array;
  readonly feature: Int32Array;
  readonly mode: Uint8Array;
  readonly threshold: Float64Array;
  /** 1: a NaN input takes the true child. */
  readonly nanTrue: Uint8Array;
  readonly trueChild: Int32Array;
  readonly falseChild: Int32Array;
  /** 1 << (position of the node's feature among its path's distinct features). */
  readonly bit: Int32Array;
  /** Per leaf: distinct features on its path, first path element, table offset (-1: none), value. */
  readonly leafSize: Uint8Array;
  readonly leafElem: Int32Array;
  readonly leafTable: Int32Array;
  readonly leafValue: Float64Array;
  /** Per path element (leafElem[l] + k, k < leafSize[l]): input column, (1 - z) / z, z, 1 / z. */
  readonly elemFeature: Int32Array;
  readonly elemRatio: Float64Array;
  readonly elemZero: Float64Array;
  readonly elemInverse: Float64Array;
  /** Per leaf: v · Π z over its path elements (for leaves computed without a table). */
  readonly leafScale: Float64Array;
  /** v · A(P) per leaf with a table, P as a bit mask over its path elements. */
  readonly table: Float64Array;
  /** Shapley weights w_d(s) at weights[d * (d + 1) / 2 + s], d ≥ 1, s < d. */
  readonly weights: Float64Array;
  /** Largest number of distinct features on a path. */
  readonly maxPathFeatures: number;
  /** Bytes held by all the arrays above. */
  readonly bytes: number;
}

interface PathElement {
  feature: number;
  zero: number;
}

/** Builds the tables; `cover` is the ensemble's node covers (checked non-null by the caller). */
export function buildTreeShapTables(e: TreeEnsemble, cover: Float64Array, maxTableBits = DEFAULT_MAX_TABLE_BITS, source = 'tree ensemble'): TreeShapTables {
  const { mode, value, trueChild, falseChild } = e;
  const LEAF = NodeMode.LEAF;
  const order: number[] = []; // ensemble node ids of branch nodes, in the new numbering
  const leaves: { node: number; path: PathElement[] }[] = [];
  const newIndex = new Int32Array(e.nNodes).fill(-1);
  const bitOf: number[] = [];
  const roots: number[] = [];
  const treeLeaves: number[] = [];
  let maxPath = 0;

  const visit = (k: number, path: PathElement[]): void => {
    if (mode[k] === LEAF) {
      newIndex[k] = -2 - leaves.length; // resolved once the branch count is known
      leaves.push({ node: k, path });
      maxPath = Math.max(maxPath, path.length);
      return;
    }
    newIndex[k] = order.length;
    order.push(k);
    const f = e.feature[k]!;
    let p = path.findIndex((el) => el.feature === f);
    if (p < 0) p = path.length;
    if (p >= MAX_PATH_FEATURES) {
      throw new ChurnflowError('CF_MODEL_INVALID', `${source}: a tree path tests more than ${MAX_PATH_FEATURES} distinct input columns, more than TreeSHAP supports`);
    }
    bitOf.push(1 << p);
    for (const child of [trueChild[k]!, falseChild[k]!]) {
      const next = path.map((el) => ({ ...el }));
      const ratio = cover[child]! / cover[k]!;
      if (!(ratio > 0 && ratio <= 1)) {
        // Zero fractions divide the hot weights (as in LightGBM's unwind): a child with no cover has none.
        throw new ChurnflowError('CF_MODEL_INVALID', `${source}: node covers must be positive and no larger than the parent's (child/parent cover ${cover[child]}/${cover[k]})`);
      }
      if (p < next.length) next[p]!.zero *= ratio;
      else next.push({ feature: f, zero: ratio });
      visit(child, next);
    }
  };
  for (const r of e.roots) {
    if (mode[r] === LEAF) continue; // a lone leaf only adds to the bias
    roots.push(order.length);
    treeLeaves.push(leaves.length);
    visit(r, []);
  }
  treeLeaves.push(leaves.length);

  const nBranches = order.length;
  const nLeaves = leaves.length;
  const renumber = (k: number): number => (newIndex[k]! >= 0 ? newIndex[k]! : nBranches + (-2 - newIndex[k]!));
  const feature = new Int32Array(nBranches);
  const nodeMode = new Uint8Array(nBranches);
  const threshold = new Float64Array(nBranches);
  const nanTrue = new Uint8Array(nBranches);
  const tc = new Int32Array(nBranches);
  const fc = new Int32Array(nBranches);
  order.forEach((k, i) => {
    feature[i] = e.feature[k]!;
    nodeMode[i] = mode[k]!;
    threshold[i] = e.threshold[k]!;
    nanTrue[i] = e.missingTracksTrue[k] === 1 || mode[k] === NodeMode.BRANCH_NEQ ? 1 : 0;
    tc[i] = renumber(trueChild[k]!);
    fc[i] = renumber(falseChild[k]!);
  });

  const weights = shapleyWeights(maxPath);
  const leafSize = new Uint8Array(nLeaves);
  const leafElem = new Int32Array(nLeaves);
  const leafTable = new Int32Array(nLeaves);
  const leafValue = new Float64Array(nLeaves);
  let nElem = 0;
  let nTable = 0;
  for (let l = 0; l < nLeaves; l++) {
    const d = leaves[l]!.path.length;
    leafSize[l] = d;
    leafElem[l] = nElem;
    nElem += d;
    leafTable[l] = d <= maxTableBits ? nTable : -1;
    if (d <= maxTableBits) nTable += 1 << d;
  }
  const elemFeature = new Int32Array(nElem);
  const elemRatio = new Float64Array(nElem);
  const elemZero = new Float64Array(nElem);
  const elemInverse = new Float64Array(nElem);
  const leafScale = new Float64Array(nLeaves);
  const table = new Float64Array(nTable);
  const poly = new Float64Array((maxPath + 1) * (maxPath + 1));
  leaves.forEach(({ node, path }, l) => {
    const v = value[node]!;
    leafValue[l] = v;
    leafScale[l] = path.reduce((p, el) => p * el.zero, v);
    path.forEach((el, k) => {
      elemInverse[leafElem[l]! + k] = 1 / el.zero;
      elemFeature[leafElem[l]! + k] = el.feature;
      elemZero[leafElem[l]! + k] = el.zero;
      elemRatio[leafElem[l]! + k] = (1 - el.zero) / el.zero;
    });
    if (leafTable[l]! >= 0) fillLeafTable(path, v, weights, poly, table, leafTable[l]!);
  });

  const arrays = [feature, nodeMode, threshold, nanTrue, tc, fc, leafSize, leafElem, leafTable, leafValue, elemFeature, elemRatio, elemZero, elemInverse, leafScale, table, weights];
  const bit = Int32Array.from(bitOf);
  const rootArray = Int32Array.from(roots);
  const treeLeafArray = Int32Array.from(treeLeaves);
  const bytes = [...arrays, bit, rootArray, treeLeafArray].reduce((n, a) => n + a.byteLength, 0);
  return {
    nBranches,
    nLeaves,
    roots: rootArray,
    treeLeaves: treeLeafArray,
    feature,
    mode: nodeMode,
    threshold,
    nanTrue,
    trueChild: tc,
    falseChild: fc,
    bit,
    leafSize,
    leafElem,
    leafTable,
    leafValue,
    elemFeature,
    elemRatio,
    elemZero,
    elemInverse,
    leafScale,
    table,
    weights,
    maxPathFeatures: maxPath,
    bytes,
  };
}

/** w_d(s) = s!(d-1-s)!/d! = 1 / (d · C(d-1, s)) for 1 ≤ d ≤ maxD, 0 ≤ s < d. */
function shapleyWeights(maxD: number): Float64Array {
  const w = new Float64Array(((maxD + 1) * (maxD + 2)) / 2);
  for (let d = 1; d <= maxD; d++) {
    let binom = 1; // C(d-1, s)
    for (let s = 0; s < d; s++) {
      w[(d * (d + 1)) / 2 + s] = 1 / (d * binom);
      binom = (binom * (d - 1 - s)) / (s + 1);
    }
  }
  return w;
}

/**
 * table[at + P] = v · A(P) for every P ⊆ path. A(P) = Σ_s w(s) · [y^s] Π_{j∈P}(z_j + y) · Π_{j∉P} z_j,
 * so the subsets are enumerated depth first, each level multiplying the parent's polynomial by one
 * factor: O(2^d · d) for the leaf. `poly` holds (d+1) polynomials of degree ≤ d, one per level.
 */
function fillLeafTable(path: readonly PathElement[], v: number, weights: Float64Array, poly: Float64Array, table: Float64Array, at: number): void {
  const d = path.length;
  const stride = d + 1;
  const w0 = (d * (d + 1)) / 2;
  poly.fill(0, 0, stride);
  poly[0] = 1;
  const descend = (j: number, mask: number): void => {
    const src = j * stride;
    if (j === d) {
      let a = 0;
      for (let s = 0; s < d; s++) a += weights[w0 + s]! * poly[src + s]!;
      table[at + mask] = v * a;
      return;
    }
    const z = path[j]!.zero;
    const dst = src + stride;
    // j cold (not in P): times z_j.
    for (let s = 0; s <= j; s++) poly[dst + s] = poly[src + s]! * z;
    poly[dst + j + 1] = 0;
    descend(j + 1, mask);
    // j hot (in P): times (z_j + y).
    poly[dst] = poly[src]! * z;
    for (let s = 1; s <= j; s++) poly[dst + s] = poly[src + s]! * z + poly[src + s - 1]!;
    poly[dst + j + 1] = poly[src + j]!;
    descend(j + 1, mask | (1 << j));
  };
  descend(0, 0);
}
