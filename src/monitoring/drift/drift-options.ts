// The drift monitor's settings: windows, severity thresholds, the label join and the retraining
// rules, with defaults and a check that fails naming the option (the config schema maps onto this).
import { ChurnflowError } from '../../errors.js';

const DAY_MS = 86_400_000;

export interface DriftMonitorOptions {
  /** Event-time window of the data- and prediction-drift statistics… */
  readonly windowMs: number;
  /**
   * …recomputed every slideMs (windowMs must be a multiple of it; windows end at multiples of it).
   * Observation rows are taken at midnights, so whole days; hourly slides only suit a per-event feed.
   */
  readonly slideMs: number;
  readonly psiWarn: number;
  readonly psiAlert: number;
  /** p-value thresholds of the KS, chi-square and rate tests… */
  readonly pValueWarn: number;
  readonly pValueAlert: number;
  /**
   * …which only count with an effect at least this large (KS D, the categories' total variation
   * distance): with thousands of live values p-values flag gaps of a few percentage points that change
   * nothing — weekday seasonality moves the recency features' D to 0.08–0.12 in daily windows, the
   * injected login drift to > 0.2 (bench/drift-monitoring.bench.ts).
   */
  readonly minEffectSize: number;
  /** Absolute change of a feature's missing rate against the reference's missing_share. */
  readonly missingRateWarn: number;
  readonly missingRateAlert: number;
  /** Share of a window's values outside the known categories that makes a new category an alert. */
  readonly newCategoryShareAlert: number;
  /** Relative change of the predicted-positive rate against the reference's share above the threshold. */
  readonly positiveRateWarn: number;
  readonly positiveRateAlert: number;
  /** Fewer values than this in a window: no statistics for it (a feature's non-missing values, the window's rows). */
  readonly minSamples: number;
  /**
   * Days after the first observed event in which windows give no verdicts: a stream that starts with
   * empty state (a fresh deployment, the simulator) has no 30/90-day history yet, and its features
   * differ from the reference's full-history rows for exactly that reason, not because the data drifted.
   */
  readonly warmupDays: number;
  /** Rows behind the manifest reference; default the manifest's metrics.train.rows (the rows the bins come from). */
  readonly referenceRows?: number;

  /** Label horizon: a score predicts a label within this many days (the spec's label.horizonDays). */
  readonly horizonDays: number;
  /** Predictions are taken at multiples of this (the score in force at each tick), as the training snapshot observes every 7 days. */
  readonly evaluationEveryMs: number;
  /** Rolling window and slide of the performance metrics (by the time a prediction's outcome became known). */
  readonly performanceWindowMs: number;
  readonly performanceSlideMs: number;
  /**
   * Fewer labels (churners) than this in a performance window: no concept-drift verdict. Counted in
   * customers, not positive predictions: one churner resolves a prediction per tick in its horizon.
   */
  readonly minLabels: number;
  /** Concept drift: rolling recall below this fraction of the manifest's validation recall. */
  readonly recallAlertFraction: number;
  /**
   * How long a label (cancellation) keeps its customer out of observation samples (isGone), as the
   * training snapshot leaves churned customers out. Keep the state store's idle TTL below it.
   */
  readonly labelMemoryDays: number;

  /** Retraining when more than this many features are at alert severity in one window. */
  readonly maxFeaturesInAlert: number;
  /** Retraining when the model (manifest created_at) is older than this at event time. */
  readonly maxModelAgeDays: number;
  /** A retraining reason fires at most once per model version within this much event time. */
  readonly triggerCooldownMs: number;
}

export const DEFAULT_DRIFT_MONITOR_OPTIONS: Readonly<DriftMonitorOptions> = Object.freeze({
  windowMs: DAY_MS,
  slideMs: DAY_MS,
  psiWarn: 0.1,
  psiAlert: 0.25,
  pValueWarn: 0.01,
  pValueAlert: 0.001,
  minEffectSize: 0.1,
  missingRateWarn: 0.05,
  missingRateAlert: 0.1,
  newCategoryShareAlert: 0.01,
  positiveRateWarn: 0.25,
  positiveRateAlert: 0.5,
  minSamples: 100,
  warmupDays: 0,
  horizonDays: 30,
  evaluationEveryMs: 7 * DAY_MS,
  performanceWindowMs: 28 * DAY_MS,
  performanceSlideMs: DAY_MS,
  minLabels: 30,
  recallAlertFraction: 0.8,
  labelMemoryDays: 365,
  maxFeaturesInAlert: 3,
  maxModelAgeDays: 90,
  triggerCooldownMs: 7 * DAY_MS,
});

/** Every option's name (the config schema accepts these and no others under monitoring.options). */
export const DRIFT_MONITOR_OPTION_KEYS = Object.freeze([...(Object.keys(DEFAULT_DRIFT_MONITOR_OPTIONS) as (keyof DriftMonitorOptions)[]), 'referenceRows'] as const);

function invalid(option: string, allowed: string, got: unknown): never {
  throw new ChurnflowError('CF_CONFIG_INVALID', `drift monitor option "${option}" must be ${allowed}, got ${String(got)}`, { details: { option, allowed } });
}

export function resolveDriftMonitorOptions(partial: Partial<DriftMonitorOptions> = {}): DriftMonitorOptions {
  const o: DriftMonitorOptions = { ...DEFAULT_DRIFT_MONITOR_OPTIONS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  const positiveInt = (k: keyof DriftMonitorOptions) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) invalid(k, 'a positive integer', v);
  };
  const inUnit = (k: keyof DriftMonitorOptions) => {
    const v = o[k];
    if (typeof v !== 'number' || !(v > 0 && v < 1)) invalid(k, 'a number in (0, 1)', v);
  };
  const positive = (k: keyof DriftMonitorOptions) => {
    const v = o[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) invalid(k, 'a positive number', v);
  };
  for (const k of ['windowMs', 'slideMs', 'evaluationEveryMs', 'performanceWindowMs', 'performanceSlideMs', 'minSamples', 'minLabels', 'triggerCooldownMs'] as const) positiveInt(k);
  for (const k of ['pValueWarn', 'pValueAlert', 'minEffectSize', 'missingRateWarn', 'missingRateAlert', 'newCategoryShareAlert', 'recallAlertFraction'] as const) inUnit(k);
  for (const k of ['psiWarn', 'psiAlert', 'positiveRateWarn', 'positiveRateAlert', 'horizonDays', 'maxModelAgeDays', 'labelMemoryDays'] as const) positive(k);
  if (!Number.isInteger(o.maxFeaturesInAlert) || o.maxFeaturesInAlert < 0) invalid('maxFeaturesInAlert', 'an integer >= 0', o.maxFeaturesInAlert);
  if (o.referenceRows !== undefined) positiveInt('referenceRows');
  if (!(o.warmupDays >= 0) || !Number.isFinite(o.warmupDays)) invalid('warmupDays', 'a number >= 0', o.warmupDays);
  if (o.windowMs % o.slideMs !== 0) invalid('windowMs', `a multiple of slideMs (${o.slideMs})`, o.windowMs);
  if (o.performanceWindowMs % o.performanceSlideMs !== 0) invalid('performanceWindowMs', `a multiple of performanceSlideMs (${o.performanceSlideMs})`, o.performanceWindowMs);
  if (o.psiWarn > o.psiAlert) invalid('psiWarn', `at most psiAlert (${o.psiAlert})`, o.psiWarn);
  if (o.pValueAlert > o.pValueWarn) invalid('pValueAlert', `at most pValueWarn (${o.pValueWarn})`, o.pValueAlert);
  if (o.missingRateWarn > o.missingRateAlert) invalid('missingRateWarn', `at most missingRateAlert (${o.missingRateAlert})`, o.missingRateWarn);
  if (o.positiveRateWarn > o.positiveRateAlert) invalid('positiveRateWarn', `at most positiveRateAlert (${o.positiveRateAlert})`, o.positiveRateWarn);
  return Object.freeze(o);
}
