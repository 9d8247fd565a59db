// Reliability bins: mean predicted score against the observed churn rate in equal-width score bins,
// binned exactly as sklearn's calibration_curve(strategy='uniform') so the numbers can be checked.
import { ChurnflowError } from '../errors.js';
import { checkLabelsAndScores } from './ranked-counts.js';

export interface CalibrationBin {
  readonly lower: number;
  readonly upper: number;
  readonly rows: number;
  readonly churners: number;
  /** Null for an empty bin (sklearn leaves those out). */
  readonly meanPredicted: number | null;
  readonly observedRate: number | null;
}

/** Inner edges as numpy's linspace(0, 1, bins + 1)[1:-1] computes them (i · step, not i / bins). */
export function calibrationEdges(bins: number): number[] {
  const step = 1 / bins;
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? 1 : i * step));
}

/**
 * Bin i holds scores in (edge i, edge i+1], the first bin also 0 (numpy's searchsorted, side left).
 * Scores must lie in [0, 1].
 */
export function calibrationBins(labels: ArrayLike<number>, scores: ArrayLike<number>, bins = 10): CalibrationBin[] {
  checkLabelsAndScores(labels, scores);
  if (!Number.isInteger(bins) || bins < 1) throw new ChurnflowError('CF_INPUT_INVALID', `calibration needs a positive whole number of bins, got ${bins}`);
  const edges = calibrationEdges(bins);
  const rows = new Array<number>(bins).fill(0);
  const churners = new Array<number>(bins).fill(0);
  const sums = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s < 0 || s > 1) throw new ChurnflowError('CF_INPUT_INVALID', `score ${i} is ${s}; calibration needs probabilities in [0, 1]`);
    const b = binOf(s, edges);
    rows[b]!++;
    churners[b]! += labels[i]!;
    sums[b]! += s;
  }
  return rows.map((n, b) => ({
    lower: edges[b]!,
    upper: edges[b + 1]!,
    rows: n,
    churners: churners[b]!,
    meanPredicted: n === 0 ? null : sums[b]! / n,
    observedRate: n === 0 ? null : churners[b]! / n,
  }));
}

/** Index of the first inner edge >= s (numpy searchsorted side='left' over edges[1:-1]). */
function binOf(s: number, edges: readonly number[]): number {
  let b = 0;
  while (b < edges.length - 2 && edges[b + 1]! < s) b++;
  return b;
}
