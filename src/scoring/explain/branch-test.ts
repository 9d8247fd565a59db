// The branch test of a tree node, shared by the TreeSHAP passes (one definition of which child a value takes).
import { NodeMode } from './onnx-tree-ensemble.js';

/** 1 when a non-NaN `x` does not satisfy the node's test (LEQ first: LightGBM writes only LEQ nodes). */
export function goesFalse(mode: number, x: number, t: number): number {
  switch (mode) {
    case NodeMode.BRANCH_LEQ:
      return x <= t ? 0 : 1;
    case NodeMode.BRANCH_LT:
      return x < t ? 0 : 1;
    case NodeMode.BRANCH_GTE:
      return x >= t ? 0 : 1;
    case NodeMode.BRANCH_GT:
      return x > t ? 0 : 1;
    case NodeMode.BRANCH_EQ:
      return x === t ? 0 : 1;
    default:
      return x !== t ? 0 : 1; // BRANCH_NEQ
  }
}
