// A loaded, checked model ready to score feature rows: bundle + input vectorizer + ONNX session.
import type { CompiledSpec } from '../features/compile-spec.js';
import { createInputVectorizer, type InputVectorizer } from './input-vectorizer.js';
import type { ModelManifest } from './manifest.js';
import { loadModelBundle } from './model-bundle.js';
import { createOnnxScorer, type BatchScorer } from './onnx-scorer.js';

export interface ScoringModel {
  readonly manifest: ModelManifest;
  readonly vectorizer: InputVectorizer;
  readonly scorer: BatchScorer;
  /** Scores spec feature rows (NaN = missing) with the manifest's imputation. */
  scoreFeatures(rows: readonly Float64Array[]): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function loadScoringModel(dir: string, spec: CompiledSpec, options: { intraOpThreads?: number } = {}): Promise<ScoringModel> {
  const bundle = await loadModelBundle(dir, spec);
  const vectorizer = createInputVectorizer(spec.columns, bundle.manifest);
  const scorer = await createOnnxScorer(bundle, options);
  return {
    manifest: bundle.manifest,
    vectorizer,
    scorer,
    async scoreFeatures(rows) {
      // A fresh buffer per call: onnxruntime reads it asynchronously, and calls may overlap.
      const buffer = new Float32Array(rows.length * vectorizer.width);
      rows.forEach((r, i) => vectorizer.write(r, buffer, i * vectorizer.width));
      return scorer.score(buffer, rows.length);
    },
    close: () => scorer.close(),
  };
}
