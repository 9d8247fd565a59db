// Reads the tree ensemble out of a model.onnx file so reasons (TreeSHAP) are computed from the very
// trees onnxruntime scores with, not from a second copy of the model. The ONNX file is decoded with
// protobufjs against a vendored subset of onnx-ml.proto; the TreeEnsemble{Classifier,Regressor}
// attributes become flat typed arrays. Node covers (training samples per node), which ONNX has no
// field for, come from the model's `churnflow.tree_covers` metadata entry written by the trainer.
import protobuf from 'protobufjs/light.js';
import { z } from 'zod';
import { ChurnflowError, errorMessage } from '../../errors.js';

/**
 * The subset of onnx.proto (ai.onnx, IR v4+) needed to reach a graph's nodes, their attributes and the
 * model's metadata_props. Field numbers are upstream's; fields left out are skipped when decoding.
 * Enum-typed fields (AttributeProto.type, TensorProto.data_type) are read as their int32 wire value.
 */
export const ONNX_ML_SUBSET_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadata_props: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            doc_string: { type: 'string', id: 10 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            doc_string: { type: 'string', id: 6 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            ref_attr_name: { type: 'string', id: 21 },
            doc_string: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            data_type: { type: 'int32', id: 2 },
            float_data: { rule: 'repeated', type: 'float', id: 4 },
            int32_data: { rule: 'repeated', type: 'int32', id: 5 },
            string_data: { rule: 'repeated', type: 'bytes', id: 6 },
            int64_data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            raw_data: { type: 'bytes', id: 9 },
            double_data: { rule: 'repeated', type: 'double', id: 10 },
            uint64_data: { rule: 'repeated', type: 'uint64', id: 11 },
          },
        },
      },
    },
  },
} as const;

/** The metadata_props key the trainer stores node covers under (training/churnflow_trainer/model.py). */
export const TREE_COVERS_KEY = 'churnflow.tree_covers';
export const TREE_COVERS_FORMAT = 'churnflow.tree_covers/v1';

/** Node modes, as small integers in `TreeEnsemble.mode`. */
export const NodeMode = {
  LEAF: 0,
  BRANCH_LEQ: 1,
  BRANCH_LT: 2,
  BRANCH_GTE: 3,
  BRANCH_GT: 4,
  BRANCH_EQ: 5,
  BRANCH_NEQ: 6,
} as const;
export type NodeModeName = keyof typeof NodeMode;
const MODE_NAMES = Object.keys(NodeMode) as NodeModeName[];

/**
 * One tree ensemble as flat arrays over all nodes (the ONNX attribute order; node k of the arrays is
 * the k-th entry of nodes_treeids / nodes_nodeids). Children are indexes into the same arrays.
 */
export interface TreeEnsemble {
  readonly op: 'TreeEnsembleClassifier' | 'TreeEnsembleRegressor';
  /** The tensor the ensemble reads (must be the model input for column indexes to mean input columns). */
  readonly inputName: string;
  /** What the margin (sum of leaf values + base value) is: log-odds of `positiveLabel`, or the regression value. */
  readonly output: { readonly kind: 'binary-logit'; readonly positiveLabel: string } | { readonly kind: 'regression' };
  readonly nTrees: number;
  readonly nNodes: number;
  /** Root node of each tree. */
  readonly roots: Int32Array;
  /** Input column a branch node tests (-1 for leaves). */
  readonly feature: Int32Array;
  /** NodeMode code per node. */
  readonly mode: Uint8Array;
  /** Branch threshold (float32 in the file, widened exactly). */
  readonly threshold: Float64Array;
  /** Child taken when the test holds / does not hold (-1 for leaves). */
  readonly trueChild: Int32Array;
  readonly falseChild: Int32Array;
  /** 1: a NaN input takes the true branch; 0: it takes whatever the comparison gives. */
  readonly missingTracksTrue: Uint8Array;
  /** Leaf value added to the margin (0 for branch nodes). */
  readonly value: Float64Array;
  /** Training samples that reached each node; null when the model carries none. */
  readonly cover: Float64Array | null;
  /** Constant added to the margin (base_values). */
  readonly baseValue: number;
  /** Largest number of edges from a root to a leaf. */
  readonly maxDepth: number;
  /** 1 + the largest input column any branch tests (0 if none). */
  readonly nFeaturesUsed: number;
}

/** The ONNX attributes of a tree-ensemble node, as plain arrays (what parseTreeEnsembleAttributes reads). */
export interface TreeEnsembleAttributes {
  readonly op: 'TreeEnsembleClassifier' | 'TreeEnsembleRegressor';
  readonly inputName: string;
  readonly nodes_treeids: readonly number[];
  readonly nodes_nodeids: readonly number[];
  readonly nodes_featureids: readonly number[];
  readonly nodes_values: readonly number[];
  readonly nodes_modes: readonly string[];
  readonly nodes_truenodeids: readonly number[];
  readonly nodes_falsenodeids: readonly number[];
  readonly nodes_missing_value_tracks_true?: readonly number[];
  /** class_* for a classifier, target_* for a regressor. */
  readonly leaf_treeids: readonly number[];
  readonly leaf_nodeids: readonly number[];
  readonly leaf_ids: readonly number[];
  readonly leaf_weights: readonly number[];
  readonly base_values?: readonly number[];
  readonly post_transform?: string;
  /** Classifier only. */
  readonly classlabels?: readonly string[];
  /** Regressor only. */
  readonly n_targets?: number;
  readonly aggregate_function?: string;
}

const ENSEMBLE_OPS = new Set(['TreeEnsembleClassifier', 'TreeEnsembleRegressor']);
const ML_DOMAIN = 'ai.onnx.ml';
// TensorProto.DataType
const DT_FLOAT = 1;
const DT_DOUBLE = 11;

interface Int64Like {
  toNumber(): number;
}
type Int64 = number | Int64Like;

interface DecodedTensor {
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  double_data?: number[];
  raw_data?: Uint8Array;
}
interface DecodedAttribute {
  name?: string;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: DecodedTensor;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
}
interface DecodedNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: DecodedAttribute[];
}
interface DecodedModel {
  graph?: { node?: DecodedNode[] };
  metadata_props?: { key?: string; value?: string }[];
}

let modelType: protobuf.Type | undefined;
function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_ML_SUBSET_DESCRIPTOR as unknown as protobuf.INamespace).lookupType('onnx.ModelProto');
  return modelType;
}

function invalid(source: string, message: string, cause?: unknown): ChurnflowError {
  return new ChurnflowError('CF_MODEL_INVALID', `${source}: ${message}`, cause === undefined ? {} : { cause });
}

const int64 = (v: Int64): number => (typeof v === 'number' ? v : v.toNumber());
const utf8 = new TextDecoder('utf-8', { fatal: false });

function tensorNumbers(t: DecodedTensor, source: string, what: string): number[] {
  const type = t.data_type ?? 0;
  if (type !== DT_FLOAT && type !== DT_DOUBLE) throw invalid(source, `attribute ${what}: tensor data type ${type} is not float or double`);
  const raw = t.raw_data;
  if (raw && raw.length > 0) {
    const size = type === DT_FLOAT ? 4 : 8;
    if (raw.length % size !== 0) throw invalid(source, `attribute ${what}: raw_data length ${raw.length} is not a multiple of ${size}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Array<number>(raw.length / size);
    for (let k = 0; k < out.length; k++) out[k] = size === 4 ? view.getFloat32(k * 4, true) : view.getFloat64(k * 8, true);
    return out;
  }
  return [...((type === DT_FLOAT ? t.float_data : t.double_data) ?? [])];
}

/** Decodes model.onnx bytes and reads the attributes of its single tree-ensemble node, plus covers. */
export function parseTreeEnsembleAttributes(bytes: Uint8Array, source: string): { attributes: TreeEnsembleAttributes; covers: number[] | null } {
  let model: DecodedModel;
  try {
    model = onnxModelType().decode(bytes) as unknown as DecodedModel;
  } catch (err) {
    throw invalid(source, `not an ONNX model (protobuf decode failed: ${errorMessage(err)})`, err);
  }
  const nodes = (model.graph?.node ?? []).filter((n) => (n.domain ?? '') === ML_DOMAIN && ENSEMBLE_OPS.has(n.op_type ?? ''));
  if (nodes.length !== 1) {
    const ops = (model.graph?.node ?? []).map((n) => `${n.domain ? `${n.domain}.` : ''}${n.op_type ?? '?'}`);
    throw invalid(source, `expected exactly one ai.onnx.ml TreeEnsembleClassifier/TreeEnsembleRegressor node, found ${nodes.length} (graph ops: ${ops.join(', ') || 'none'})`);
  }
  const node = nodes[0]!;
  const op = node.op_type as TreeEnsembleAttributes['op'];
  const attrs = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
  for (const name of ['nodes_values', 'base_values', 'class_weights', 'target_weights']) {
    if (attrs.has(name) && attrs.has(`${name}_as_tensor`)) throw invalid(source, `${op} has both ${name} and ${name}_as_tensor`);
  }
  const ints = (name: string, required: boolean): number[] | undefined => {
    const a = attrs.get(name);
    if (!a) {
      if (required) throw invalid(source, `${op} has no attribute ${name}`);
      return undefined;
    }
    return (a.ints ?? []).map(int64);
  };
  const floats = (name: string, required: boolean): number[] | undefined => {
    const a = attrs.get(name);
    if (a) return [...(a.floats ?? [])];
    const t = attrs.get(`${name}_as_tensor`)?.t;
    if (t) return tensorNumbers(t, source, `${name}_as_tensor`);
    if (required) throw invalid(source, `${op} has no attribute ${name} (nor ${name}_as_tensor)`);
    return undefined;
  };
  const strings = (name: string): string[] | undefined => attrs.get(name)?.strings?.map((s) => utf8.decode(s));
  const string = (name: string): string | undefined => {
    const s = attrs.get(name)?.s;
    return s === undefined ? undefined : utf8.decode(s);
  };
  const leaf = op === 'TreeEnsembleClassifier' ? 'class' : 'target';
  const input = node.input?.[0];
  if (!input) throw invalid(source, `${op} has no input`);
  const classlabels =
    op === 'TreeEnsembleClassifier' ? strings('classlabels_strings') ?? ints('classlabels_int64s', false)?.map(String) : undefined;
  const nTargets = attrs.get('n_targets')?.i;
  const attributes: TreeEnsembleAttributes = {
    op,
    inputName: input,
    nodes_treeids: ints('nodes_treeids', true)!,
    nodes_nodeids: ints('nodes_nodeids', true)!,
    nodes_featureids: ints('nodes_featureids', true)!,
    nodes_values: floats('nodes_values', true)!,
    nodes_modes: strings('nodes_modes') ?? [],
    nodes_truenodeids: ints('nodes_truenodeids', true)!,
    nodes_falsenodeids: ints('nodes_falsenodeids', true)!,
    nodes_missing_value_tracks_true: ints('nodes_missing_value_tracks_true', false) ?? [],
    leaf_treeids: ints(`${leaf}_treeids`, true)!,
    leaf_nodeids: ints(`${leaf}_nodeids`, true)!,
    leaf_ids: ints(`${leaf}_ids`, true)!,
    leaf_weights: floats(`${leaf}_weights`, true)!,
    base_values: floats('base_values', false) ?? [],
    post_transform: string('post_transform') ?? 'NONE',
    ...(classlabels === undefined ? {} : { classlabels }),
    ...(nTargets === undefined ? {} : { n_targets: int64(nTargets) }),
    aggregate_function: string('aggregate_function') ?? 'SUM',
  };
  const entry = (model.metadata_props ?? []).find((p) => p.key === TREE_COVERS_KEY);
  return { attributes, covers: entry === undefined ? null : parseCovers(entry.value ?? '', op, source) };
}

const coversSchema = z.object({
  format: z.literal(TREE_COVERS_FORMAT),
  op: z.string(),
  covers: z.array(z.number().finite().min(0)),
});

function parseCovers(json: string, op: string, source: string): number[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw invalid(source, `metadata ${TREE_COVERS_KEY} is not JSON: ${errorMessage(err)}`, err);
  }
  const res = coversSchema.safeParse(raw);
  if (!res.success) {
    throw invalid(source, `metadata ${TREE_COVERS_KEY}: ${res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (res.data.op !== op) throw invalid(source, `metadata ${TREE_COVERS_KEY} describes a ${res.data.op}, the graph has a ${op}`);
  return res.data.covers;
}

/**
 * Checks the attributes and flattens them into a TreeEnsemble. Pure; throws CF_MODEL_INVALID naming
 * what is wrong for anything the explainer cannot treat exactly (unknown modes, DAG-shaped trees,
 * multi-class outputs, MIN/MAX aggregation, covers that do not fit the trees).
 */
export function buildTreeEnsemble(a: TreeEnsembleAttributes, covers: readonly number[] | null, source: string): TreeEnsemble {
  const n = a.nodes_treeids.length;
  const same: [string, number][] = [
    ['nodes_nodeids', a.nodes_nodeids.length],
    ['nodes_featureids', a.nodes_featureids.length],
    ['nodes_values', a.nodes_values.length],
    ['nodes_modes', a.nodes_modes.length],
    ['nodes_truenodeids', a.nodes_truenodeids.length],
    ['nodes_falsenodeids', a.nodes_falsenodeids.length],
  ];
  const tracks = a.nodes_missing_value_tracks_true ?? [];
  if (tracks.length !== 0) same.push(['nodes_missing_value_tracks_true', tracks.length]);
  for (const [name, len] of same) {
    if (len !== n) throw invalid(source, `${a.op}: ${name} has ${len} entries, nodes_treeids has ${n}`);
  }
  if (n === 0) throw invalid(source, `${a.op} has no nodes`);
  const nl = a.leaf_treeids.length;
  if (a.leaf_nodeids.length !== nl || a.leaf_ids.length !== nl || a.leaf_weights.length !== nl) {
    throw invalid(source, `${a.op}: leaf tree ids / node ids / output ids / weights have different lengths`);
  }

  // Which output the margin is, and which leaf weights feed it.
  const post = a.post_transform ?? 'NONE';
  let output: TreeEnsemble['output'];
  const base = a.base_values ?? [];
  if (a.op === 'TreeEnsembleClassifier') {
    const labels = a.classlabels ?? [];
    if (labels.length !== 2 || a.leaf_ids.some((id) => id !== 0)) {
      throw invalid(source, `${a.op}: only binary classifiers with a single score column are supported (classes [${labels.join(', ')}], class ids used [${[...new Set(a.leaf_ids)].join(', ')}])`);
    }
    if (post !== 'LOGISTIC') throw invalid(source, `${a.op}: post_transform ${post} is not supported (need LOGISTIC: the margin is the positive class's log-odds)`);
    output = { kind: 'binary-logit', positiveLabel: labels[1]! };
  } else {
    if ((a.n_targets ?? 1) !== 1 || a.leaf_ids.some((id) => id !== 0)) throw invalid(source, `${a.op}: only single-target regressors are supported (n_targets ${a.n_targets})`);
    if (post !== 'NONE') throw invalid(source, `${a.op}: post_transform ${post} is not supported (need NONE)`);
    output = { kind: 'regression' };
  }
  if (base.length > 1) throw invalid(source, `${a.op}: base_values has ${base.length} entries, expected at most 1 for a single score column`);
  const baseValue = base[0] ?? 0;
  if (!Number.isFinite(baseValue)) throw invalid(source, `${a.op}: base_values is not finite`);

  // Trees in first-appearance order; (tree id, node id) -> flat index.
  const treeIndex = new Map<number, number>();
  const key = (tree: number, node: number): string => `${tree}:${node}`;
  const index = new Map<string, number>();
  const mode = new Uint8Array(n);
  const feature = new Int32Array(n);
  const threshold = new Float64Array(n);
  const trueChild = new Int32Array(n).fill(-1);
  const falseChild = new Int32Array(n).fill(-1);
  const missingTracksTrue = new Uint8Array(n);
  const value = new Float64Array(n);
  let nFeaturesUsed = 0;
  for (let k = 0; k < n; k++) {
    const t = a.nodes_treeids[k]!;
    if (!treeIndex.has(t)) treeIndex.set(t, treeIndex.size);
    const id = key(t, a.nodes_nodeids[k]!);
    if (index.has(id)) throw invalid(source, `${a.op}: tree ${t} has node id ${a.nodes_nodeids[k]} twice`);
    index.set(id, k);
    const m = a.nodes_modes[k]!;
    const code = MODE_NAMES.includes(m as NodeModeName) ? NodeMode[m as NodeModeName] : undefined;
    if (code === undefined) {
      throw invalid(source, `${a.op}: tree ${t} node ${a.nodes_nodeids[k]} has node mode '${m}'; supported: ${MODE_NAMES.join(', ')}`);
    }
    mode[k] = code;
    if (code === NodeMode.LEAF) {
      feature[k] = -1;
      continue;
    }
    const f = a.nodes_featureids[k]!;
    if (!Number.isInteger(f) || f < 0) throw invalid(source, `${a.op}: tree ${t} node ${a.nodes_nodeids[k]} tests feature ${f}`);
    feature[k] = f;
    nFeaturesUsed = Math.max(nFeaturesUsed, f + 1);
    threshold[k] = a.nodes_values[k]!;
    if (Number.isNaN(threshold[k])) throw invalid(source, `${a.op}: tree ${t} node ${a.nodes_nodeids[k]} has a NaN threshold`);
    const tr = tracks[k] ?? 0;
    if (tr !== 0 && tr !== 1) throw invalid(source, `${a.op}: nodes_missing_value_tracks_true must be 0 or 1, got ${tr}`);
    missingTracksTrue[k] = tr;
  }
  for (let k = 0; k < n; k++) {
    if (mode[k] === NodeMode.LEAF) continue;
    const t = a.nodes_treeids[k]!;
    const tc = index.get(key(t, a.nodes_truenodeids[k]!));
    const fc = index.get(key(t, a.nodes_falsenodeids[k]!));
    if (tc === undefined || fc === undefined) throw invalid(source, `${a.op}: tree ${t} node ${a.nodes_nodeids[k]} points to a missing child`);
    trueChild[k] = tc;
    falseChild[k] = fc;
  }
  const scale = a.op === 'TreeEnsembleRegressor' && a.aggregate_function === 'AVERAGE' ? 1 / treeIndex.size : 1;
  if (a.op === 'TreeEnsembleRegressor' && a.aggregate_function !== 'SUM' && a.aggregate_function !== 'AVERAGE') {
    throw invalid(source, `${a.op}: aggregate_function ${a.aggregate_function} is not additive; supported: SUM, AVERAGE`);
  }
  for (let j = 0; j < nl; j++) {
    const k = index.get(key(a.leaf_treeids[j]!, a.leaf_nodeids[j]!));
    if (k === undefined || mode[k] !== NodeMode.LEAF) {
      throw invalid(source, `${a.op}: a leaf weight points to tree ${a.leaf_treeids[j]} node ${a.leaf_nodeids[j]}, which is not a leaf`);
    }
    value[k] = value[k]! + a.leaf_weights[j]! * scale;
  }

  // Roots and shape: every node reached exactly once from its tree's single root (a tree, not a DAG).
  const isChild = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    if (trueChild[k]! >= 0) isChild[trueChild[k]!] = 1;
    if (falseChild[k]! >= 0) isChild[falseChild[k]!] = 1;
  }
  const roots = new Int32Array(treeIndex.size).fill(-1);
  for (let k = 0; k < n; k++) {
    if (isChild[k]) continue;
    const ti = treeIndex.get(a.nodes_treeids[k]!)!;
    if (roots[ti] !== -1) throw invalid(source, `${a.op}: tree ${a.nodes_treeids[k]} has more than one root`);
    roots[ti] = k;
  }
  const seen = new Uint8Array(n);
  let maxDepth = 0;
  const stack: number[] = [];
  for (let ti = 0; ti < roots.length; ti++) {
    if (roots[ti] === -1) throw invalid(source, `${a.op}: tree ${[...treeIndex].find(([, i]) => i === ti)?.[0]} has no root (a cycle)`);
    stack.push(roots[ti]!, 0);
    while (stack.length > 0) {
      const depth = stack.pop()!;
      const k = stack.pop()!;
      if (seen[k]) throw invalid(source, `${a.op}: tree ${a.nodes_treeids[k]} reaches node ${a.nodes_nodeids[k]} twice (shared subtrees are not supported)`);
      seen[k] = 1;
      if (mode[k] === NodeMode.LEAF) maxDepth = Math.max(maxDepth, depth);
      else stack.push(trueChild[k]!, depth + 1, falseChild[k]!, depth + 1);
    }
  }
  const unreached = seen.indexOf(0);
  if (unreached !== -1) throw invalid(source, `${a.op}: tree ${a.nodes_treeids[unreached]} node ${a.nodes_nodeids[unreached]} is not reachable from its root`);

  let cover: Float64Array | null = null;
  if (covers !== null) {
    if (covers.length !== n) throw invalid(source, `${TREE_COVERS_KEY} has ${covers.length} covers for ${n} tree-ensemble nodes`);
    cover = Float64Array.from(covers);
    for (let k = 0; k < n; k++) {
      if (mode[k] === NodeMode.LEAF) continue;
      const c = cover[k]!;
      const ct = cover[trueChild[k]!]!;
      const cf = cover[falseChild[k]!]!;
      if (!(ct > 0 && cf > 0)) {
        throw invalid(source, `${TREE_COVERS_KEY}: tree ${a.nodes_treeids[k]} node ${a.nodes_nodeids[k]} has a child that covers no samples (${ct}, ${cf}); TreeSHAP needs every node of a split tree to cover some`);
      }
      const sum = ct + cf;
      if (Math.abs(sum - c) > 1e-9 * c) {
        throw invalid(source, `${TREE_COVERS_KEY}: tree ${a.nodes_treeids[k]} node ${a.nodes_nodeids[k]} covers ${c} samples but its children ${sum}; the covers do not belong to these trees`);
      }
    }
  }
  return {
    op: a.op,
    inputName: a.inputName,
    output,
    nTrees: roots.length,
    nNodes: n,
    roots,
    feature,
    mode,
    threshold,
    trueChild,
    falseChild,
    missingTracksTrue,
    value,
    cover,
    baseValue,
    maxDepth,
    nFeaturesUsed,
  };
}

/** model.onnx bytes -> TreeEnsemble (covers from metadata when present). */
export function parseOnnxTreeEnsemble(bytes: Uint8Array, source: string): TreeEnsemble {
  const { attributes, covers } = parseTreeEnsembleAttributes(bytes, source);
  return buildTreeEnsemble(attributes, covers, source);
}

/** The branch a row takes at branch node k (ONNX TreeEnsemble semantics, NaN handling included). */
export function takesTrueBranch(e: TreeEnsemble, k: number, x: number): boolean {
  if (x !== x) return e.missingTracksTrue[k] === 1 || e.mode[k] === NodeMode.BRANCH_NEQ;
  const t = e.threshold[k]!;
  switch (e.mode[k]) {
    case NodeMode.BRANCH_LEQ:
      return x <= t;
    case NodeMode.BRANCH_LT:
      return x < t;
    case NodeMode.BRANCH_GTE:
      return x >= t;
    case NodeMode.BRANCH_GT:
      return x > t;
    case NodeMode.BRANCH_EQ:
      return x === t;
    case NodeMode.BRANCH_NEQ:
      return x !== t;
    default:
      throw new ChurnflowError('CF_SCORING_FAILED', `node ${k} is a leaf, not a branch`);
  }
}

/** The ensemble's margin for one row (sum of the leaves reached + base value), as a plain tree walk. */
export function ensembleMargin(e: TreeEnsemble, row: ArrayLike<number>, offset = 0): number {
  let sum = e.baseValue;
  for (let ti = 0; ti < e.nTrees; ti++) {
    let k = e.roots[ti]!;
    while (e.mode[k] !== NodeMode.LEAF) k = takesTrueBranch(e, k, row[offset + e.feature[k]!]!) ? e.trueChild[k]! : e.falseChild[k]!;
    sum += e.value[k]!;
  }
  return sum;
}
