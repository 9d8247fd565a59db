// Reasons for a churn score: exact TreeSHAP over the bundle's own ONNX trees, in log-odds, folded
// from model input columns back to the manifest's features (a feature's missing indicator counts as
// part of that feature) and ranked, so a risk event can say which features pushed the risk up.
import { ChurnflowError } from '../../errors.js';
import type { FeatureColumn } from '../../features/compile-spec.js';
import { createInputVectorizer, type InputVectorizer } from '../input-vectorizer.js';
import type { ModelManifest } from '../manifest.js';
import type { ModelBundle } from '../model-bundle.js';
import { readModelTrees, type ModelTrees } from './model-trees.js';
import type { TreeEnsemble } from './onnx-tree-ensemble.js';
import { compileTreeShap } from './tree-shap.js';
import type { LinearTreeShapPlan } from './linear-tree-shap-plan.js';
import type { RowWorker } from '../row-worker.js';

export interface FeatureReason {
  /** Manifest feature name. */
  feature: string;
  /** The feature's raw value (before imputation); null when it was missing. */
  value: number | null;
  /** Its SHAP value in log-odds, missing indicator included (> 0: pushes churn risk up). */
  contribution: number;
}

export interface TreeExplainer {
  /** Model input columns (manifest input_columns). */
  readonly width: number;
  /** Manifest feature names, in manifest order: the order of `rawValues` in reasons(). */
  readonly features: readonly string[];
  /** The bias: the model's expected margin (log-odds) over its training data. */
  readonly expectedValue: number;
  /** Bytes of TreeSHAP tables and scratch held for this model. */
  readonly memoryBytes: number;
  /** The WebAssembly pass's plan (undefined on the JavaScript fallback): what a worker thread needs to explain the same rows (shap-worker.ts). */
  readonly plan?: LinearTreeShapPlan;
  /** row: one model input row (manifest input_columns order, imputed). Returns width+1 values, bias last. */
  contributions(row: Float32Array, offset?: number): Float64Array;
  /**
   * Top-k features by positive contribution, a missing indicator's contribution folded into its
   * feature; sorted by contribution desc, then feature name; only contributions > 0.
   * rawValues[i]: raw value of manifest feature i (features[i]), NaN = missing.
   */
  reasons(row: Float32Array, rawValues: ArrayLike<number>, k: number, offset?: number): FeatureReason[];
  /**
   * Binds the explainer to the engine's feature spec columns, for callers holding spec feature rows
   * (Float64Array in spec column order, NaN = missing). Pass the scorer's vectorizer to reuse it;
   * otherwise one is built from the same manifest (same rows either way).
   */
  forSpec(columns: readonly FeatureColumn[], vectorizer?: InputVectorizer): FeatureRowExplainer;
}

export interface FeatureRowExplainer {
  readonly vectorizer: InputVectorizer;
  /** Top-k reasons for a spec feature row (NaN = missing). */
  reasons(features: Float64Array, k: number): FeatureReason[];
  /**
   * Top-k reasons for several spec feature rows at once (the same values as reasons() per row): the
   * rows go through each tree together (bench/treeshap.bench.ts: ≈ 15–20 % cheaper per row in chunks of 32).
   */
  reasonsMany(rows: readonly Float64Array[], k: number): FeatureReason[][];
  /**
   * The same values as reasonsMany, the contributions computed by a worker thread running the same
   * pass (shap-worker.ts); if it fails, on this thread. The rows are vectorized before anything is awaited.
   */
  reasonsOn(worker: RowWorker<Float64Array>, rows: readonly Float64Array[], k: number): Promise<FeatureReason[][]>;
  /** Per input column contributions (width+1, bias last) for a spec feature row. */
  contributions(features: Float64Array): Float64Array;
}

/**
 * Prepares exact TreeSHAP reasons for the bundle's trees: the parse `trees` given (loadScoringModel
 * shares one with the scorer), else the bundle's model.onnx read here. A model whose trees cannot be
 * parsed cannot be explained: CF_MODEL_INVALID.
 */
export async function createTreeExplainer(bundle: ModelBundle, trees?: ModelTrees): Promise<TreeExplainer> {
  const parsed = trees ?? (await readModelTrees(bundle));
  if (!parsed.ok) throw parsed.error;
  const { ensemble } = parsed;
  const { manifest } = bundle;
  if (ensemble.inputName !== manifest.onnx.input_name) {
    throw new ChurnflowError('CF_MODEL_INVALID', `${bundle.onnxPath}: the tree ensemble reads '${ensemble.inputName}', not the model input '${manifest.onnx.input_name}'; its feature ids would not be input columns`);
  }
  if (ensemble.output.kind === 'binary-logit' && manifest.onnx.positive_index !== 1) {
    throw new ChurnflowError('CF_MODEL_INVALID', `${bundle.onnxPath}: the trees score the log-odds of class '${ensemble.output.positiveLabel}' (probability column 1), but the manifest's positive_index is ${manifest.onnx.positive_index}`);
  }
  return buildTreeExplainer(ensemble, manifest, bundle.onnxPath);
}

/** The explainer over an already parsed ensemble (pure: no I/O). */
export function buildTreeExplainer(ensemble: TreeEnsemble, manifest: ModelManifest, source = `${manifest.name}@${manifest.version}`): TreeExplainer {
  const columns = manifest.input_columns;
  const width = columns.length;
  const shap = compileTreeShap(ensemble, width, source);
  const col = new Map(columns.map((c, j) => [c, j]));
  const features = manifest.features.map((f) => f.name);
  const valueCol = new Int32Array(features.length);
  const indicatorCol = new Int32Array(features.length).fill(-1);
  manifest.features.forEach((f, i) => {
    const v = col.get(f.name);
    const m = col.get(`${f.name}__missing`);
    if (v === undefined || (f.missing_indicator && m === undefined)) {
      throw new ChurnflowError('CF_MODEL_INVALID', `${source}: feature '${f.name}' has no input column${f.missing_indicator ? ' or no missing-indicator column' : ''}`);
    }
    valueCol[i] = v;
    if (f.missing_indicator) indicatorCol[i] = m!;
  });
  const scratch = new Float64Array(width + 1);

  function contributions(row: Float32Array, offset = 0): Float64Array {
    const out = new Float64Array(width + 1);
    shap.contributions(row, offset, out);
    return out;
  }

  function reasons(row: Float32Array, rawValues: ArrayLike<number>, k: number, offset = 0): FeatureReason[] {
    if (!(k >= 0)) throw new ChurnflowError('CF_INPUT_INVALID', `reasons: k must be >= 0, got ${k}`);
    if (rawValues.length !== features.length) {
      throw new ChurnflowError('CF_INPUT_INVALID', `reasons: ${rawValues.length} raw values for ${features.length} manifest features`);
    }
    shap.contributions(row, offset, scratch);
    return ranked(scratch, 0, rawValues, k);
  }

  /** Reasons from contributions at phi[at ..]: indicators folded, positive only, sorted, top k. */
  function ranked(phi: Float64Array, at: number, rawValues: ArrayLike<number>, k: number): FeatureReason[] {
    const out: FeatureReason[] = [];
    for (let i = 0; i < features.length; i++) {
      const ic = indicatorCol[i]!;
      const c = phi[at + valueCol[i]!]! + (ic >= 0 ? phi[at + ic]! : 0);
      if (!(c > 0)) continue;
      const raw = rawValues[i]!;
      out.push({ feature: features[i]!, value: Number.isNaN(raw) ? null : raw, contribution: c });
    }
    out.sort(byContributionThenName);
    return k < out.length ? out.slice(0, k) : out;
  }

  function forSpec(specColumns: readonly FeatureColumn[], vectorizer = createInputVectorizer(specColumns, manifest)): FeatureRowExplainer {
    if (vectorizer.width !== width) {
      throw new ChurnflowError('CF_MODEL_SPEC_MISMATCH', `${source}: the vectorizer writes ${vectorizer.width} columns, the model has ${width}`);
    }
    const index = new Map(specColumns.map((c, j) => [c.name, j]));
    const specIndex = Int32Array.from(features, (name) => {
      const j = index.get(name);
      if (j === undefined) throw new ChurnflowError('CF_MODEL_SPEC_MISMATCH', `${source} needs feature '${name}', which the feature spec does not produce`);
      return j;
    });
    const row = new Float32Array(width);
    const raw = new Float64Array(features.length);
    let batchRows = new Float32Array(0);
    let batchOut = new Float64Array(0);
    /** Each spec row's reasons from its contributions at phi[r * (width + 1) ..] (synchronous: `raw` is scratch). */
    const rankedRows = (fsRows: readonly Float64Array[], phi: Float64Array, k: number): FeatureReason[][] =>
      fsRows.map((fs, r) => {
        for (let i = 0; i < raw.length; i++) raw[i] = fs[specIndex[i]!]!;
        return ranked(phi, r * (width + 1), raw, k);
      });
    return {
      vectorizer,
      reasons(fs, k) {
        vectorizer.write(fs, row, 0);
        for (let i = 0; i < raw.length; i++) raw[i] = fs[specIndex[i]!]!;
        return reasons(row, raw, k);
      },
      contributions(fs) {
        vectorizer.write(fs, row, 0);
        return contributions(row);
      },
      reasonsMany(fsRows, k) {
        if (!(k >= 0)) throw new ChurnflowError('CF_INPUT_INVALID', `reasons: k must be >= 0, got ${k}`);
        const n = fsRows.length;
        if (batchRows.length < n * width) {
          batchRows = new Float32Array(n * width); // grows to the largest batch seen, then is reused
          batchOut = new Float64Array(n * (width + 1));
        }
        for (let r = 0; r < n; r++) vectorizer.write(fsRows[r]!, batchRows, r * width);
        shap.contributionsBatch(batchRows, n, batchOut);
        return rankedRows(fsRows, batchOut, k);
      },
      async reasonsOn(worker, fsRows, k) {
        if (!(k >= 0)) throw new ChurnflowError('CF_INPUT_INVALID', `reasons: k must be >= 0, got ${k}`);
        const n = fsRows.length;
        const rows = new Float32Array(n * width); // its own: batchRows may be reused before the worker answers
        for (let r = 0; r < n; r++) vectorizer.write(fsRows[r]!, rows, r * width);
        let out = await worker.run(rows, n).catch(() => undefined);
        if (out === undefined) {
          out = new Float64Array(n * (width + 1));
          shap.contributionsBatch(rows, n, out);
        }
        return rankedRows(fsRows, out, k);
      },
    };
  }

  return { width, features, expectedValue: shap.expectedValue, memoryBytes: shap.memoryBytes, ...(shap.plan ? { plan: shap.plan } : {}), contributions, reasons, forSpec };
}

function byContributionThenName(a: FeatureReason, b: FeatureReason): number {
  if (a.contribution !== b.contribution) return b.contribution - a.contribution;
  return a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0;
}
