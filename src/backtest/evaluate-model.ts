// Everything the report says about one model on the backtest rows: ranking quality, the decision at
// its own threshold, calibration, lift, and the campaign economics over a threshold grid.
import { businessAt, bestRow, type BusinessRow, type Costs } from './business.js';
import { calibrationBins, type CalibrationBin } from './calibration.js';
import { liftByDecile, type LiftRow } from './lift.js';
import { averagePrecision, brierScore, precisionRecallCurve, rocAuc, rocCurve, thresholdMetrics, type ThresholdMetrics } from './metrics.js';
import { rankedCounts } from './ranked-counts.js';
import { scoreHistogram, type ScoreHistogram } from './score-histogram.js';
import { thinCurve } from './thin-curve.js';

export interface ModelIdentity {
  /** How the report names the model (unique within a report). */
  readonly label: string;
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  readonly featureSpecHash: string;
  readonly threshold: number;
  /** The trainer's validation metrics from the manifest, for comparison with this period. */
  readonly trainerValidation: Readonly<Record<string, unknown>> | null;
}

export interface ModelEvaluation extends ModelIdentity {
  readonly rocAuc: number | null;
  readonly prAuc: number | null;
  readonly brier: number | null;
  readonly meanScore: number | null;
  readonly atThreshold: ThresholdMetrics;
  readonly calibration: CalibrationBin[];
  readonly lift: LiftRow[];
  readonly business: {
    readonly atModelThreshold: BusinessRow;
    readonly bestOnGrid: BusinessRow | null;
    readonly grid: BusinessRow[];
  };
  readonly scoreHistogram: ScoreHistogram;
  /** Thinned for drawing (AUCs come from the full curves): [fpr, tpr] and [recall, precision]. */
  readonly curves: { readonly roc: [number, number][]; readonly pr: [number, number][] };
}

export interface EvaluationSettings {
  readonly costs: Costs;
  readonly grid: readonly number[];
  readonly calibrationBins: number;
  readonly histogramBins: number;
  /** Upper end of the histogram's score axis (the same for every model, so they can be compared). */
  readonly histogramUpper: number;
}

export function evaluateModel(identity: ModelIdentity, labels: ArrayLike<number>, scores: ArrayLike<number>, settings: EvaluationSettings): ModelEvaluation {
  const ranked = rankedCounts(labels, scores);
  const grid = settings.grid.map((t) => businessAt(ranked, t, settings.costs));
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += scores[i]!;
  return {
    ...identity,
    rocAuc: rocAuc(ranked),
    prAuc: averagePrecision(ranked),
    brier: brierScore(labels, scores),
    meanScore: scores.length === 0 ? null : sum / scores.length,
    atThreshold: thresholdMetrics(labels, scores, identity.threshold),
    calibration: calibrationBins(labels, scores, settings.calibrationBins),
    lift: liftByDecile(labels, scores),
    business: { atModelThreshold: businessAt(ranked, identity.threshold, settings.costs), bestOnGrid: bestRow(grid), grid },
    scoreHistogram: scoreHistogram(labels, scores, settings.histogramBins, settings.histogramUpper),
    curves: {
      roc: thinCurve(rocCurve(ranked)).map((p) => [p.x, p.y]),
      pr: thinCurve(precisionRecallCurve(ranked)).map((p) => [p.x, p.y]),
    },
  };
}
