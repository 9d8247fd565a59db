// The reference TreeSHAP: exact path-dependent TreeSHAP (Lundberg et al. 2018, "Consistent Individualized Feature Attribution
// for Tree Ensembles", Algorithm 2: the polynomial-time EXTEND/UNWIND recursion), written to follow
// LightGBM's Tree::TreeSHAP step for step so the values match `pred_contrib`. It explains the
// ensemble's margin (log-odds for the churn classifier): contributions per input column plus the bias
// (expected margin over the training data, weighted by node covers) add up to the margin of the row.
// O(leaves · depth²) per row; the engine uses Linear TreeSHAP (tree-shap.ts, O(nodes · depth / 2)),
// and this one stays as the oracle its tests compare against and the baseline its bench measures.
import { ChurnflowError } from '../../errors.js';
import { NodeMode, type TreeEnsemble } from './onnx-tree-ensemble.js';
import type { TreeShap } from './tree-shap.js';
import { checkContributionArgs } from './contribution-args.js';

const EMPTY_ROW: Float32Array = new Float32Array(0);
const EMPTY_OUT: Float64Array = new Float64Array(0);

/** Prepares TreeSHAP over `e` for rows of `width` input columns. Throws CF_MODEL_INVALID without covers. */
export function compileTreeShapReference(e: TreeEnsemble, width: number, source = 'tree ensemble'): TreeShap {
  const covers = e.cover;
  if (covers === null) {
    throw new ChurnflowError(
      'CF_MODEL_INVALID',
      `${source}: the tree ensemble carries no node covers (ONNX metadata 'churnflow.tree_covers'), which exact TreeSHAP needs; re-export the bundle with 'python -m churnflow_trainer reexport-onnx --bundle <dir>' or retrain it`,
    );
  }
  if (!Number.isInteger(width) || width < e.nFeaturesUsed) {
    throw new ChurnflowError('CF_MODEL_INVALID', `${source}: the trees test input column ${e.nFeaturesUsed - 1}, but rows have ${width} columns`);
  }
  const cover: Float64Array = covers;
  const { feature, mode, threshold, trueChild, falseChild, missingTracksTrue, value, roots } = e;
  const LEAF = NodeMode.LEAF;

  // Bias: what LightGBM's Tree::ExpectedValue sums per tree (sum of leaf cover / root cover * leaf value).
  let expectedValue = e.baseValue;
  const branchRoots: number[] = [];
  const stack: number[] = [];
  for (let ti = 0; ti < roots.length; ti++) {
    const r = roots[ti]!;
    if (mode[r] === LEAF) {
      expectedValue += value[r]!;
      continue;
    }
    branchRoots.push(r);
    let ev = 0;
    stack.push(r);
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (mode[k] === LEAF) ev += (cover[k]! / cover[r]!) * value[k]!;
      else stack.push(trueChild[k]!, falseChild[k]!);
    }
    expectedValue += ev;
  }
  const treeRoots = Int32Array.from(branchRoots);

  // The path buffer: a stack of frames, one per recursion level, each right after its parent's and at
  // most (depth + 1) elements long, so (maxDepth+1)(maxDepth+2)/2 slots always suffice. In the
  // path-dependent algorithm a one fraction is always 0 (cold branch) or 1 (hot branch): a byte.
  const size = ((e.maxDepth + 2) * (e.maxDepth + 3)) / 2;
  const pathFeature = new Int32Array(size);
  const pathZero = new Float64Array(size);
  const pathOne = new Uint8Array(size);
  const pathWeight = new Float64Array(size);
  const pair = new Float64Array(2);
  const recip = new Float64Array(e.maxDepth + 3);
  for (let i = 1; i < recip.length; i++) recip[i] = 1 / i;

  // Per-call state (contributions() is synchronous, so one set per compiled ensemble is enough).
  let x = EMPTY_ROW;
  let xo = 0;
  let phi = EMPTY_OUT;

  function goesTrue(k: number, v: number): boolean {
    if (v !== v) return missingTracksTrue[k] === 1 || mode[k] === NodeMode.BRANCH_NEQ;
    const t = threshold[k]!;
    switch (mode[k]) {
      case NodeMode.BRANCH_LEQ:
        return v <= t;
      case NodeMode.BRANCH_LT:
        return v < t;
      case NodeMode.BRANCH_GTE:
        return v >= t;
      case NodeMode.BRANCH_GT:
        return v > t;
      case NodeMode.BRANCH_EQ:
        return v === t;
      default:
        return v !== t; // BRANCH_NEQ (leaves never get here)
    }
  }

  /** EXTEND: appends (feature f, zero fraction z, one fraction o) at position d of the frame at `s`. */
  function extend(s: number, d: number, z: number, o: number, f: number): void {
    pathFeature[s + d] = f;
    pathZero[s + d] = z;
    pathOne[s + d] = o;
    pathWeight[s + d] = d === 0 ? 1 : 0;
    const inv = recip[d + 1]!;
    if (o !== 0) {
      for (let i = d - 1; i >= 0; i--) {
        const wi = pathWeight[s + i]!;
        pathWeight[s + i + 1] = pathWeight[s + i + 1]! + wi * (i + 1) * inv;
        pathWeight[s + i] = z * wi * (d - i) * inv;
      }
    } else {
      for (let i = d - 1; i >= 0; i--) pathWeight[s + i] = z * pathWeight[s + i]! * (d - i) * inv;
    }
  }

  /** UNWIND: removes element p from the frame at `s` (of depth d), undoing its EXTEND. */
  function unwind(s: number, d: number, p: number): void {
    const z = pathZero[s + p]!;
    if (pathOne[s + p] !== 0) {
      const inv = recip[d + 1]!;
      let next = pathWeight[s + d]!;
      for (let i = d - 1; i >= 0; i--) {
        const tmp = pathWeight[s + i]!;
        const wi = next * (d + 1) * recip[i + 1]!;
        pathWeight[s + i] = wi;
        next = tmp - wi * z * (d - i) * inv;
      }
    } else {
      const scale = (d + 1) / z;
      for (let i = d - 1; i >= 0; i--) pathWeight[s + i] = pathWeight[s + i]! * scale * recip[d - i]!;
    }
    for (let i = p; i < d; i++) {
      pathFeature[s + i] = pathFeature[s + i + 1]!;
      pathZero[s + i] = pathZero[s + i + 1]!;
      pathOne[s + i] = pathOne[s + i + 1]!;
    }
  }

  /**
   * Total path weight with a hot (one fraction 1) element of zero fraction z unwound (LightGBM's
   * UnwoundPathSum for one fraction 1); the frame is not modified. Written so the loop-carried
   * dependency is one multiply-subtract, and for two elements at once (za, zb) so the two independent
   * chains overlap; the results land in pair[0], pair[1].
   */
  function unwoundSumsHot(s: number, d: number, za: number, zb: number): void {
    const inv = recip[d + 1]!;
    let nextA = pathWeight[s + d]!;
    let nextB = nextA;
    let totalA = 0;
    let totalB = 0;
    for (let i = d - 1; i >= 0; i--) {
      const a = (d + 1) * recip[i + 1]!;
      const c = a * (d - i) * inv;
      const w = pathWeight[s + i]!;
      totalA += nextA * a;
      totalB += nextB * a;
      nextA = w - nextA * (c * za);
      nextB = w - nextB * (c * zb);
    }
    pair[0] = totalA;
    pair[1] = totalB;
  }

  /**
   * Visits `node` with the path so far in the frame at `s` (elements 0 .. d-1), extended here by the
   * edge into `node`. As in LightGBM each child works on its own copy of the parent's path, except
   * that the second (cold) child takes over the parent's frame: the parent no longer needs it.
   */
  function recurse(node: number, d: number, s: number, z: number, o: number, f: number): void {
    extend(s, d, z, o, f);

    if (mode[node] === LEAF) {
      const v = value[node]!;
      // A cold element (one fraction 0, zero fraction z > 0) unwinds to a total weight of S / z, so
      // its contribution S / z * (0 - z) * v = -S * v is the same for every cold element of the path.
      let sCold = 0;
      for (let i = d - 1; i >= 0; i--) sCold += pathWeight[s + i]! * (d + 1) * recip[d - i]!;
      const cold = -sCold * v;
      let pending = -1; // a hot element waiting for a partner
      for (let i = 1; i <= d; i++) {
        if (pathOne[s + i] === 0) {
          const j = pathFeature[s + i]!;
          phi[j] = phi[j]! + cold;
        } else if (pending < 0) {
          pending = i;
        } else {
          const za = pathZero[s + pending]!;
          const zb = pathZero[s + i]!;
          unwoundSumsHot(s, d, za, zb);
          const ja = pathFeature[s + pending]!;
          const jb = pathFeature[s + i]!;
          phi[ja] = phi[ja]! + pair[0]! * (1 - za) * v;
          phi[jb] = phi[jb]! + pair[1]! * (1 - zb) * v;
          pending = -1;
        }
      }
      if (pending >= 0) {
        const za = pathZero[s + pending]!;
        unwoundSumsHot(s, d, za, za);
        const ja = pathFeature[s + pending]!;
        phi[ja] = phi[ja]! + pair[0]! * (1 - za) * v;
      }
      return;
    }

    const split = feature[node]!;
    const t = trueChild[node]!;
    const fc = falseChild[node]!;
    const hotIsTrue = goesTrue(node, x[xo + split]!);
    const hot = hotIsTrue ? t : fc;
    const cold = hotIsTrue ? fc : t;
    const w = cover[node]!;
    const hotZero = cover[hot]! / w;
    const coldZero = cover[cold]! / w;
    let inZero = 1;
    let inOne = 1;
    // Already split on this feature higher up: undo that element and redo it here.
    let p = 0;
    for (; p <= d; p++) if (pathFeature[s + p] === split) break;
    if (p !== d + 1) {
      inZero = pathZero[s + p]!;
      inOne = pathOne[s + p]!;
      unwind(s, d, p);
      d -= 1;
    }
    const s2 = s + d + 1;
    for (let i = 0; i <= d; i++) {
      pathFeature[s2 + i] = pathFeature[s + i]!;
      pathZero[s2 + i] = pathZero[s + i]!;
      pathOne[s2 + i] = pathOne[s + i]!;
      pathWeight[s2 + i] = pathWeight[s + i]!;
    }
    recurse(hot, d + 1, s2, hotZero * inZero, inOne, split);
    recurse(cold, d + 1, s, coldZero * inZero, 0, split);
  }

  return {
    width,
    expectedValue,
    memoryBytes: size * (4 + 8 + 1 + 8) + pair.byteLength + recip.byteLength,
    kernel: 'reference',
    contributions(row, offset, out) {
      checkContributionArgs(width, row, offset, out);
      out.fill(0, 0, width);
      x = row;
      xo = offset;
      phi = out;
      for (let ti = 0; ti < treeRoots.length; ti++) recurse(treeRoots[ti]!, 0, 0, 1, 1, -1);
      x = EMPTY_ROW; // hold no reference to the caller's buffers between calls
      phi = EMPTY_OUT;
      out[width] = expectedValue;
    },
    contributionsBatch(rows, count, out) {
      for (let i = 0; i < count; i++) this.contributions(rows, i * width, out.subarray(i * (width + 1), (i + 1) * (width + 1)));
    },
  };
}
