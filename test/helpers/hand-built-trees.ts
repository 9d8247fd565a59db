// Hand-built tree ensembles as ONNX TreeEnsembleClassifier attributes, for the TreeSHAP and the
// generated scorer's tests: node ids in depth-first order per tree, a branch's cover the sum of its
// leaves' (a leaf without one covers 1).
import type { NodeModeName, TreeEnsembleAttributes } from '../../src/scoring/explain/onnx-tree-ensemble.js';

export type HandNode = { leaf: number; cover?: number } | { f: number; t: number; mode?: NodeModeName; tracks?: 0 | 1; yes: HandNode; no: HandNode };

export interface HandNodeRow {
  tree: number;
  id: number;
  f: number;
  t: number;
  mode: string;
  yes: number;
  no: number;
  tracks: number;
  cover: number;
  leaf?: number;
}

const coverOf = (n: HandNode): number => ('leaf' in n ? (n.cover ?? 1) : coverOf(n.yes) + coverOf(n.no));

/** One row per node, trees in order, each tree's nodes in depth-first order (a branch defaults to BRANCH_LEQ). */
export function handNodeRows(trees: readonly HandNode[]): HandNodeRow[] {
  const rows: HandNodeRow[] = [];
  trees.forEach((root, tree) => {
    let next = 0;
    const visit = (n: HandNode): number => {
      const id = next++;
      if ('leaf' in n) {
        rows.push({ tree, id, f: 0, t: 0, mode: 'LEAF', yes: 0, no: 0, tracks: 0, cover: coverOf(n), leaf: n.leaf });
        return id;
      }
      const row: HandNodeRow = { tree, id, f: n.f, t: n.t, mode: n.mode ?? 'BRANCH_LEQ', yes: -1, no: -1, tracks: n.tracks ?? 0, cover: coverOf(n) };
      rows.push(row);
      row.yes = visit(n.yes);
      row.no = visit(n.no);
      return id;
    };
    visit(root);
  });
  return rows;
}

/** The rows as binary-logistic classifier attributes (thresholds as float32; leaf weights as given unless `float32Leaves`). */
export function handAttributes(rows: readonly HandNodeRow[], opts: { base?: number; float32Leaves?: boolean } = {}): TreeEnsembleAttributes {
  const leaves = rows.filter((r) => r.leaf !== undefined);
  return {
    op: 'TreeEnsembleClassifier',
    inputName: 'input',
    nodes_treeids: rows.map((r) => r.tree),
    nodes_nodeids: rows.map((r) => r.id),
    nodes_featureids: rows.map((r) => r.f),
    nodes_values: rows.map((r) => Math.fround(r.t)),
    nodes_modes: rows.map((r) => r.mode),
    nodes_truenodeids: rows.map((r) => r.yes),
    nodes_falsenodeids: rows.map((r) => r.no),
    nodes_missing_value_tracks_true: rows.map((r) => r.tracks),
    leaf_treeids: leaves.map((r) => r.tree),
    leaf_nodeids: leaves.map((r) => r.id),
    leaf_ids: leaves.map(() => 0),
    leaf_weights: leaves.map((r) => (opts.float32Leaves ? Math.fround(r.leaf!) : r.leaf!)),
    base_values: opts.base === undefined ? [] : [opts.base],
    post_transform: 'LOGISTIC',
    classlabels: ['0', '1'],
  };
}
