// Drift and delayed-label performance of the scoring model, over sliding event-time windows: feature
// and score distributions against the manifest reference, rolling recall/precision/PR-AUC/calibration
// from labels joined to the scores in force a horizon earlier, and retraining triggers. Emits
// DriftMetricRecords for the drift topic and sets Prometheus gauges; holds binned sketches only.
import type { DriftMetricRecord } from '../events/wire-types.js';
import type { FeatureColumn } from '../features/compile-spec.js';
import type { ModelManifest } from '../scoring/manifest.js';
import { dataDriftFindings, featuresInAlert, type Finding } from './drift/data-drift.js';
import { resolveDriftMonitorOptions, type DriftMonitorOptions } from './drift/drift-options.js';
import { addSample, emptySlice, mergeSlices, sketchLayout, type DriftSlice, type SketchLayout } from './drift/drift-sketch.js';
import { driftRecord, recordKey, type RecordKey } from './drift/metric-record.js';
import { fnv1a } from './drift/observation-sample.js';
import { referenceProfile, type ReferenceProfile } from './drift/reference-profile.js';
import { SlidingSlices, windowEnds } from './drift/sliding-slices.js';
import type { MonitoringMetrics } from './monitoring-metrics.js';
import { performanceReport, type PerformanceReport } from './performance/performance-report.js';
import { addResolved, performanceLayout, type PerformanceLayout } from './performance/performance-sketch.js';
import { PredictionLedger, type ResolvedPrediction } from './performance/prediction-ledger.js';
import { RETRAINING_TRIGGER_STATISTIC, retrainingTriggers, type RetrainingTrigger, type TriggerHistory } from './retraining-triggers.js';

const DAY_MS = 86_400_000;

/** Rows to compare with the reference and/or scores to judge against later labels. */
export interface ObservedBatch {
  /** Spec feature rows (NaN = missing), as compileSpec evaluates them. */
  readonly rows: readonly ArrayLike<number>[];
  /** One score per row (NaN: not scored). */
  readonly scores: ArrayLike<number>;
  /** Event time of each row: what places it in a window. */
  readonly eventTimes: readonly number[];
  readonly customerIds: readonly string[];
  /** Raw values of the category features per row, only to name unknown categories. */
  readonly categories?: readonly (Readonly<Record<string, string | null>> | undefined)[];
  /** The model that scored these rows; switches the monitor's model when its version differs. */
  readonly model?: ModelManifest;
}

export interface LabelEvent {
  readonly customerId: string;
  readonly eventTime: number;
}

export interface DriftMonitorStats {
  readonly watermark: number | undefined;
  readonly driftSlices: number;
  readonly performanceSlices: number;
  readonly ledgerCustomers: number;
  readonly pendingPredictions: number;
  readonly lateSamples: number;
  readonly lateLabels: number;
}

interface ModelTrack {
  readonly manifest: ModelManifest;
  readonly profile: ReferenceProfile;
  readonly layout: SketchLayout;
  readonly drift: SlidingSlices<DriftSlice>;
  readonly perfLayout: PerformanceLayout;
  readonly perf: SlidingSlices<Float64Array>;
}

export class DriftMonitor {
  readonly options: DriftMonitorOptions;
  private readonly tracks = new Map<string, ModelTrack>();
  private current!: ModelTrack;
  private readonly ledger: PredictionLedger;
  private readonly triggerHistory: TriggerHistory = new Map();
  private watermark: number | undefined;
  private lastDriftEnd: number | undefined;
  private lastPerfEnd: number | undefined;
  private lateSamples = 0;
  private lateLabels = 0;
  /** Earliest event time observed; windows ending within warmupDays of it give no verdicts. */
  private firstObserved: number | undefined;
  /** fnv1a(customer id) → first label time, for isGone; a hash collision only drops a customer from the drift sample. */
  private readonly labelled = new Map<number, number>();
  private lastLabelPrune = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly columns: readonly FeatureColumn[],
    manifest: ModelManifest,
    options: Partial<DriftMonitorOptions> = {},
    private readonly metrics?: MonitoringMetrics,
  ) {
    this.options = resolveDriftMonitorOptions(options);
    this.ledger = new PredictionLedger({ horizonMs: this.options.horizonDays * DAY_MS, everyMs: this.options.evaluationEveryMs });
    this.setModel(manifest);
  }

  /** The model now scoring (hot swap): later rows and scores are attributed to it. */
  setModel(manifest: ModelManifest): void {
    let track = this.tracks.get(manifest.version);
    if (track === undefined) {
      const profile = referenceProfile(this.columns, manifest, this.options.referenceRows);
      const layout = sketchLayout(profile);
      const perfLayout = performanceLayout(profile.score?.edges ?? []);
      track = {
        manifest,
        profile,
        layout,
        drift: new SlidingSlices(this.options.slideMs, this.options.windowMs, () => emptySlice(layout, profile)),
        perfLayout,
        perf: new SlidingSlices(this.options.performanceSlideMs, this.options.performanceWindowMs, () => new Float64Array(perfLayout.size)),
      };
      this.tracks.set(manifest.version, track);
      const v = { model_version: manifest.version };
      if (profile.score) this.metrics?.referencePositiveRate.set(v, profile.score.shareAboveThreshold);
      if (profile.validationRecall !== null) this.metrics?.modelValidationRecall.set(v, profile.validationRecall);
      for (const f of profile.numeric) this.metrics?.featureReferenceMissingRate.set({ feature: f.name, model_version: manifest.version }, f.missingShare);
    }
    this.current = track;
  }

  get profile(): ReferenceProfile {
    return this.current.profile;
  }

  /** Rows for data and prediction drift, and their scores for the label join. */
  observe(batch: ObservedBatch): void {
    this.observeSample(batch);
    this.observeScores(batch);
  }

  /** Rows for data and prediction drift only (e.g. observation rows sampled apart from the scoring stream). */
  observeSample(batch: ObservedBatch): void {
    if (batch.model && batch.model.version !== this.current.manifest.version) this.setModel(batch.model);
    const t = this.current;
    this.noteFirst(batch.eventTimes);
    for (let i = 0; i < batch.rows.length; i++) {
      const time = batch.eventTimes[i]!;
      if (this.lastDriftEnd !== undefined && !t.drift.accepts(time, this.lastDriftEnd)) {
        this.lateSamples++;
        this.metrics?.monitoringLate.inc({ kind: 'sample' });
        continue;
      }
      const cats = batch.categories?.[i];
      addSample(t.drift.at(time), t.layout, t.profile, cats ? { row: batch.rows[i]!, score: batch.scores[i] ?? Number.NaN, categories: cats } : { row: batch.rows[i]!, score: batch.scores[i] ?? Number.NaN });
    }
  }

  /** Scores of the decisions made (every scored event), for the delayed-label join only. */
  observeScores(batch: Pick<ObservedBatch, 'scores' | 'eventTimes' | 'customerIds' | 'model'>): void {
    if (batch.model && batch.model.version !== this.current.manifest.version) this.setModel(batch.model);
    const { manifest } = this.current;
    this.noteFirst(batch.eventTimes);
    const threshold = manifest.decision.threshold;
    for (let i = 0; i < batch.customerIds.length; i++) {
      const s = batch.scores[i] ?? Number.NaN;
      this.ledger.recordScore(batch.customerIds[i]!, batch.eventTimes[i]!, s, manifest.version, s >= threshold);
    }
  }

  /** Label events (e.g. cancellations), in event time. */
  observeLabels(labels: readonly LabelEvent[]): void {
    for (const l of labels) {
      for (const p of this.ledger.recordLabel(l.customerId, l.eventTime)) this.addResolved(p);
      const h = fnv1a(l.customerId);
      const seen = this.labelled.get(h);
      if (seen === undefined || l.eventTime < seen) this.labelled.set(h, l.eventTime);
    }
  }

  /** Whether the customer's label (cancellation) came before `asOf`: such customers are left out of observation samples. */
  isGone(customerId: string, asOf: number): boolean {
    const t = this.labelled.get(fnv1a(customerId));
    return t !== undefined && t < asOf;
  }

  /** Advances event time; returns the records of every window that closed (drift, performance, triggers). */
  advance(watermark: number): DriftMetricRecord[] {
    if (!Number.isFinite(watermark) || (this.watermark !== undefined && watermark <= this.watermark)) return [];
    this.watermark = watermark;
    if (watermark - this.lastLabelPrune >= DAY_MS) {
      const before = watermark - this.options.labelMemoryDays * DAY_MS;
      for (const [h, t] of this.labelled) if (t < before) this.labelled.delete(h);
      this.lastLabelPrune = watermark;
    }
    for (const p of this.ledger.advance(watermark)) this.addResolved(p);
    return [...this.closeDriftWindows(watermark), ...this.closePerformanceWindows(watermark)];
  }

  /** Whether a window ending at `end` still lies in the warm-up after the first observed event. */
  warmingUp(end: number): boolean {
    if (this.options.warmupDays === 0) return false;
    return this.firstObserved === undefined || end < this.firstObserved + this.options.warmupDays * DAY_MS;
  }

  private noteFirst(times: readonly number[]): void {
    for (const t of times) if (this.firstObserved === undefined || t < this.firstObserved) this.firstObserved = t;
  }

  stats(): DriftMonitorStats {
    let driftSlices = 0;
    let performanceSlices = 0;
    for (const t of this.tracks.values()) {
      driftSlices += t.drift.size;
      performanceSlices += t.perf.size;
    }
    const l = this.ledger.stats();
    return { watermark: this.watermark, driftSlices, performanceSlices, ledgerCustomers: l.customers, pendingPredictions: l.pending, lateSamples: this.lateSamples, lateLabels: this.lateLabels + l.lateLabels };
  }

  private addResolved(p: ResolvedPrediction): void {
    const t = this.tracks.get(p.modelVersion);
    if (t === undefined) return;
    // A prediction made during the warm-up scored incomplete features: not the model's fault.
    if (this.warmingUp(p.predictionTime)) return;
    if (this.lastPerfEnd !== undefined && !t.perf.accepts(p.resolvedAt, this.lastPerfEnd)) {
      this.lateLabels++;
      this.metrics?.monitoringLate.inc({ kind: 'label' });
      return;
    }
    addResolved(t.perf.at(p.resolvedAt), t.perfLayout, p);
  }

  private startOf(which: 'drift' | 'perf', watermark: number, slideMs: number): number {
    let first: number | undefined;
    for (const t of this.tracks.values()) {
      const s = (which === 'drift' ? t.drift : t.perf).firstStart();
      if (s !== undefined && (first === undefined || s < first)) first = s;
    }
    return first ?? Math.floor(watermark / slideMs) * slideMs;
  }

  private closeDriftWindows(watermark: number): DriftMetricRecord[] {
    const o = this.options;
    this.lastDriftEnd ??= this.startOf('drift', watermark, o.slideMs);
    const out: DriftMetricRecord[] = [];
    for (const end of windowEnds(this.lastDriftEnd, watermark, o.slideMs)) {
      for (const t of this.tracks.values()) {
        if (this.warmingUp(end)) continue;
        const key = recordKey(t.profile.modelName, t.profile.modelVersion, end - o.windowMs, end);
        const slices = t.drift.window(end);
        let alerts: string[] = [];
        if (slices.length > 0) {
          const window = mergeSlices(slices, t.layout, t.profile.categories.length);
          const findings = dataDriftFindings(t.profile, t.layout, window, o);
          for (const f of findings) out.push(driftRecord(key, f));
          this.publishDrift(t, findings, window.counts[t.layout.rows]!);
          alerts = featuresInAlert(findings);
        }
        // The model's age only matters for the model in production.
        if (t !== this.current && alerts.length === 0) continue;
        if (t === this.current) this.metrics?.modelAgeDays.set({ model_version: t.profile.modelVersion }, (end - t.profile.createdAt) / DAY_MS);
        const triggers = retrainingTriggers(
          { modelVersion: t.profile.modelVersion, windowEnd: end, featuresInAlert: alerts, modelCreatedAt: t === this.current ? t.profile.createdAt : Number.NaN },
          this.triggerHistory,
          o,
        );
        out.push(...this.triggerRecords(key, triggers, slices.length > 0 ? alerts.length : 0));
      }
      this.lastDriftEnd = end;
    }
    for (const t of this.tracks.values()) t.drift.evict(this.lastDriftEnd);
    return out;
  }

  private closePerformanceWindows(watermark: number): DriftMetricRecord[] {
    const o = this.options;
    this.lastPerfEnd ??= this.startOf('perf', watermark, o.performanceSlideMs);
    const out: DriftMetricRecord[] = [];
    for (const end of windowEnds(this.lastPerfEnd, watermark, o.performanceSlideMs)) {
      for (const t of this.tracks.values()) {
        if (this.warmingUp(end)) continue;
        const slices = t.perf.window(end);
        if (slices.length === 0) continue;
        const counts = new Float64Array(t.perfLayout.size);
        for (const s of slices) for (let i = 0; i < counts.length; i++) counts[i]! += s[i]!;
        const report = performanceReport(counts, t.perfLayout, t.profile.validationRecall, o);
        if (report.predictions === 0) continue;
        const key = recordKey(t.profile.modelName, t.profile.modelVersion, end - o.performanceWindowMs, end);
        out.push(...performanceRecords(key, report));
        this.publishPerformance(t, report);
        if (report.conceptDrift) {
          const triggers = retrainingTriggers({ modelVersion: t.profile.modelVersion, windowEnd: end, conceptDriftRecall: report.recall, modelCreatedAt: Number.NaN }, this.triggerHistory, o);
          out.push(...this.triggerRecords(key, triggers, report.labels));
        }
      }
      this.lastPerfEnd = end;
    }
    for (const t of this.tracks.values()) t.perf.evict(this.lastPerfEnd);
    return out;
  }

  private triggerRecords(key: RecordKey, triggers: readonly RetrainingTrigger[], sampleSize: number): DriftMetricRecord[] {
    return triggers.map((tr) => {
      this.metrics?.retrainingTriggers.inc({ reason: tr.reason });
      return driftRecord(key, { subject: tr.reason, statistic: RETRAINING_TRIGGER_STATISTIC, value: tr.value, pValue: null, severity: 'alert', sampleSize });
    });
  }

  private publishDrift(t: ModelTrack, findings: readonly Finding[], rows: number): void {
    const m = this.metrics;
    if (!m) return;
    const version = t.profile.modelVersion;
    m.driftWindowSamples.set({ model_version: version }, rows);
    for (const f of findings) {
      if (f.severity !== 'ok') m.driftAlerts.inc({ subject: f.kind === 'new_category' ? f.subject.split('=')[0]! : f.subject, severity: f.severity });
      if (f.kind === 'new_category') continue;
      const labels = { feature: f.subject, model_version: version };
      if (f.kind === 'score') {
        if (f.subject === 'predicted_positive_rate') m.predictedPositiveRate.set({ model_version: version }, f.value);
        else if (f.statistic === 'psi') m.scorePsi.set({ model_version: version }, f.value);
        else if (f.statistic === 'ks') m.scoreKsStatistic.set({ model_version: version }, f.value);
        continue;
      }
      switch (f.statistic) {
        case 'psi':
          m.featurePsi.set(labels, f.value);
          break;
        case 'ks':
          m.featureKsStatistic.set(labels, f.value);
          m.featureKsPValue.set(labels, f.pValue ?? Number.NaN);
          break;
        case 'chi_square':
          m.featureChiSquarePValue.set(labels, f.pValue ?? Number.NaN);
          break;
        case 'missing_rate':
          m.featureMissingRate.set(labels, f.value);
          break;
        case 'new_category_count':
          m.featureNewCategories.set(labels, f.value);
          break;
      }
    }
  }

  private publishPerformance(t: ModelTrack, r: PerformanceReport): void {
    const m = this.metrics;
    if (!m) return;
    const v = { model_version: t.profile.modelVersion };
    m.modelLabelledPositives.set(v, r.labels);
    if (!Number.isNaN(r.recall)) m.modelRecall.set(v, r.recall);
    if (!Number.isNaN(r.precision)) m.modelPrecision.set(v, r.precision);
    if (!Number.isNaN(r.averagePrecision)) m.modelPrAuc.set(v, r.averagePrecision);
    if (!Number.isNaN(r.calibrationError)) m.modelCalibrationError.set(v, r.calibrationError);
    if (r.conceptDrift) m.driftAlerts.inc({ subject: 'recall', severity: 'alert' });
  }
}

function performanceRecords(key: RecordKey, r: PerformanceReport): DriftMetricRecord[] {
  const out: DriftMetricRecord[] = [];
  const add = (subject: string, statistic: string, value: number, sampleSize: number, severity = 'ok') => {
    if (!Number.isNaN(value)) out.push(driftRecord(key, { subject, statistic, value, pValue: null, severity, sampleSize }));
  };
  add('performance', 'recall', r.recall, r.labels, r.recallSeverity);
  add('performance', 'labels', r.labels, r.labels);
  add('performance', 'precision', r.precision, r.predictedPositives);
  add('performance', 'pr_auc', r.averagePrecision, r.predictions);
  add('performance', 'calibration_error', r.calibrationError, r.predictions);
  r.calibration.forEach((b, i) => {
    add(`score_bin_${i}`, 'calibration_mean_score', b.meanScore, b.count);
    add(`score_bin_${i}`, 'calibration_observed_rate', b.observedRate, b.count);
  });
  return out;
}
