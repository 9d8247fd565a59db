// Scores every step of a batch in one ONNX call (the micro-batch is the scoring batch).
import { concatMap, type OperatorFunction } from 'rxjs';
import type { ScoringModel } from '../scoring/scoring-model.js';
import type { AggregatedBatch, ScoredBatch } from './batch.js';

export async function scoreBatch(batch: AggregatedBatch, model: ScoringModel): Promise<ScoredBatch> {
  // One call for the rows after each event and the (distinct) rows before them; most "before" rows
  // are the previous step's "after" row and are scored once.
  const rows: Float64Array[] = [];
  const index = new Map<Float64Array, number>();
  const slot = (row: Float64Array) => {
    let i = index.get(row);
    if (i === undefined) {
      i = rows.length;
      rows.push(row);
      index.set(row, i);
    }
    return i;
  };
  const after = batch.steps.map((s) => slot(s.features));
  const before = batch.steps.map((s) => (s.before ? slot(s.before) : -1));
  const all = await model.scoreFeatures(rows);
  const scores = Float32Array.from(after, (i) => all[i]!);
  const beforeScores = Float32Array.from(before, (i) => (i < 0 ? Number.NaN : all[i]!));
  return { ...batch, scores, beforeScores, model: { manifest: model.manifest, scorer: 'model' } };
}

/** `model` is read per batch, so a handle whose current model changes is picked up between batches. */
export function scoreSteps(model: () => ScoringModel): OperatorFunction<AggregatedBatch, ScoredBatch> {
  return concatMap((batch) => scoreBatch(batch, model()));
}
