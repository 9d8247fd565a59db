// Detection quality on simulated customers, through the engine's own state path and the bundled
// model: drift injected by the simulator (logins halved and a new plan from day 120) is flagged within
// a week of windows, and a stationary stream (another seed) stays quiet. Each midnight a seventh of
// the customers (rolling panel by id hash) gives its row as of that instant (observation rows, as the
// training snapshot takes them); windows are 7 days sliding by 1, so each holds every customer once,
// on mixed weekdays (daily windows see weekday seasonality in the recency features).
// The bundled manifest's reference (model 1.1.0) comes from rows with at least 90 days of history,
// like these; its training population differs slightly from a 600-customer panel in the recency
// features' KS (a few windows flag days_since_last_session), so the stationary check also compares
// with a reference rebased on a warmed-up period of a third seed (same bins); the drift check runs
// against both. Bigger runs: bench/drift-monitoring.bench.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriftMetricRecord } from '../../../src/events/wire-types.js';
import { DriftMonitor } from '../../../src/monitoring/drift-monitor.js';
import { rebaseReference } from '../../../src/monitoring/drift/rebase-reference.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';
import { loadScoringModel } from '../../../src/scoring/scoring-model.js';
import { churnSpec, DAY_MS, simulatedDays } from './simulated-observations.js';
import { join } from 'node:path';
import { BUNDLED_MODEL } from '../../../src/scoring/bundled-model.js';

const CUSTOMERS = 600;
const DRIFT_DAY = 120;
/** all-time recency whose history grows from the simulation's day 0: its missing rate falls for years (a real trend, shown below). */
const TRENDING = new Set(['days_since_last_support']);

const spec = churnSpec();
const model = await loadScoringModel(BUNDLED_MODEL, spec);

async function reference(): Promise<{ manifest: ModelManifest; rows: number }> {
  const rows: Float64Array[] = [];
  const scores: number[] = [];
  const ids: string[] = [];
  for await (const d of simulatedDays({ customers: CUSTOMERS, days: 131, seed: 101 }, { firstDay: 100, everyDays: 3, model })) {
    rows.push(...d.sample.rows);
    scores.push(...d.scores);
    ids.push(...d.sample.customerIds);
  }
  return rebaseReference(model.manifest, spec.columns, rows, Float64Array.from(scores), ids);
}

interface Window {
  readonly day: number;
  readonly records: DriftMetricRecord[];
}

/** Feeds each day's observation rows and labels to one monitor per manifest; the windows closing each day, once a week is full. */
async function run(sim: Parameters<typeof simulatedDays>[0], firstDay: number, monitors: readonly DriftMonitor[]): Promise<Window[][]> {
  const out: Window[][] = monitors.map(() => []);
  for await (const d of simulatedDays(sim, { firstDay, model, rotationDays: 7 })) {
    monitors.forEach((m, k) => {
      m.observeLabels(d.labels);
      m.observe({ rows: d.sample.rows, scores: d.scores, eventTimes: d.sample.eventTimes, customerIds: d.sample.customerIds, categories: d.sample.categories });
      const records = m.advance(d.asOf + DAY_MS);
      if (d.day >= firstDay + 6) out[k]!.push({ day: d.day, records });
    });
  }
  return out;
}

const weekly = (manifest: ModelManifest, referenceRows?: number) =>
  new DriftMonitor(spec.columns, manifest, { windowMs: 7 * DAY_MS, slideMs: DAY_MS, evaluationEveryMs: DAY_MS, ...(referenceRows ? { referenceRows } : {}) });

const alerted = (w: Window) => [...new Set(w.records.filter((r) => r.severity === 'alert' && r.statistic !== 'retraining_trigger' && !TRENDING.has(r.subject)).map((r) => r.subject))];
const find = (w: Window, subject: string, statistic: string) => w.records.find((r) => r.subject === subject && r.statistic === statistic);
/** Windows after the drift began (1 = the first window whose rows include a drifted day) until the predicate holds. */
const delay = (windows: readonly Window[], ok: (w: Window) => boolean) => {
  const w = windows.find((x) => x.day > DRIFT_DAY && ok(x));
  return w === undefined ? Infinity : w.day - DRIFT_DAY;
};

const ref = await reference();

test('stationary stream (another seed): at most 5 % of 60 windows raise any alert, and no retraining trigger', async (t) => {
  const [windows] = await run({ customers: CUSTOMERS, days: 160, seed: 202 }, 94, [weekly(ref.manifest, ref.rows)]);
  assert.equal(windows!.length, 60);
  const noisy = windows!.filter((w) => alerted(w).length > 0);
  t.diagnostic(`false alarms: ${noisy.length}/${windows!.length} windows (${noisy.map((w) => `day ${w.day}: ${alerted(w).join(',')}`).join('; ') || 'none'})`);
  assert.ok(noisy.length <= 3, `${noisy.length} noisy windows`);
  assert.deepEqual(windows!.flatMap((w) => w.records.filter((r) => r.statistic === 'retraining_trigger' && r.subject === 'data_drift')), []);
  // why the trending feature is left out: its missing rate keeps falling as customers' history grows
  const missing = windows!.map((w) => find(w, 'days_since_last_support', 'missing_rate')!.value);
  t.diagnostic(`days_since_last_support missing rate: day 100 ${missing[0]!.toFixed(3)} → day 159 ${missing.at(-1)!.toFixed(3)}`);
  assert.ok(missing.at(-1)! < missing[0]! - 0.03);
});

test('injected drift (logins × 0.5, new plan from day 120) is flagged within the stated number of windows, and not before', async (t) => {
  const [rebased, bundled] = await run(
    { customers: CUSTOMERS, days: 135, seed: 303, drift: { fromDay: DRIFT_DAY, loginFactor: 0.5, newPlan: 'family', newPlanShare: 0.3 } },
    104,
    [weekly(ref.manifest, ref.rows), weekly(model.manifest)],
  );
  const before = rebased!.filter((w) => w.day <= DRIFT_DAY);
  assert.equal(before.length, 11); // windows ending days 111 … 121: none holds a drifted day
  assert.ok(before.filter((w) => alerted(w).length > 0).length <= 1, `pre-drift alerts: ${before.map((w) => alerted(w).join(',')).join(' | ')}`);

  const login = delay(rebased!, (w) => find(w, 'logins_7d', 'psi')?.severity === 'alert');
  const loginKs = delay(rebased!, (w) => find(w, 'logins_7d', 'ks')?.severity === 'alert');
  const trigger = delay(rebased!, (w) => w.records.some((r) => r.statistic === 'retraining_trigger' && r.subject === 'data_drift'));
  const planSeen = delay(rebased!, (w) => (find(w, 'plan=family', 'new_category_count')?.value ?? 0) > 0);
  const planAlert = delay(rebased!, (w) => find(w, 'plan', 'new_category_count')?.severity === 'alert');
  const score = delay(rebased!, (w) => find(w, 'score', 'psi')?.severity === 'alert' || find(w, 'score', 'ks')?.severity === 'alert');
  t.diagnostic(`windows (days) after drift start: logins_7d PSI alert ${login}, KS alert ${loginKs}, data-drift trigger ${trigger}, new plan seen ${planSeen} / alert ${planAlert}, score PSI or KS alert ${score}`);
  // a 7-day count in a 7-day window: fully shifted two weeks after the drift began, half-way after one
  assert.ok(login <= 10, `logins_7d PSI after ${login} windows`);
  assert.ok(loginKs <= 7, `logins_7d KS after ${loginKs} windows`);
  assert.ok(trigger <= 7, `data-drift trigger after ${trigger} windows`);
  assert.ok(planSeen <= 7, `new plan seen after ${planSeen} windows`); // a seventh of the customers is observed each day
  assert.ok(planAlert <= 14, `new plan alert after ${planAlert} windows`);
  assert.ok(score <= 14, `score PSI or KS alert after ${score} windows`);

  // Against the bundled manifest: logins_7d matches its reference before the drift and is flagged after it.
  const bundledLogin = delay(bundled!, (w) => find(w, 'logins_7d', 'psi')?.severity === 'alert');
  const bundledScore = delay(bundled!, (w) => find(w, 'score', 'psi')?.severity === 'alert');
  assert.ok(bundled!.filter((w) => w.day <= DRIFT_DAY).every((w) => find(w, 'logins_7d', 'psi')!.severity === 'ok' && find(w, 'score', 'psi')!.severity === 'ok'));
  assert.ok(bundledLogin <= 10, `bundled reference: logins_7d after ${bundledLogin} windows`);
  assert.ok(bundledScore <= 14, `bundled reference: score PSI after ${bundledScore} windows`);
  t.diagnostic(`bundled reference: logins_7d PSI alert after ${bundledLogin} windows, score PSI alert after ${bundledScore}`);
});

test.after(() => model.close());
