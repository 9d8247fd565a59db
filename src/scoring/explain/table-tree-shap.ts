// Exact path-dependent TreeSHAP from per-leaf tables (tree-shap-tables.ts, the Fast TreeSHAP v2 idea):
// a row is one pass over the branch nodes, marking for each leaf which of its path features the row
// sends down the cold branch, then one table lookup per path element (leaves with more path features
// than maxTableBits: O(hot features²) arithmetic). The engine's explainer was this until Linear
// TreeSHAP (tree-shap.ts) replaced it: it stays as a second exact implementation the tests hold
// against the reference and the bench compares against (on the bundled model 41 % of the leaves are
// too deep for a table, and their O(|H|²) work keeps it near the reference recursion's cost).
import { ChurnflowError } from '../../errors.js';
import type { TreeEnsemble } from './onnx-tree-ensemble.js';
import { buildTreeShapTables, DEFAULT_MAX_TABLE_BITS } from './tree-shap-tables.js';
import { goesFalse } from './branch-test.js';
import { checkedCoversAndBias, type TreeShap } from './tree-shap.js';
import { checkContributionArgs } from './contribution-args.js';

export interface TableTreeShapOptions {
  /** Leaves with more distinct path features than this keep no table and cost O(hot path features²) per row (default 6: 2^6 doubles per leaf at most). */
  readonly maxTableBits?: number;
}

/** Prepares table-driven TreeSHAP over `e` for rows of `width` input columns. Throws CF_MODEL_INVALID without covers. */
export function compileTableTreeShap(e: TreeEnsemble, width: number, source = 'tree ensemble', options: TableTreeShapOptions = {}): TreeShap {
  const { cover, expectedValue } = checkedCoversAndBias(e, width, source);
  const maxTableBits = options.maxTableBits ?? DEFAULT_MAX_TABLE_BITS;
  if (!Number.isInteger(maxTableBits) || maxTableBits < 0 || maxTableBits > 24) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `TreeSHAP maxTableBits must be an integer in 0..24, got ${maxTableBits}`);
  }
  const tables = buildTreeShapTables(e, cover, maxTableBits, source);
  const { nBranches, nLeaves, roots, treeLeaves, feature, mode, threshold, nanTrue, trueChild, falseChild, bit } = tables;
  const { leafSize, leafElem, leafTable, leafScale, elemFeature, elemRatio, elemZero, elemInverse, table, weights } = tables;
  // Per node: bit mask of the path elements the row sends down a cold branch (leaves at nBranches + l).
  const coldMask = new Int32Array(nBranches + nLeaves);
  // For leaves without a table: elementary symmetric polynomials of 1/z over the hot set.
  const sym = new Float64Array(tables.maxPathFeatures + 2);
  const memoryBytes = tables.bytes + coldMask.byteLength + sym.byteLength;

  /**
   * Adds leaf l's Shapley values without a table, O(|H|²): with q = 1/z and e_s the elementary symmetric
   * polynomials of q over the hot set, A(P) = Π z · Σ_s w(s) e_s(q_P); e_s(q_{H\i}) is unwound from
   * e_s(q_H) downward (e_{s-1}(H\i) = (e_s(H) - e_s(H\i)) · z_i), as LightGBM unwinds a hot element.
   */
  function leafWithoutTable(l: number, hot: number, out: Float64Array, o: number): void {
    const d = leafSize[l]!;
    const e0 = leafElem[l]!;
    const scale = leafScale[l]!;
    const w0 = (d * (d + 1)) / 2;
    let h = 0;
    sym[0] = 1;
    for (let k = 0; k < d; k++) {
      if (((hot >> k) & 1) === 0) continue;
      const q = elemInverse[e0 + k]!;
      sym[h + 1] = sym[h]! * q;
      for (let s = h; s >= 1; s--) sym[s] = sym[s]! + q * sym[s - 1]!;
      h++;
    }
    let a = 0;
    for (let s = 0; s <= h && s < d; s++) a += weights[w0 + s]! * sym[s]!;
    const cold = -scale * a;
    for (let k = 0; k < d; k++) {
      const f = o + elemFeature[e0 + k]!;
      if (((hot >> k) & 1) === 0) {
        out[f] = out[f]! + cold;
        continue;
      }
      const z = elemZero[e0 + k]!;
      let g = sym[h]! * z;
      let b = weights[w0 + h - 1]! * g;
      for (let s = h - 1; s >= 1; s--) {
        g = (sym[s]! - g) * z;
        b += weights[w0 + s - 1]! * g;
      }
      out[f] = out[f]! + scale * elemRatio[e0 + k]! * b;
    }
  }

  /**
   * Parents come before children, so each node's mask is final when it is read. Branch-free on purpose:
   * which child is cold is data-dependent (about half the time each way), so a branch mispredicts.
   */
  function markColdBranches(row: Float32Array, offset: number, from: number, to: number): void {
    coldMask[from] = 0; // a root
    for (let n = from; n < to; n++) {
      const x = row[offset + feature[n]!]!;
      // 1 when the row does not take the true child (NaN follows the node's missing rule).
      const trueCold = x !== x ? nanTrue[n]! ^ 1 : goesFalse(mode[n]!, x, threshold[n]!);
      const m = coldMask[n]!;
      const b = bit[n]!;
      const cb = -trueCold & b;
      coldMask[trueChild[n]!] = m | cb;
      coldMask[falseChild[n]!] = m | (b ^ cb);
    }
  }

  /** Adds every leaf's Shapley values: one table lookup per path element (hot or cold, no branch). */
  function addLeafValues(out: Float64Array, o: number, from: number, to: number): void {
    for (let l = from; l < to; l++) {
      const d = leafSize[l]!;
      const hot = ~coldMask[nBranches + l]! & ((1 << d) - 1);
      const t0 = leafTable[l]!;
      if (t0 < 0) {
        leafWithoutTable(l, hot, out, o);
        continue;
      }
      const e0 = leafElem[l]!;
      const cold = -table[t0 + hot]!;
      for (let k = 0; k < d; k++) {
        // A cold k reads table[t0 + hot] again (cached) and its product is discarded by the 0 factor.
        const hotValue = elemRatio[e0 + k]! * table[t0 + (hot ^ ((1 << k) & hot))]!;
        const f = o + elemFeature[e0 + k]!;
        out[f] = out[f]! + cold + ((hot >> k) & 1) * (hotValue - cold);
      }
    }
  }

  return {
    width,
    expectedValue,
    memoryBytes,
    kernel: 'tables',
    contributions(row, offset, out) {
      checkContributionArgs(width, row, offset, out);
      out.fill(0, 0, width);
      for (let t = 0; t < roots.length; t++) {
        markColdBranches(row, offset, roots[t]!, t + 1 < roots.length ? roots[t + 1]! : nBranches);
      }
      addLeafValues(out, 0, 0, nLeaves);
      out[width] = expectedValue;
    },
    contributionsBatch(rows, count, out) {
      if (!(Number.isInteger(count) && count >= 0 && count * width <= rows.length && count * (width + 1) <= out.length)) {
        throw new ChurnflowError('CF_SCORING_FAILED', `a batch of ${count} rows of ${width} columns needs ${count * width} row values and ${count * (width + 1)} output slots, got ${rows.length} and ${out.length}`);
      }
      out.fill(0, 0, count * (width + 1));
      for (let t = 0; t < roots.length; t++) {
        const b1 = t + 1 < roots.length ? roots[t + 1]! : nBranches;
        for (let i = 0; i < count; i++) {
          markColdBranches(rows, i * width, roots[t]!, b1);
          addLeafValues(out, i * (width + 1), treeLeaves[t]!, treeLeaves[t + 1]!);
        }
      }
      for (let i = 0; i < count; i++) out[i * (width + 1) + width] = expectedValue;
    },
  };
}
