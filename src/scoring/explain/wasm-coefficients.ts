// The coefficient area of the WebAssembly TreeSHAP kernel: the plan's per-node arrays, except that a
// branch without a prev keeps only z and its hot φ weights. Its P multipliers are z(1 − t) (cold) and
// that + t (hot), which the kernel computes from z and its tree's rule in the same IEEE operations as
// linear-tree-shap-plan.ts (so to the bit; checked here node by node), and its cold φ
// weights −w / (1 − t) are the same for every such branch under one rule: one shared block. That is
// about a third less memory to stream per row on 1.1.0 (one row's pass reads every tree's arrays,
// more than L2 holds: on a shared machine most of a single row's time was waiting for them).
import { paddedRule, type LinearTreeShapPlan } from './linear-tree-shap-plan.js';

export interface KernelCoefficients {
  /** The area (f64): the zero block (maxPoints zeros) first, then the rules' blocks, then the nodes'. */
  readonly values: Float64Array;
  /** Byte offset in the area of each node's arrays. */
  readonly nodeAt: Int32Array;
  /** 1 when the node is a branch whose multipliers the kernel computes (its arrays: z twice, a vector, then the hot φ weights). */
  readonly computed: Uint8Array;
  /** Byte offset of each tree's rule block: t, 1 − t, then the cold φ weights of a branch without prev (n values each). */
  readonly ruleAt: Int32Array;
}

export function kernelCoefficients(plan: LinearTreeShapPlan): KernelCoefficients {
  const { nTrees, treeStart, treeBranches, treePoints, treeRule, prev, zero, coefAt, coef, maxPoints } = plan;
  const nNodes = treeStart[nTrees]!;
  // The rules' blocks, one per rule (trees with the same point count may pad different rules).
  const rules = new Map<number, { at: number; block: Float64Array }>();
  let size = maxPoints;
  for (let t = 0; t < nTrees; t++) {
    const r = treeRule[t]!;
    if (rules.has(r)) continue;
    const { t: tk, w } = paddedRule(r);
    const n = tk.length;
    const block = new Float64Array(3 * n);
    const ownPrev = 0; // no prev: the same expression as fillNodeCoef's, to the bit
    for (let k = 0; k < n; k++) {
      block[k] = tk[k]!;
      block[n + k] = 1 - tk[k]!;
      block[2 * n + k] = -w[k]! / (1 - tk[k]!) - ownPrev;
    }
    rules.set(r, { at: size, block });
    size += block.length;
  }
  // Which branches qualify: no prev, and the plan's arrays are what the kernel will compute.
  const computed = new Uint8Array(nNodes);
  const nodeAt = new Int32Array(nNodes);
  const ruleAt = new Int32Array(nTrees);
  for (let t = 0; t < nTrees; t++) {
    const n = treePoints[t]!;
    const rule = rules.get(treeRule[t]!)!;
    ruleAt[t] = rule.at * 8;
    for (let g = treeStart[t]! + 1; g < treeStart[t]! + treeBranches[t]!; g++) {
      if (prev[g]! >= 0) continue;
      const z = zero[g]!;
      const c = coefAt[g]!;
      let same = true;
      for (let k = 0; k < n && same; k++) {
        const cold = z * rule.block[n + k]!;
        same =
          Object.is(coef[c + k], cold + rule.block[k]!) &&
          Object.is(coef[c + 2 * n + k], cold) &&
          Object.is(coef[c + 3 * n + k], rule.block[2 * n + k]);
      }
      computed[g] = same ? 1 : 0;
    }
  }
  // The nodes' arrays in plan order (each tree's nodes stay together, in the order its pass reads them).
  for (let t = 0; t < nTrees; t++) {
    const n = treePoints[t]!;
    for (let g = treeStart[t]! + 1; g < treeStart[t + 1]!; g++) {
      nodeAt[g] = size * 8;
      size += computed[g] === 1 ? 2 + n : (prev[g]! >= 0 ? 5 : 4) * n;
    }
  }
  const values = new Float64Array(size);
  for (const { at, block } of rules.values()) values.set(block, at);
  for (let t = 0; t < nTrees; t++) {
    const n = treePoints[t]!;
    for (let g = treeStart[t]! + 1; g < treeStart[t + 1]!; g++) {
      const at = nodeAt[g]! / 8;
      const c = coefAt[g]!;
      if (computed[g] === 1) {
        const z = zero[g]!;
        values[at] = values[at + 1] = z;
        values.set(coef.subarray(c + n, c + 2 * n), at + 2); // the hot φ weights
      } else {
        values.set(coef.subarray(c, c + (prev[g]! >= 0 ? 5 : 4) * n), at);
      }
    }
  }
  return { values, nodeAt, computed, ruleAt };
}
