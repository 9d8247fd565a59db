// Point-in-time correctness of the training set, proved by perturbation: whatever happens after an
// observation time (events removed, changed, added) must leave that row's features unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS } from '../../src/events/activity-event.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { simulate, simulationEndTime, resolveSimulatorOptions } from '../../src/simulator/index.js';
import { runSnapshot } from '../helpers/run-snapshot.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 150, days: 84, seed: 11 });
const events: ActivityEventJson[] = [];
for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
const now = simulationEndTime(sim);

function rowsAt(result: Awaited<ReturnType<typeof runSnapshot>>, t: number) {
  return new Map(result.rows.filter((r) => r.observationTime === t).map((r) => [r.customerId, [...r.features]]));
}

// The exact aggregates (active days, first event, offset windows, trends, intermediates feeding a
// ratio) under the same perturbation: they must be point-in-time too.
const exactSpec = compileSpec(
  {
    ...DEFAULT_CHURN_SPEC,
    name: 'churn_exact_features',
    features: [
      { name: 'active_days_30d', type: 'window', event: '*', agg: 'active_days', windowDays: 30 },
      { name: 'session_days_prev_14d', type: 'window', event: 'session', agg: 'active_days', windowDays: 14, offsetDays: 14 },
      { name: 'days_since_first_event', type: 'first_event', event: '*', missingIndicator: true },
      { name: 'days_since_first_login_30d', type: 'first_event', event: 'login', windowDays: 30 },
      { name: 'days_since_any', type: 'recency', event: '*' },
      { name: 'session_trend', type: 'trend', event: 'session', agg: 'sum', field: 'duration_seconds', periodDays: 7, periods: 4 },
      { name: 'login_days_trend', type: 'trend', event: 'login', agg: 'active_days', periodDays: 7, periods: 3 },
      { name: 'logins_7d', type: 'window', event: 'login', agg: 'count', windowDays: 7, intermediate: true },
      { name: 'logins_prev_7d', type: 'window', event: 'login', agg: 'count', windowDays: 7, offsetDays: 7, intermediate: true },
      { name: 'logins_week_over_week', type: 'ratio', numerator: 'logins_7d', denominator: 'logins_prev_7d' },
    ],
  },
  { allowedLatenessMs: 3_600_000 },
);

for (const [label, s] of [['default spec', spec], ['exact-feature spec', exactSpec]] as const) {
  test(`${label}: changing, removing or adding events after an observation time leaves its rows unchanged`, () => pointInTime(s));
}

async function pointInTime(spec: typeof exactSpec): Promise<void> {
  const base = await runSnapshot(events, spec, now);
  const obs = base.stats.observations;
  assert.ok(obs.length >= 4, `observations: ${obs.length}`);
  const T = obs[2]!;
  const baseRows = rowsAt(base, T);
  assert.ok(baseRows.size > 50, `rows at T: ${baseRows.size}`);

  // Perturb everything at or after T: drop every third event, stretch sessions, fail payments, add logins.
  let k = 0;
  const perturbed: ActivityEventJson[] = [];
  for (const e of events) {
    if (e.event_time < T) {
      perturbed.push(e);
      continue;
    }
    k++;
    if (k % 3 === 0) continue;
    if (e.kind === 'session') perturbed.push({ ...e, payload: { ...e.payload, duration_seconds: e.payload.duration_seconds * 2 + 7 } });
    else if (e.kind === 'payment') perturbed.push({ ...e, payload: { ...e.payload, status: 'FAILED' } });
    else perturbed.push(e);
    if (k % 5 === 0) perturbed.push({ event_id: `${e.event_id}-extra`, customer_id: e.customer_id, event_time: e.event_time, kind: 'login', payload: { device: 'tv', success: true } });
  }
  const changed = await runSnapshot(perturbed, spec, now);
  assert.deepEqual(rowsAt(changed, T), baseRows);
  for (const t of obs.filter((o) => o <= T)) assert.deepEqual(rowsAt(changed, t), rowsAt(base, t), `rows at ${new Date(t).toISOString()}`);
  const later = Math.max(...base.rows.map((r) => r.observationTime));
  assert.ok(later > T);
  assert.notDeepEqual(rowsAt(changed, later), rowsAt(base, later), 'the perturbation does reach later rows (the test can fail)');
}

test('labels: 1 exactly when the customer cancels within the horizon; censored rows are dropped', async () => {
  const result = await runSnapshot(events, spec, now);
  const horizon = spec.spec.label.horizonDays * DAY_MS;
  const cancels = new Map<string, number>();
  for (const e of events) if (e.kind === 'plan_change' && e.payload.change === 'CANCEL' && !cancels.has(e.customer_id)) cancels.set(e.customer_id, e.event_time);
  const end = Math.max(...events.map((e) => e.event_time));
  assert.ok(result.rows.length > 0 && result.rows.some((r) => r.label === 1));
  for (const r of result.rows) {
    assert.ok(r.observationTime + horizon <= end, 'no row without a known label');
    const c = cancels.get(r.customerId);
    assert.ok(c === undefined || c >= r.observationTime, 'no rows for customers already gone');
    assert.equal(r.label, c !== undefined && c < r.observationTime + horizon ? 1 : 0);
  }
  assert.ok(result.stats.unlabelledRows > 0);
});
