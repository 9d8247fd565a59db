import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignArm, experimentReadout, type ArmAssignment, type RiskEventView } from '../../../src/backtest/experiment-readout.js';
import { normalCdf, normalQuantile, normalUpperTail, twoSidedP } from '../../../src/backtest/normal-distribution.js';
import { twoProportionTest } from '../../../src/backtest/two-proportions.js';
import { DAY_MS } from '../../../src/events/activity-event.js';

const close = (a: number | null | undefined, b: number, eps = 1e-12) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) <= eps, `${a} vs ${b}`);

const ev = (customer: string, time: number, above: boolean, arm: string | null, id = `${customer}-${time}`): RiskEventView => ({ event_id: id, customer_id: customer, event_time: time, above_threshold: above, experiment_arm: arm });

function assign(events: readonly RiskEventView[]): Map<string, ArmAssignment> {
  const out = new Map<string, ArmAssignment>();
  for (const e of events) {
    const next = assignArm(out.get(e.customer_id), e);
    if (next) out.set(e.customer_id, next);
  }
  return out;
}

test('a customer counts once: in the arm of its first above-threshold risk event that carries an arm, whatever the input order', () => {
  const events = [
    ev('c1', 300, true, 'control'),
    ev('c1', 100, false, 'treatment'), // below threshold: assigns nobody
    ev('c1', 200, true, null), // no arm: assigns nobody
    ev('c1', 250, true, 'treatment'),
    ev('c2', 50, true, 'control', 'b'),
    ev('c2', 50, true, 'treatment', 'a'), // same time: the smaller event id wins
  ];
  const forward = assign(events);
  const backward = assign([...events].reverse());
  assert.deepEqual(forward, backward);
  assert.deepEqual(forward.get('c1'), { customerId: 'c1', arm: 'treatment', assignedAt: 250, eventId: 'c1-250' });
  assert.equal(forward.get('c2')!.arm, 'treatment');
  assert.equal(assign([ev('c3', 1, false, 'control')]).size, 0);
});

test('readout: churn within the horizon after assignment, censored and already-gone customers left out', () => {
  const day = DAY_MS;
  const a = (id: string, arm: string, at: number): ArmAssignment => ({ customerId: id, arm, assignedAt: at, eventId: id });
  const assignments = [a('t1', 'treatment', 0), a('t2', 'treatment', 0), a('t3', 'treatment', 0), a('t4', 'treatment', 50 * day), a('c1', 'control', 0), a('c2', 'control', 0), a('c3', 'control', 10 * day), a('x1', 'holdout', 0)];
  const labels = new Map<string, number[]>([
    ['t1', [29 * day]], // churned inside 30 days
    ['t2', [30 * day]], // exactly at the horizon: outside [t, t + 30d)
    ['c1', [5 * day]],
    ['c2', [20 * day]],
    ['c3', [2 * day]], // cancelled before its assignment: already gone
  ]);
  const r = experimentReadout(assignments, labels, { horizonDays: 30, treatmentArm: 'treatment', controlArm: 'control', confidence: 0.95, dataEnd: 60 * day });
  const byArm = Object.fromEntries(r.arms.map((x) => [x.arm, x]));
  assert.deepEqual(r.arms.map((x) => x.arm), ['control', 'holdout', 'treatment']);
  assert.deepEqual(byArm['treatment'], { arm: 'treatment', customers: 3, churned: 1, censored: 1, alreadyChurned: 0, churnRate: 1 / 3 });
  assert.deepEqual(byArm['control'], { arm: 'control', customers: 2, churned: 2, censored: 0, alreadyChurned: 1, churnRate: 1 });
  assert.equal(byArm['holdout']!.customers, 1);
  close(r.test.difference, 1 / 3 - 1);
  close(r.impliedCustomersSaved, (1 - 1 / 3) * 3);
  assert.match(r.rule, /counts once/);
});

test('two-proportion test: pooled SE for z and p, unpooled SE for the interval, implied customers saved', () => {
  // Treatment 80 of 1000 churned, control 100 of 1000.
  const t = twoProportionTest(80, 1000, 100, 1000);
  const pooled = 180 / 2000;
  const se0 = Math.sqrt(pooled * (1 - pooled) * (2 / 1000));
  const se1 = Math.sqrt((0.08 * 0.92) / 1000 + (0.1 * 0.9) / 1000);
  close(t.difference, -0.02);
  close(t.pooledSe, se0);
  close(t.unpooledSe, se1);
  close(t.z, -0.02 / se0);
  close(t.pValue, 2 * normalUpperTail(0.02 / se0));
  close(t.ci?.[0], -0.02 - 1.959963984540054 * se1, 1e-12);
  close(t.ci?.[1], -0.02 + 1.959963984540054 * se1, 1e-12);
  assert.ok(t.pValue! > 0.1 && t.pValue! < 0.2, `p = ${t.pValue}`);

  const r = experimentReadout(
    [
      ...Array.from({ length: 1000 }, (_, i) => ({ customerId: `t${i}`, arm: 'treatment', assignedAt: 0, eventId: `t${i}` })),
      ...Array.from({ length: 1000 }, (_, i) => ({ customerId: `c${i}`, arm: 'control', assignedAt: 0, eventId: `c${i}` })),
    ],
    new Map([...Array.from({ length: 80 }, (_, i) => [`t${i}`, [1]] as [string, number[]]), ...Array.from({ length: 100 }, (_, i) => [`c${i}`, [1]] as [string, number[]])]),
    { horizonDays: 30, treatmentArm: 'treatment', controlArm: 'control', confidence: 0.95, dataEnd: null },
  );
  close(r.impliedCustomersSaved, 20, 1e-9);
  close(r.impliedCustomersSavedCi?.[0], -t.ci![1] * 1000, 1e-9);
  close(r.impliedCustomersSavedCi?.[1], -t.ci![0] * 1000, 1e-9);
});

test('two-proportion test edge cases: empty arm, no variance, bad counts', () => {
  const empty = twoProportionTest(0, 0, 3, 10);
  assert.deepEqual([empty.treatmentRate, empty.controlRate, empty.difference, empty.z, empty.pValue, empty.ci], [null, 0.3, null, null, null, null]);
  const none = twoProportionTest(0, 10, 0, 12);
  assert.deepEqual([none.difference, none.z, none.pValue], [0, null, null]);
  assert.deepEqual(none.ci, [0, 0]);
  const all = twoProportionTest(5, 5, 7, 7);
  assert.equal(all.z, null);
  assert.throws(() => twoProportionTest(6, 5, 1, 2), /cannot exceed/);
  assert.throws(() => twoProportionTest(1.5, 5, 1, 2), /whole number/);
  assert.throws(() => twoProportionTest(1, 5, 1, 2, 1), /confidence/);
});

test('normal distribution: known values, symmetry, far tails, quantile inverts the cdf', () => {
  assert.equal(normalCdf(0), 0.5);
  close(normalCdf(1.959963984540054), 0.975, 1e-15);
  close(twoSidedP(1.959963984540054), 0.05, 1e-15);
  close(normalUpperTail(-1.5) + normalUpperTail(1.5), 1, 1e-15);
  const farTail = 7.619853024160527e-24; // P(Z > 10)
  assert.ok(Math.abs(normalUpperTail(10) - farTail) / farTail < 1e-12);
  assert.equal(normalUpperTail(40), 0);
  close(normalQuantile(0.975), 1.959963984540054, 1e-15);
  close(normalQuantile(0.025), -1.959963984540054, 1e-15);
  assert.equal(normalQuantile(0.5), 0);
  for (const p of [1e-12, 0.001, 0.2, 0.7, 0.999]) close(normalCdf(normalQuantile(p)), p, 1e-15 + p * 1e-12);
  assert.throws(() => normalQuantile(1), RangeError);
});
