// Scores every step of a batch in one ONNX call (the micro-batch is the scoring batch).
import { concatMap, type OperatorFunction } from 'rxjs';
import type { ScoringModel } from '../scoring/scoring-model.js';
import type { AggregatedBatch, ScoredBatch } from './batch.js';

export async function scoreBatch(batch: AggregatedBatch, model: ScoringModel): Promise<ScoredBatch> {
  const scores = await model.scoreFeatures(batch.steps.map((s) => s.features));
  return { ...batch, scores, model: { manifest: model.manifest, scorer: 'model' } };
}

/** `model` is read per batch, so a handle whose current model changes is picked up between batches. */
export function scoreSteps(model: () => ScoringModel): OperatorFunction<AggregatedBatch, ScoredBatch> {
  return concatMap((batch) => scoreBatch(batch, model()));
}
