// A loaded, checked model ready to score feature rows: bundle + input vectorizer + scorer (the trees as
// generated WebAssembly checked against onnxruntime, or onnxruntime alone: trees/tree-scorer.ts).
import type { CompiledSpec } from '../features/compile-spec.js';
import { createTreeExplainer, type FeatureReason, type FeatureRowExplainer } from './explain/explainer.js';
import type { ShapWorkerData } from './explain/shap-worker.js';
import { RowWorker } from './row-worker.js';
import { readModelTrees } from './explain/model-trees.js';
import { createInputVectorizer, type InputVectorizer } from './input-vectorizer.js';
import type { ModelManifest } from './manifest.js';
import { loadModelBundle } from './model-bundle.js';
import { createTreeScorer, type EngineScorer } from './trees/tree-scorer.js';

export interface ScoringModel {
  readonly manifest: ModelManifest;
  readonly vectorizer: InputVectorizer;
  readonly scorer: EngineScorer;
  /** Bundle directory it was loaded from. */
  readonly dir: string;
  /** Exact TreeSHAP over the model's trees, when loaded with `explain`. */
  readonly explainer?: FeatureRowExplainer;
  /** TreeSHAP on a worker thread for a share of a batch's explained rows (explain and model.workerShare > 0). */
  readonly offThreadReasons?: OffThreadReasons;
  /** Scores spec feature rows (NaN = missing) with the manifest's imputation. */
  scoreFeatures(rows: readonly Float64Array[]): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface OffThreadReasons {
  /** Share of a batch's explained rows to hand to the worker (the rest are explained on the calling thread meanwhile). */
  readonly share: number;
  /** explainer.reasonsMany's values for these rows, computed on the worker thread. */
  reasons(rows: readonly Float64Array[], k: number): Promise<FeatureReason[][]>;
}

export interface ScoringModelOptions {
  intraOpThreads?: number;
  explain?: boolean;
  engine?: 'auto' | 'onnxruntime';
  /** model.workerShare: the share of a large batch's rows walked (and explained) on worker threads; 0 or absent: none. */
  workerShare?: number;
  /** A worker thread failed: its rows are computed on the calling thread from then on (same results, less throughput). */
  onWorkerFailure?: (what: 'scoring' | 'TreeSHAP', err: Error) => void;
}

export async function loadScoringModel(dir: string, spec: CompiledSpec, options: ScoringModelOptions = {}): Promise<ScoringModel> {
  const bundle = await loadModelBundle(dir, spec);
  const vectorizer = createInputVectorizer(spec.columns, bundle.manifest);
  // One read and parse of model.onnx for both tree walkers (onnxruntime parses its own copy).
  const trees = options.engine === 'onnxruntime' && !options.explain ? undefined : await readModelTrees(bundle);
  // The explainer first: a bundle that cannot be explained fails before a session is opened.
  const tree = options.explain ? await createTreeExplainer(bundle, trees) : undefined;
  const explainer = tree?.forSpec(spec.columns, vectorizer);
  const share = options.workerShare ?? 0;
  const shapData: ShapWorkerData | undefined = tree?.plan && share > 0 ? { plan: tree.plan, width: tree.width, expectedValue: tree.expectedValue } : undefined;
  const shapWorker = shapData ? new RowWorker<Float64Array>(new URL('./explain/shap-worker.js', import.meta.url), shapData, 'TreeSHAP', (err) => options.onWorkerFailure?.('TreeSHAP', err)) : undefined;
  let scorer: EngineScorer;
  try {
    scorer = await createTreeScorer(bundle, {
      ...(trees === undefined ? {} : { trees }),
      ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
      ...(options.engine === undefined ? {} : { engine: options.engine }),
      ...(options.workerShare === undefined ? {} : { workerShare: options.workerShare }),
      ...(options.onWorkerFailure === undefined ? {} : { onWorkerFailure: (err: Error) => options.onWorkerFailure!('scoring', err) }),
    });
  } catch (err) {
    await shapWorker?.close(); // a model that fails to load leaves no thread behind
    throw err;
  }
  // The worker threads build their kernels at load, as this thread did (a failed one is reported and left out).
  if (shapWorker !== undefined) await shapWorker.ready;
  await scorer.workerReady;
  return {
    manifest: bundle.manifest,
    vectorizer,
    scorer,
    dir,
    ...(explainer ? { explainer } : {}),
    ...(explainer && shapWorker ? { offThreadReasons: { share, reasons: (rows: readonly Float64Array[], k: number) => explainer.reasonsOn(shapWorker, rows, k) } } : {}),
    async scoreFeatures(rows) {
      // The input rows go straight into the scorer's buffer (the generated scorer's module memory).
      const { width } = vectorizer;
      return scorer.scoreFilled(rows.length, (buffer) => {
        for (let i = 0; i < rows.length; i++) vectorizer.write(rows[i]!, buffer, i * width);
      });
    },
    async close() {
      await shapWorker?.close();
      await scorer.close();
    },
  };
}
