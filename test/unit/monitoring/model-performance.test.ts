import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftMonitor } from '../../../src/monitoring/drift-monitor.js';
import { resolveDriftMonitorOptions } from '../../../src/monitoring/drift/drift-options.js';
import { averagePrecision } from '../../../src/monitoring/performance/average-precision.js';
import { performanceReport } from '../../../src/monitoring/performance/performance-report.js';
import { addResolved, apBin, AP_BINS, performanceLayout } from '../../../src/monitoring/performance/performance-sketch.js';
import { retrainingTriggers } from '../../../src/monitoring/retraining-triggers.js';
import type { DriftMetricRecord } from '../../../src/events/wire-types.js';
import { bundledManifest, churnColumns, DAY, rng, T0 } from './fixtures.js';

test('average precision from binned counts: scikit-learn’s step sum over thresholds, ties grouped', () => {
  // scores 0,1,2,3 with labels 0,1,0,1: AP = 1·½ + ⅔·½
  assert.ok(Math.abs(averagePrecision([0, 1, 0, 1], [1, 0, 1, 0]) - (0.5 + 1 / 3)) < 1e-15);
  // a tie of one positive and one negative at the top: precision ½ at recall 1
  assert.equal(averagePrecision([0, 1], [0, 1]), 0.5);
  assert.ok(Number.isNaN(averagePrecision([0, 0], [3, 4])));
  assert.ok(apBin(0) === 0 && apBin(1) === AP_BINS - 1 && apBin(0.5) === AP_BINS / 2);
  assert.ok(apBin(0.011) < apBin(0.012), 'fine resolution where churn scores live');
});

test('recall, precision and calibration of resolved predictions', () => {
  const layout = performanceLayout([0.1, 0.5]);
  const counts = new Float64Array(layout.size);
  const add = (score: number, label: 0 | 1, firstOfLabel = true) =>
    addResolved(counts, layout, { customerId: 'x', predictionTime: 0, resolvedAt: 1, score, modelVersion: 'v', predictedPositive: score >= 0.3, label, firstOfLabel });
  [0.05, 0.05, 0.05, 0.2, 0.2, 0.6, 0.6, 0.6, 0.6].forEach((s, i) => add(s, i === 0 || i >= 6 ? 1 : 0));
  add(0.6, 1, false); // a second prediction resolved by the same label
  const r = performanceReport(counts, layout, 0.5, resolveDriftMonitorOptions({ minLabels: 1 }));
  // positives: one at 0.05 (missed) and four at 0.6 (caught), from four labels; five predicted positives at 0.6, four true
  assert.equal(r.positives, 5);
  assert.equal(r.labels, 4);
  assert.equal(r.recall, 4 / 5);
  assert.equal(r.precision, 4 / 5);
  assert.deepEqual(r.calibration.map((b) => b.count), [3, 2, 5]);
  assert.ok(Math.abs(r.calibration[2]!.observedRate - 0.8) < 1e-12 && Math.abs(r.calibration[2]!.meanScore - 0.6) < 1e-12);
  assert.ok(Math.abs(r.calibrationError - (3 * Math.abs(0.05 - 1 / 3) + 2 * 0.2 + 5 * 0.2) / 10) < 1e-12);
  assert.equal(r.conceptDrift, false);
});

test('retraining rules: more than N features in alert, model age, and a cooldown per reason', () => {
  const o = resolveDriftMonitorOptions({ maxFeaturesInAlert: 2, maxModelAgeDays: 30, triggerCooldownMs: 7 * DAY });
  const history = new Map<string, number>();
  const created = T0 - 40 * DAY;
  const at = (d: number, alerts: string[]) => retrainingTriggers({ modelVersion: '1', windowEnd: T0 + d * DAY, featuresInAlert: alerts, modelCreatedAt: created }, history, o).map((t) => t.reason);
  assert.deepEqual(at(0, ['a', 'b']), ['model_age']);
  assert.deepEqual(at(1, ['a', 'b', 'c']), ['data_drift']);
  assert.deepEqual(at(2, ['a', 'b', 'c']), [], 'cooldown');
  assert.deepEqual(at(8, ['a', 'b', 'c']), ['data_drift', 'model_age']);
});

test('concept drift: when labels stop following the scores, rolling recall falls below 0.8 × validation recall and a trigger fires', () => {
  const manifest = bundledManifest();
  const threshold = manifest.decision.threshold;
  const m = new DriftMonitor(churnColumns(), manifest, { evaluationEveryMs: DAY, performanceWindowMs: 28 * DAY, performanceSlideMs: DAY, minLabels: 30 });
  const r = rng(7);
  const N = 2000;
  const DRIFT_DAY = 120;
  // 15 % of customers score above the threshold; until DRIFT_DAY they churn 20× as often as the rest
  const customers = Array.from({ length: N }, (_, i) => ({ id: `c${i}`, score: i % 20 < 3 ? threshold * (1.5 + 6 * r()) : threshold * (0.2 + 0.7 * r()) }));
  const records: DriftMetricRecord[] = [];
  let next = N;
  for (let d = 0; d < 170; d++) {
    const t = T0 + d * DAY + 3_600_000;
    m.observeScores({ customerIds: customers.map((c) => c.id), scores: customers.map((c) => c.score), eventTimes: customers.map(() => t) });
    const labels = [];
    for (const c of customers) {
      const p = d < DRIFT_DAY ? (c.score >= threshold ? 0.01 : 0.0005) : 0.002;
      if (r() < p) {
        labels.push({ customerId: c.id, eventTime: t + 3_600_000 });
        c.id = `c${next++}`; // replaced by a new customer
      }
    }
    m.observeLabels(labels);
    records.push(...m.advance(T0 + (d + 1) * DAY));
  }
  const recall = records.filter((x) => x.subject === 'performance' && x.statistic === 'recall');
  const before = recall.filter((x) => x.window_end <= T0 + DRIFT_DAY * DAY && x.sample_size >= 30);
  assert.ok(before.length > 50);
  assert.ok(before.every((x) => x.severity === 'ok' && x.value > 0.6), `recall before: ${before.map((x) => x.value.toFixed(2)).join(' ')}`);
  const triggers = records.filter((x) => x.statistic === 'retraining_trigger' && x.subject === 'concept_drift');
  assert.ok(triggers.length >= 1);
  const delayDays = (triggers[0]!.window_end - (T0 + DRIFT_DAY * DAY)) / DAY;
  assert.ok(delayDays > 0 && delayDays <= 20, `concept drift flagged ${delayDays} days after it began`);
  const after = recall.filter((x) => x.window_end >= T0 + (DRIFT_DAY + 28) * DAY);
  assert.ok(after.every((x) => x.severity === 'alert' && x.value < 0.3), `recall after: ${after.map((x) => x.value.toFixed(2)).join(' ')}`);
  assert.ok(records.some((x) => x.statistic === 'pr_auc') && records.some((x) => x.statistic === 'calibration_observed_rate'));
});
