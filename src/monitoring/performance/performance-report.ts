// Rolling model performance of one window and model version, from its summed performance sketch:
// recall and precision at the threshold, average precision, calibration per reference score bin, and
// the concept-drift rule (recall below a fraction of the manifest's validation recall).
import type { DriftMonitorOptions } from '../drift/drift-options.js';
import type { Severity } from '../drift/severity.js';
import { averagePrecision } from './average-precision.js';
import { AP_BINS, AP_NEG, AP_POS, CALIBRATION, FN, FP, LABELS, TN, TP, type PerformanceLayout } from './performance-sketch.js';

export interface CalibrationBin {
  readonly count: number;
  readonly meanScore: number;
  readonly observedRate: number;
}

export interface PerformanceReport {
  readonly predictions: number;
  /** Positive predictions (one per tick within a churner's horizon). */
  readonly positives: number;
  /** Distinct labels (churners) behind them: the effective sample size of recall. */
  readonly labels: number;
  readonly predictedPositives: number;
  readonly recall: number;
  readonly precision: number;
  readonly averagePrecision: number;
  /** Σ (count/n)·|mean score − observed rate| over the calibration bins (expected calibration error). */
  readonly calibrationError: number;
  readonly calibration: readonly CalibrationBin[];
  /** Recall below recallAlertFraction × validation recall (with at least minLabels labels). */
  readonly conceptDrift: boolean;
  readonly recallSeverity: Severity;
}

export function performanceReport(counts: Float64Array, layout: PerformanceLayout, validationRecall: number | null, o: DriftMonitorOptions): PerformanceReport {
  const tp = counts[TP]!;
  const fp = counts[FP]!;
  const fn = counts[FN]!;
  const tn = counts[TN]!;
  const n = tp + fp + fn + tn;
  const positives = tp + fn;
  const recall = positives > 0 ? tp / positives : Number.NaN;
  const precision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const ap = averagePrecision(counts.subarray(AP_POS, AP_POS + AP_BINS), counts.subarray(AP_NEG, AP_NEG + AP_BINS));
  const calibration: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b <= layout.calibrationEdges.length; b++) {
    const at = CALIBRATION + 3 * b;
    const count = counts[at]!;
    const meanScore = count > 0 ? counts[at + 1]! / count : Number.NaN;
    const observedRate = count > 0 ? counts[at + 2]! / count : Number.NaN;
    calibration.push({ count, meanScore, observedRate });
    if (count > 0) ece += (count / n) * Math.abs(meanScore - observedRate);
  }
  const labels = counts[LABELS]!;
  const enough = labels >= o.minLabels;
  const conceptDrift = enough && validationRecall !== null && recall < o.recallAlertFraction * validationRecall;
  return {
    predictions: n,
    positives,
    labels,
    predictedPositives: tp + fp,
    recall,
    precision,
    averagePrecision: ap,
    calibrationError: n > 0 ? ece : Number.NaN,
    calibration,
    conceptDrift,
    recallSeverity: conceptDrift ? 'alert' : 'ok',
  };
}
