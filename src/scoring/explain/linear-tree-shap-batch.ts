// Linear TreeSHAP over several rows at once (tree-shap.ts has the one-row pass and the idea): the
// same down and up passes, with the rows innermost. One row at a time a node costs a few loads and
// branches plus loops of only 3–8 points, so the per-node work dominates; here it is paid once per
// node for the whole batch, each row picks its factors by an offset into the plan's coefficients (no
// branch in the inner loops), and a tree's coefficients stay in cache across the rows.
import type { LinearTreeShapPlan } from './linear-tree-shap-plan.js';
import { goesFalse } from './branch-test.js';

/** Adds the SHAP values of `count` rows (rows[i*width ..]) to out[i*stride ..]; count ≤ maxRows. */
export type LinearTreeShapBatch = (rows: Float32Array, count: number, width: number, out: Float64Array, stride: number) => void;

/** Scratch for batches of up to maxRows rows; returns the kernel and the bytes it holds. */
export function createLinearTreeShapBatch(plan: LinearTreeShapPlan, maxRows: number): { run: LinearTreeShapBatch; bytes: number } {
  const { nTrees, treeStart, treePoints, split, mode, threshold, nanTrue, trueChild, falseChild, parent, edgeFeature, prev, coefAt, coef } = plan;
  // Node j, point k, row r at (j * points + k) * maxRows + r; per node and row: state, direction,
  // offset of its P multipliers and of its φ weights in coef.
  const poly = new Float64Array(plan.maxTreeNodes * plan.maxPoints * maxRows);
  const sums = new Float64Array(plan.maxTreeNodes * plan.maxPoints * maxRows);
  const hotAt = new Uint8Array(plan.maxTreeNodes * maxRows);
  const takesTrue = new Uint8Array(plan.maxTreeNodes * maxRows);
  const factorAt = new Int32Array(maxRows);
  const weightAt = new Int32Array(maxRows);
  const acc = new Float64Array(maxRows);
  const bytes = poly.byteLength + sums.byteLength + hotAt.byteLength + takesTrue.byteLength + factorAt.byteLength + weightAt.byteLength + acc.byteLength;

  function directions(g: number, j: number, rows: Float32Array, count: number, width: number): void {
    const f = split[g]!;
    const md = mode[g]!;
    const th = threshold[g]!;
    const nt = nanTrue[g]!;
    const at = j * maxRows;
    for (let r = 0; r < count; r++) {
      const x = rows[r * width + f]!;
      takesTrue[at + r] = x !== x ? nt : 1 - goesFalse(md, x, th);
    }
  }

  function addShares(out: Float64Array, stride: number, column: number, count: number): void {
    for (let r = 0; r < count; r++) {
      const o = r * stride + column;
      out[o] = out[o]! + acc[r]!;
    }
  }

  function tree(ti: number, rows: Float32Array, count: number, width: number, out: Float64Array, stride: number): void {
    const s = treeStart[ti]!;
    const m = treeStart[ti + 1]! - s;
    const n = treePoints[ti]!;
    poly.fill(1, 0, n * maxRows);
    directions(s, 0, rows, count, width);
    for (let j = 1; j < m; j++) {
      const g = s + j;
      const q = parent[g]!;
      const p = prev[g]!;
      const c = coefAt[g]!;
      const isTrue = trueChild[s + q] === j ? 1 : 0;
      // Per row: hot (multiplier c, weights c + 2n), cold (c + n, c + 3n), or cold under a cold prev
      // (the repeated ratio at c + 4n, the zero block as weights).
      for (let r = 0; r < count; r++) {
        const underCold = p >= 0 && hotAt[p * maxRows + r] === 0;
        const hot = !underCold && isTrue === takesTrue[q * maxRows + r];
        hotAt[j * maxRows + r] = hot ? 1 : 0;
        factorAt[r] = underCold ? c + 4 * n : hot ? c : c + n;
        weightAt[r] = underCold ? 0 : hot ? c + 2 * n : c + 3 * n;
      }
      if (split[g]! >= 0) {
        for (let k = 0; k < n; k++) {
          const from = (q * n + k) * maxRows;
          const to = (j * n + k) * maxRows;
          for (let r = 0; r < count; r++) poly[to + r] = poly[from + r]! * coef[factorAt[r]! + k]!;
        }
        directions(g, j, rows, count, width);
        continue;
      }
      acc.fill(0, 0, count);
      for (let k = 0; k < n; k++) {
        const from = (q * n + k) * maxRows;
        const to = (j * n + k) * maxRows;
        for (let r = 0; r < count; r++) {
          const pk = poly[from + r]!;
          sums[to + r] = pk * coef[factorAt[r]! + k]!;
          acc[r] = acc[r]! + pk * coef[weightAt[r]! + k]!;
        }
      }
      addShares(out, stride, edgeFeature[g]!, count);
    }
    for (let j = m - 1; j > 0; j--) {
      const g = s + j;
      if (split[g]! < 0) continue;
      const p = prev[g]!;
      const c = coefAt[g]!;
      for (let r = 0; r < count; r++) {
        const underCold = p >= 0 && hotAt[p * maxRows + r] === 0;
        weightAt[r] = underCold ? 0 : hotAt[j * maxRows + r] === 1 ? c + 2 * n : c + 3 * n;
      }
      acc.fill(0, 0, count);
      const a = trueChild[g]! * n;
      const b = falseChild[g]! * n;
      for (let k = 0; k < n; k++) {
        const ak = (a + k) * maxRows;
        const bk = (b + k) * maxRows;
        const to = (j * n + k) * maxRows;
        for (let r = 0; r < count; r++) {
          const gk = sums[ak + r]! + sums[bk + r]!;
          sums[to + r] = gk;
          acc[r] = acc[r]! + gk * coef[weightAt[r]! + k]!;
        }
      }
      addShares(out, stride, edgeFeature[g]!, count);
    }
  }

  return {
    bytes,
    run(rows, count, width, out, stride) {
      for (let t = 0; t < nTrees; t++) tree(t, rows, count, width, out, stride);
    },
  };
}
