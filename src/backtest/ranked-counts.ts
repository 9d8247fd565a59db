// Cumulative true and false positives at each distinct score, highest first: the one sorted pass that
// ROC, precision–recall and every threshold table share (scikit-learn's `_binary_clf_curve`).
import { ChurnflowError } from '../errors.js';

export interface RankedCounts {
  /** Distinct scores, descending. */
  readonly thresholds: Float64Array;
  /** tp[i] = positives with score >= thresholds[i]. */
  readonly tp: Float64Array;
  /** fp[i] = negatives with score >= thresholds[i]. */
  readonly fp: Float64Array;
  readonly positives: number;
  readonly negatives: number;
}

/** Refuses inputs the metrics cannot mean anything on: unequal lengths, labels other than 0/1, non-finite scores. */
export function checkLabelsAndScores(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) throw new ChurnflowError('CF_INPUT_INVALID', `labels (${labels.length}) and scores (${scores.length}) differ in length`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new ChurnflowError('CF_INPUT_INVALID', `label ${i} is ${String(y)}; labels must be 0 or 1`);
    if (!Number.isFinite(scores[i])) throw new ChurnflowError('CF_INPUT_INVALID', `score ${i} is ${String(scores[i])}; scores must be finite`);
  }
}

export function rankedCounts(labels: ArrayLike<number>, scores: ArrayLike<number>): RankedCounts {
  checkLabelsAndScores(labels, scores);
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const thresholds: number[] = [];
  const tp: number[] = [];
  const fp: number[] = [];
  let t = 0;
  let f = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (labels[i] === 1) t++;
    else f++;
    // A threshold closes where the next score differs: tied scores enter together.
    const next = k + 1 < n ? scores[order[k + 1]!]! : undefined;
    if (next !== scores[i]) {
      thresholds.push(scores[i]!);
      tp.push(t);
      fp.push(f);
    }
  }
  return { thresholds: Float64Array.from(thresholds), tp: Float64Array.from(tp), fp: Float64Array.from(fp), positives: t, negatives: f };
}

/** True and false positives when everyone with score >= threshold is flagged (binary search). */
export function countsAt(ranked: RankedCounts, threshold: number): { tp: number; fp: number } {
  // Number of distinct scores >= threshold; they are the first ones (descending).
  let lo = 0;
  let hi = ranked.thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranked.thresholds[mid]! >= threshold) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? { tp: 0, fp: 0 } : { tp: ranked.tp[lo - 1]!, fp: ranked.fp[lo - 1]! };
}
