import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftMonitor, type ObservedBatch } from '../../../src/monitoring/drift-monitor.js';
import { referenceProfile } from '../../../src/monitoring/drift/reference-profile.js';
import type { DriftMetricRecord } from '../../../src/events/wire-types.js';
import { bundledManifest, churnColumns, DAY, HOUR, referenceRow, rng, T0, type RowOptions } from './fixtures.js';

const MIN = 60_000;
const columns = churnColumns();
const manifest = bundledManifest();
const profile = referenceProfile(columns, manifest);
const hourly = { windowMs: HOUR, slideMs: 5 * MIN, minSamples: 50 };

/** `perHour` rows per hour from `from` for `hours`, evenly spread in event time. */
function batch(from: number, hours: number, perHour: number, seed: number, o: RowOptions = {}, score?: (r: () => number) => number): ObservedBatch {
  const r = rng(seed);
  const n = hours * perHour;
  const rows = Array.from({ length: n }, () => referenceRow(profile, columns.length, r, o));
  const scores = Float64Array.from(rows, () => (score ? score(r) : Number.NaN));
  const eventTimes = rows.map((_, i) => from + Math.floor((i * HOUR) / perHour));
  const cat = o.category?.['plan'] === 'other' ? 'family' : undefined;
  return { rows, scores, eventTimes, customerIds: rows.map((_, i) => `c${seed}-${i}`), categories: rows.map(() => (cat ? { plan: cat } : undefined)) };
}

const stat = (records: readonly DriftMetricRecord[], subject: string, statistic: string) => records.filter((r) => r.subject === subject && r.statistic === statistic);

test('sliding windows: 1 h every 5 min, aligned to the slide, each a deterministic id', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  m.observe(batch(T0, 3, 1200, 1));
  const records = m.advance(T0 + 3 * HOUR);
  const ends = [...new Set(records.map((r) => r.window_end))].sort((a, b) => a - b);
  // first window ends one slide after the first slice; one per 5 minutes up to the watermark
  assert.equal(ends[0], T0 + 5 * MIN);
  assert.equal(ends.at(-1), T0 + 3 * HOUR);
  assert.ok(ends.every((e, i) => i === 0 || e - ends[i - 1]! === 5 * MIN));
  assert.ok(records.every((r) => r.window_end - r.window_start === HOUR && r.model_version === manifest.version && r.model_name === 'churn-gbdt'));
  assert.equal(new Set(records.map((r) => r.metric_id)).size, records.length, 'ids are unique');
  // the same rows fed in another batching give the same records
  const again = new DriftMonitor(columns, manifest, hourly);
  const b = batch(T0, 3, 1200, 1);
  const againRecords: DriftMetricRecord[] = [];
  for (let i = 0; i < b.rows.length; i += 97) {
    const part = <T>(x: ArrayLike<T>): T[] => Array.from(x).slice(i, i + 97);
    again.observe({ rows: part(b.rows), scores: part(b.scores), eventTimes: part(b.eventTimes), customerIds: part(b.customerIds) });
    againRecords.push(...again.advance(b.eventTimes[Math.min(b.rows.length - 1, i + 96)]! - 10 * MIN));
  }
  againRecords.push(...again.advance(T0 + 3 * HOUR));
  assert.deepEqual(againRecords, records);
});

test('windows with fewer rows than minSamples are skipped; full windows of reference rows stay quiet', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  m.observe(batch(T0, 2, 1500, 2));
  const records = m.advance(T0 + 2 * HOUR);
  // 1500 rows/h → 125 per 5-minute slice: the first window (one slice) has 125 rows ≥ 50
  const full = records.filter((r) => r.window_end >= T0 + HOUR);
  assert.ok(full.length > 0);
  const alerts = full.filter((r) => r.severity === 'alert' && r.subject !== 'score');
  assert.deepEqual(alerts.map((r) => `${r.subject}:${r.statistic}`), [], 'rows drawn from the reference raise no alert');
  const small = new DriftMonitor(columns, manifest, { ...hourly, minSamples: 10_000 });
  small.observe(batch(T0, 1, 1000, 3));
  assert.deepEqual(small.advance(T0 + 2 * HOUR).filter((r) => r.statistic !== 'retraining_trigger'), []);
});

test('a shifted feature, more missing values and a new category are flagged, and only those', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  m.observe(batch(T0, 1, 3000, 4, { shiftBins: { logins_7d: 3 }, missing: { age: 0.4 }, category: { plan: 'other' } }));
  const r = m.advance(T0 + HOUR);
  const last = r.filter((x) => x.window_end === T0 + HOUR);
  assert.equal(stat(last, 'logins_7d', 'psi')[0]!.severity, 'alert');
  assert.equal(stat(last, 'logins_7d', 'ks')[0]!.severity, 'alert');
  assert.ok(stat(last, 'logins_7d', 'ks')[0]!.p_value! < 1e-10);
  assert.equal(stat(last, 'age', 'missing_rate')[0]!.severity, 'alert');
  assert.ok(Math.abs(stat(last, 'age', 'missing_rate')[0]!.value - 0.4) < 0.05);
  assert.equal(stat(last, 'plan', 'new_category_count')[0]!.value, 3000);
  assert.equal(stat(last, 'plan=family', 'new_category_count')[0]!.severity, 'alert');
  assert.equal(stat(last, 'plan', 'chi_square')[0]!.severity, 'alert');
  const flagged = new Set(last.filter((x) => x.severity === 'alert').map((x) => x.subject));
  assert.deepEqual([...flagged].sort(), ['age', 'logins_7d', 'plan', 'plan=family']);
  // more than maxFeaturesInAlert (3)? three features: no data-drift trigger
  assert.equal(stat(r, 'data_drift', 'retraining_trigger').length, 0);
});

test('scores: PSI/KS against the reference score bins and the predicted-positive rate against the reference share', () => {
  const ref = profile.score!;
  const m = new DriftMonitor(columns, manifest, hourly);
  // all scores above the threshold: the predicted-positive rate is 1 against ~0.15
  m.observe(batch(T0, 1, 1200, 5, {}, (r) => ref.threshold + r() * (1 - ref.threshold)));
  const last = m.advance(T0 + HOUR).filter((x) => x.window_end === T0 + HOUR);
  assert.equal(stat(last, 'score', 'psi')[0]!.severity, 'alert');
  const rate = stat(last, 'predicted_positive_rate', 'rate')[0]!;
  assert.equal(rate.value, 1);
  assert.equal(rate.severity, 'alert');
});

test('late rows (all their windows closed) are dropped and counted; memory stays one window of slices', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  for (let h = 0; h < 24; h++) {
    m.observe(batch(T0 + h * HOUR, 1, 120, 10 + h));
    m.advance(T0 + (h + 1) * HOUR);
    assert.ok(m.stats().driftSlices <= 12, `slices ${m.stats().driftSlices}`);
  }
  m.observe(batch(T0 + 20 * HOUR, 1, 60, 99));
  assert.equal(m.stats().lateSamples, 60);
});

test('a model swap: later rows count for the new version, each against its own reference', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  m.observe(batch(T0, 1, 1200, 20));
  const v2 = { ...manifest, version: '2.0.0' };
  m.observe({ ...batch(T0 + HOUR, 1, 1200, 21), model: v2 });
  const r = m.advance(T0 + 2 * HOUR);
  const mixed = r.filter((x) => x.window_end === T0 + HOUR + 30 * MIN && x.subject === 'logins_7d' && x.statistic === 'psi');
  assert.deepEqual(mixed.map((x) => [x.model_version, x.sample_size]).sort(), [[manifest.version, 600], ['2.0.0', 600]]);
  assert.notEqual(mixed[0]!.metric_id, mixed[1]!.metric_id);
});

test('model age beyond the limit fires one retraining trigger per cooldown', () => {
  const created = Date.parse(manifest.created_at);
  const m = new DriftMonitor(columns, manifest, { ...hourly, maxModelAgeDays: 10, triggerCooldownMs: DAY });
  const start = created + 9 * DAY;
  m.observe(batch(start, 1, 200, 30));
  const r = m.advance(start + 3 * DAY);
  const triggers = stat(r, 'model_age', 'retraining_trigger');
  assert.equal(triggers.length, 2, 'after day 10, then once more a day later');
  assert.ok(triggers[0]!.value > 10 && triggers[0]!.window_end === created + 10 * DAY + 5 * MIN);
});

test('a watermark that is not finite yet (no events) or goes back is ignored', () => {
  const m = new DriftMonitor(columns, manifest, hourly);
  assert.deepEqual(m.advance(Number.NEGATIVE_INFINITY), []);
  m.observe(batch(T0, 1, 600, 40));
  assert.ok(m.advance(T0 + HOUR).length > 0);
  assert.deepEqual(m.advance(T0 + 30 * MIN), []);
});

test('options are checked, naming the option', () => {
  assert.throws(() => new DriftMonitor(columns, manifest, { windowMs: HOUR, slideMs: 7 * MIN }), /windowMs.*multiple of slideMs/);
  assert.throws(() => new DriftMonitor(columns, manifest, { psiWarn: 0.5, psiAlert: 0.25 }), /psiWarn/);
  assert.throws(() => new DriftMonitor(columns, manifest, { recallAlertFraction: 1.5 }), /recallAlertFraction/);
});
