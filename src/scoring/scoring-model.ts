// A loaded, checked model ready to score feature rows: bundle + input vectorizer + scorer (the trees as
// generated WebAssembly checked against onnxruntime, or onnxruntime alone: trees/tree-scorer.ts).
import type { CompiledSpec } from '../features/compile-spec.js';
import { createTreeExplainer, type FeatureRowExplainer } from './explain/explainer.js';
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
  /** Scores spec feature rows (NaN = missing) with the manifest's imputation. */
  scoreFeatures(rows: readonly Float64Array[]): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function loadScoringModel(dir: string, spec: CompiledSpec, options: { intraOpThreads?: number; explain?: boolean; engine?: 'auto' | 'onnxruntime'; workerShare?: number } = {}): Promise<ScoringModel> {
  const bundle = await loadModelBundle(dir, spec);
  const vectorizer = createInputVectorizer(spec.columns, bundle.manifest);
  // One read and parse of model.onnx for both tree walkers (onnxruntime parses its own copy).
  const trees = options.engine === 'onnxruntime' && !options.explain ? undefined : await readModelTrees(bundle);
  // The explainer first: a bundle that cannot be explained fails before a session is opened.
  const explainer = options.explain ? (await createTreeExplainer(bundle, trees)).forSpec(spec.columns, vectorizer) : undefined;
  const scorer = await createTreeScorer(bundle, {
    ...(trees === undefined ? {} : { trees }),
    ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
    ...(options.workerShare === undefined ? {} : { workerShare: options.workerShare }),
  });
  return {
    manifest: bundle.manifest,
    vectorizer,
    scorer,
    dir,
    ...(explainer ? { explainer } : {}),
    async scoreFeatures(rows) {
      // The input rows go straight into the scorer's buffer (the generated scorer's module memory).
      const { width } = vectorizer;
      return scorer.scoreFilled(rows.length, (buffer) => {
        for (let i = 0; i < rows.length; i++) vectorizer.write(rows[i]!, buffer, i * width);
      });
    },
    close: () => scorer.close(),
  };
}
