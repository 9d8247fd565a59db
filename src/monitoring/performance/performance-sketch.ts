// Bounded summary of resolved predictions for one slice and model version: the confusion counts at
// the model's threshold (exact), positives and negatives per fine score bin (for the precision–recall
// curve) and per calibration bin (count, score sum, positives). Scores are never kept.
import { binIndex } from '../drift/bins.js';
import type { ResolvedPrediction } from './prediction-ledger.js';

/**
 * Fine bins for average precision: equal steps of logit(score) over [-10, 10] (scores 4.5e-5 …
 * 0.99995), so resolution follows the scores' spread near 0, where churn scores live. Average
 * precision over these bins is exact for the quantised scores (ties as scikit-learn treats them);
 * against unquantised scores the difference is measured in the parity test.
 */
export const AP_BINS = 1000;
const LOGIT_RANGE = 10;

export function apBin(score: number): number {
  const z = Math.log(score / (1 - score));
  if (!(z > -LOGIT_RANGE)) return 0;
  if (!(z < LOGIT_RANGE)) return AP_BINS - 1;
  return Math.min(AP_BINS - 1, Math.floor(((z + LOGIT_RANGE) / (2 * LOGIT_RANGE)) * AP_BINS));
}

export interface PerformanceLayout {
  /** Inner edges of the calibration bins (the reference score bins). */
  readonly calibrationEdges: Float64Array;
  readonly size: number;
}

// Flat layout: [tp, fp, fn, tn, labels | positives per AP bin | negatives per AP bin | per calibration bin: count, score sum, positives]
export const TP = 0;
export const FP = 1;
export const FN = 2;
export const TN = 3;
/** Distinct labels (churners) behind the positives: a label resolves one prediction per tick in its horizon. */
export const LABELS = 4;
export const AP_POS = 5;
export const AP_NEG = AP_POS + AP_BINS;
export const CALIBRATION = AP_NEG + AP_BINS;

export function performanceLayout(calibrationEdges: ArrayLike<number>): PerformanceLayout {
  const edges = Float64Array.from(calibrationEdges);
  return { calibrationEdges: edges, size: CALIBRATION + 3 * (edges.length + 1) };
}

export function addResolved(counts: Float64Array, layout: PerformanceLayout, p: ResolvedPrediction): void {
  const positive = p.label === 1;
  if (positive && p.firstOfLabel) counts[LABELS]! += 1;
  counts[positive ? (p.predictedPositive ? TP : FN) : p.predictedPositive ? FP : TN]! += 1;
  counts[(positive ? AP_POS : AP_NEG) + apBin(p.score)]! += 1;
  const c = CALIBRATION + 3 * binIndex(layout.calibrationEdges, p.score);
  counts[c]! += 1;
  counts[c + 1]! += p.score;
  if (positive) counts[c + 2]! += 1;
}
