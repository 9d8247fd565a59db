// Ranking and classification metrics as scikit-learn defines them (roc_auc_score, average_precision_score,
// precision_recall_fscore_support, brier_score_loss); undefined values are null, never NaN.
import { checkLabelsAndScores, type RankedCounts } from './ranked-counts.js';

export interface CurvePoint {
  readonly x: number;
  readonly y: number;
}

/** ROC points (fpr, tpr) from (0, 0) through every distinct threshold to (1, 1); empty when one class is absent. */
export function rocCurve(ranked: RankedCounts): CurvePoint[] {
  if (ranked.positives === 0 || ranked.negatives === 0) return [];
  const points: CurvePoint[] = [{ x: 0, y: 0 }];
  for (let i = 0; i < ranked.thresholds.length; i++) points.push({ x: ranked.fp[i]! / ranked.negatives, y: ranked.tp[i]! / ranked.positives });
  return points;
}

/** Area under the ROC curve (trapezoids, so tied scores count one half), null when one class is absent. */
export function rocAuc(ranked: RankedCounts): number | null {
  const pts = rocCurve(ranked);
  if (pts.length === 0) return null;
  let area = 0;
  for (let i = 1; i < pts.length; i++) area += ((pts[i]!.x - pts[i - 1]!.x) * (pts[i]!.y + pts[i - 1]!.y)) / 2;
  return area;
}

/** Precision–recall points (recall, precision) at each distinct threshold, highest threshold first; empty without positives. */
export function precisionRecallCurve(ranked: RankedCounts): CurvePoint[] {
  if (ranked.positives === 0) return [];
  const points: CurvePoint[] = [];
  for (let i = 0; i < ranked.thresholds.length; i++) {
    const tp = ranked.tp[i]!;
    points.push({ x: tp / ranked.positives, y: tp / (tp + ranked.fp[i]!) });
  }
  return points;
}

/**
 * Average precision: Σ (Rₙ − Rₙ₋₁) · Pₙ over the distinct thresholds (no interpolation), as
 * sklearn's average_precision_score. Null when there are no positives or no negatives (the trainer
 * reports no PR-AUC then either).
 */
export function averagePrecision(ranked: RankedCounts): number | null {
  if (ranked.positives === 0 || ranked.negatives === 0) return null;
  let ap = 0;
  let prevRecall = 0;
  for (const p of precisionRecallCurve(ranked)) {
    ap += (p.x - prevRecall) * p.y;
    prevRecall = p.x;
  }
  return ap;
}

export interface ThresholdMetrics {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  /** 0 when nobody is flagged (sklearn's zero_division=0, as the trainer). */
  readonly precision: number;
  /** 0 when there are no positives. */
  readonly recall: number;
  readonly f1: number;
}

/** Confusion counts and precision / recall / F1 when score >= threshold means "contact". */
export function thresholdMetrics(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold: number): ThresholdMetrics {
  checkLabelsAndScores(labels, scores);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < labels.length; i++) {
    const flagged = scores[i]! >= threshold;
    if (labels[i] === 1) flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  }
  return {
    threshold,
    tp,
    fp,
    fn,
    tn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    f1: 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn),
  };
}

/** Mean squared difference between score and label; null for no rows. */
export function brierScore(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkLabelsAndScores(labels, scores);
  if (labels.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (scores[i]! - labels[i]!) ** 2;
  return sum / labels.length;
}
