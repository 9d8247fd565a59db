// Which tree ensembles the generated WebAssembly scorer may score in onnxruntime's place: those whose
// output it reproduces by construction (wasm-margin-kernel.ts, onnx-logistic.ts). Anything else stays on
// onnxruntime. The load-time check against onnxruntime (tree-scorer.ts) is the second guard.
import type { TreeEnsemble, TreeEnsembleAttributes } from '../explain/onnx-tree-ensemble.js';

/** null when the generated scorer reproduces this ensemble; otherwise why it does not. */
export function whyNotCompilable(a: TreeEnsembleAttributes, e: TreeEnsemble, intraOpThreads: number): string | null {
  // With more threads onnxruntime may sum groups of trees separately: another float32 summation order.
  if (intraOpThreads !== 1) return `intraOpThreads is ${intraOpThreads} (the tree order of the sum is only fixed with 1)`;
  if (a.op !== 'TreeEnsembleClassifier' || e.output.kind !== 'binary-logit') return `${a.op} is not a binary classifier`;
  // With base_values onnxruntime adds them in its own order; with all-positive weights it reports
  // 1 - score instead of the logistic (its "binary case" rules). Neither happens with LightGBM's exports.
  if ((a.base_values ?? []).length !== 0) return 'it has base_values';
  if (!a.leaf_weights.some((w) => w < 0)) return 'no leaf weight is negative (onnxruntime then skips the logistic)';
  // Float32 thresholds and weights: onnxruntime compares and sums in float32 only then.
  if (!a.nodes_values.every((v) => Math.fround(v) === v || Number.isNaN(v))) return 'a threshold is not a float32';
  if (!a.leaf_weights.every((v) => Math.fround(v) === v)) return 'a leaf weight is not a float32';
  // One weight per leaf: two would be two float32 additions, the ensemble's value their double sum.
  const leaves = new Set(a.leaf_treeids.map((t, j) => `${t}:${a.leaf_nodeids[j]}`));
  if (leaves.size !== a.leaf_treeids.length) return 'a leaf has more than one weight';
  return null;
}
