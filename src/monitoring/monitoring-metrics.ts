// Prometheus metrics of the drift monitor, registered on the engine's registry beside
// observability/metrics.ts. Gauges hold the latest closed window's value per feature and model version.
import { Counter, Gauge, type Registry } from 'prom-client';

export function registerMonitoringMetrics(registry: Registry) {
  const r = [registry];
  const byFeature = ['feature', 'model_version'] as const;
  const byVersion = ['model_version'] as const;
  return {
    featurePsi: new Gauge({ name: 'churnflow_feature_psi', help: 'Population stability index of a feature against the model reference, latest window.', labelNames: byFeature, registers: r }),
    featureKsStatistic: new Gauge({ name: 'churnflow_feature_ks_statistic', help: 'Kolmogorov-Smirnov D of a numeric feature against the reference (binned), latest window.', labelNames: byFeature, registers: r }),
    featureKsPValue: new Gauge({ name: 'churnflow_feature_ks_p_value', help: 'Asymptotic KS p-value of a numeric feature, latest window.', labelNames: byFeature, registers: r }),
    featureChiSquarePValue: new Gauge({ name: 'churnflow_feature_chi_square_p_value', help: 'Chi-square p-value of a category feature against the reference, latest window.', labelNames: byFeature, registers: r }),
    featureMissingRate: new Gauge({ name: 'churnflow_feature_missing_rate', help: 'Share of missing values of a feature, latest window.', labelNames: byFeature, registers: r }),
    featureReferenceMissingRate: new Gauge({ name: 'churnflow_feature_reference_missing_rate', help: "Share of missing values of a feature in the model's reference.", labelNames: byFeature, registers: r }),
    featureNewCategories: new Gauge({ name: 'churnflow_feature_new_categories', help: 'Values outside the known categories of a category feature, latest window.', labelNames: byFeature, registers: r }),
    scorePsi: new Gauge({ name: 'churnflow_score_psi', help: 'Population stability index of the scores against the reference score bins, latest window.', labelNames: byVersion, registers: r }),
    scoreKsStatistic: new Gauge({ name: 'churnflow_score_ks_statistic', help: 'Kolmogorov-Smirnov D of the scores against the reference, latest window.', labelNames: byVersion, registers: r }),
    predictedPositiveRate: new Gauge({ name: 'churnflow_predicted_positive_rate', help: 'Share of scores at or above the threshold, latest window.', labelNames: byVersion, registers: r }),
    referencePositiveRate: new Gauge({ name: 'churnflow_reference_predicted_positive_rate', help: 'Share of reference scores at or above the threshold (from the reference score bins).', labelNames: byVersion, registers: r }),
    driftWindowSamples: new Gauge({ name: 'churnflow_drift_window_samples', help: 'Rows in the latest closed drift window.', labelNames: byVersion, registers: r }),
    modelRecall: new Gauge({ name: 'churnflow_model_recall', help: 'Rolling recall at the threshold, from delayed labels.', labelNames: byVersion, registers: r }),
    modelPrecision: new Gauge({ name: 'churnflow_model_precision', help: 'Rolling precision at the threshold, from delayed labels.', labelNames: byVersion, registers: r }),
    modelPrAuc: new Gauge({ name: 'churnflow_model_pr_auc', help: 'Rolling average precision (PR-AUC), from delayed labels.', labelNames: byVersion, registers: r }),
    modelCalibrationError: new Gauge({ name: 'churnflow_model_calibration_error', help: 'Rolling expected calibration error over the reference score bins.', labelNames: byVersion, registers: r }),
    modelLabelledPositives: new Gauge({ name: 'churnflow_model_labelled_customers', help: 'Labels (churners) behind the latest performance window.', labelNames: byVersion, registers: r }),
    modelValidationRecall: new Gauge({ name: 'churnflow_model_validation_recall', help: "The manifest's validation recall (the concept-drift line is a fraction of it).", labelNames: byVersion, registers: r }),
    modelAgeDays: new Gauge({ name: 'churnflow_model_age_days', help: 'Event time minus the manifest created_at, in days.', labelNames: byVersion, registers: r }),
    driftAlerts: new Counter({ name: 'churnflow_drift_alerts_total', help: 'Drift statistics at warn or alert severity, by subject.', labelNames: ['subject', 'severity'], registers: r }),
    retrainingTriggers: new Counter({ name: 'churnflow_retraining_triggers_total', help: 'Retraining triggers fired, by reason.', labelNames: ['reason'], registers: r }),
    monitoringLate: new Counter({ name: 'churnflow_monitoring_late_total', help: 'Samples and labels too late for the monitor (their windows had closed).', labelNames: ['kind'], registers: r }),
  };
}

export type MonitoringMetrics = ReturnType<typeof registerMonitoringMetrics>;
