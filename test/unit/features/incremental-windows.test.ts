// The incrementally kept window totals against the one-pass reference, over random event sequences:
// events a few hours apart, gaps of days and of more than the longest window, late events (inside the
// retained days and past them, into the archive), reads before the anchor, budget shedding and state
// copies between batches. Every feature row read through a customer's attached totals must equal, bit
// for bit, the row a fresh full pass computes from a plain copy of the same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec, type CompiledSpec } from '../../../src/features/compile-spec.js';
import { WindowTotals } from '../../../src/features/window-totals.js';
import type { FeatureSpecInput } from '../../../src/features/spec.js';
import { DAY_MS, type ActivityEvent, type Scalar } from '../../../src/events/activity-event.js';
import { applyDelta, cloneState, emptyState, enforceBudget, type CustomerState } from '../../../src/state/customer-state.js';
import { bucketListener } from '../../../src/state/slots.js';
import { Prng } from '../../../src/simulator/prng.js';
import { T0 } from '../../helpers/events.js';

const SPEC: FeatureSpecInput = {
  name: 'incremental_test',
  version: '1',
  label: { event: 'cancel', horizonDays: 30 },
  signup: { event: 'profile', field: 'signup_time' },
  features: [
    { name: 'tenure', type: 'profile', from: [{ event: 'profile', field: 'signup_time' }], transform: 'days_since', missingIndicator: true },
    { name: 'plan', type: 'category', from: [{ event: 'profile', field: 'plan' }, { event: 'change', field: 'to' }], categories: ['a', 'b'] },
    { name: 'views_3d', type: 'window', event: 'view', agg: 'count', windowDays: 3 },
    { name: 'views_10d', type: 'window', event: 'view', agg: 'count', windowDays: 10 },
    { name: 'views_90d', type: 'window', event: 'view', agg: 'count', windowDays: 90 },
    { name: 'secs_10d', type: 'window', event: 'view', agg: 'sum', field: 'secs', windowDays: 10 },
    // Non-integer amounts: float sums depend on the order of addition, so these take the exact recompute.
    { name: 'amount_30d', type: 'window', event: 'pay', agg: 'sum', field: 'amount', windowDays: 30 },
    { name: 'amount_mean_90d', type: 'window', event: 'pay', agg: 'mean', field: 'amount', windowDays: 90, missingIndicator: true },
    // Integers near 2^53: exact only while the sums stay safe.
    { name: 'big_30d', type: 'window', event: 'pay', agg: 'sum', field: 'big', windowDays: 30 },
    { name: 'max_secs_10d', type: 'window', event: 'view', agg: 'max', field: 'secs', windowDays: 10, missingIndicator: true },
    { name: 'min_secs_30d', type: 'window', event: 'view', agg: 'min', field: 'secs', windowDays: 30, missingIndicator: true },
    { name: 'distinct_items_3d', type: 'window', event: 'view', agg: 'distinct', field: 'item', windowDays: 3 },
    { name: 'distinct_items_30d', type: 'window', event: 'view', agg: 'distinct', field: 'item', windowDays: 30 },
    { name: 'active_days_10d', type: 'window', event: '*', agg: 'active_days', windowDays: 10 },
    { name: 'net_days_30d', type: 'window', event: 'adjust', agg: 'active_days', windowDays: 30 },
    { name: 'net_30d', type: 'window', event: 'adjust', agg: 'sum', field: 'delta', windowDays: 30 },
    { name: 'views_prev_7d', type: 'window', event: 'view', agg: 'count', windowDays: 7, offsetDays: 3 },
    { name: 'max_secs_prev', type: 'window', event: 'view', agg: 'max', field: 'secs', windowDays: 20, offsetDays: 10 },
    { name: 'views_trend', type: 'trend', event: 'view', agg: 'count', periodDays: 4, periods: 5 },
    { name: 'amount_trend', type: 'trend', event: 'pay', agg: 'sum', field: 'amount', periodDays: 6, periods: 3 },
    { name: 'active_trend', type: 'trend', event: '*', agg: 'active_days', periodDays: 5, periods: 4 },
    { name: 'first_view_30d', type: 'first_event', event: 'view', windowDays: 30, missingIndicator: true },
    { name: 'first_any', type: 'first_event', event: '*' },
    { name: 'since_view', type: 'recency', event: 'view', missingIndicator: true },
    { name: 'since_pay', type: 'recency', event: 'pay', missingIndicator: true },
    { name: 'views_3d_vs_10d', type: 'ratio', numerator: 'views_3d', denominator: 'views_10d', scale: 10 / 3, missingIndicator: true },
  ],
};

/** The default spec's edges (7, 30, 90): moves of up to 11 days go through the anchor, each day crossing at most one edge. */
const per = (base: string, def: Record<string, unknown>) => [7, 30, 90].map((d) => ({ ...def, name: `${base}_${d}d`, windowDays: d }));
const COARSE: FeatureSpecInput = {
  name: 'incremental_coarse',
  version: '1',
  label: { event: 'cancel', horizonDays: 30 },
  signup: { event: 'profile', field: 'signup_time' },
  features: [
    { name: 'plan', type: 'category', from: [{ event: 'profile', field: 'plan' }, { event: 'change', field: 'to' }], categories: ['a', 'b'] },
    ...per('views', { type: 'window', event: 'view', agg: 'count' }),
    ...per('max_secs', { type: 'window', event: 'view', agg: 'max', field: 'secs', missingIndicator: true }),
    ...per('min_secs', { type: 'window', event: 'view', agg: 'min', field: 'secs' }),
    ...per('items', { type: 'window', event: 'view', agg: 'distinct', field: 'item' }),
    ...per('amount', { type: 'window', event: 'pay', agg: 'sum', field: 'amount' }),
    ...per('big', { type: 'window', event: 'pay', agg: 'sum', field: 'big' }),
    ...per('net_days', { type: 'window', event: 'adjust', agg: 'active_days' }),
    { name: 'since_view', type: 'recency', event: 'view', missingIndicator: true },
  ],
} as FeatureSpecInput;

/** A customer's events: mostly hours apart, sometimes days, now and then a gap longer than 90 days; some late. */
function* events(rng: Prng, customer: string, n: number): Generator<ActivityEvent> {
  let t = T0 + rng.int(DAY_MS);
  const signup = t - 5 * DAY_MS;
  yield { eventId: `${customer}-p`, customerId: customer, eventTime: t, kind: 'profile', payload: { signup_time: signup, plan: 'a' } };
  for (let k = 0; k < n; k++) {
    const r = rng.next();
    t += r < 0.5 ? rng.int(6 * 3_600_000) : r < 0.8 ? rng.int(3 * DAY_MS) : r < 0.97 ? rng.int(25 * DAY_MS) : (91 + rng.int(60)) * DAY_MS;
    // Late: a little (same or previous day), a lot (weeks: past some windows), or before signup (refused).
    const late = rng.next();
    const at = late < 0.08 ? t - rng.int(2 * DAY_MS) : late < 0.11 ? t - rng.int(40 * DAY_MS) : late < 0.115 ? signup - DAY_MS : t;
    yield { eventId: `${customer}-${k}`, customerId: customer, eventTime: at, ...payloadOf(rng) };
  }
}

function payloadOf(rng: Prng): { kind: string; payload: Record<string, Scalar> } {
  const r = rng.next();
  if (r < 0.5) return { kind: 'view', payload: { secs: rng.int(5) === 0 ? -rng.int(50) : rng.int(3600), item: `i${rng.int(40)}` } };
  if (r < 0.7) {
    const big = rng.int(4) === 0 ? 2 ** 52 + rng.int(1000) : rng.int(100);
    return { kind: 'pay', payload: { amount: Math.round(rng.next() * 10_000) / 100, big } };
  }
  if (r < 0.85) return { kind: 'adjust', payload: { delta: rng.int(3) - 1 } }; // sums that return to 0: a day stops being active
  if (r < 0.95) return { kind: 'change', payload: { to: rng.int(2) === 0 ? 'b' : 'c' } };
  return { kind: 'profile', payload: { plan: 'b' } };
}

/** A plain copy: no totals attached, so evaluate() reads it with a full pass. */
const plain = (state: CustomerState): CustomerState => structuredClone(state);

function same(spec: CompiledSpec, got: Float64Array, want: Float64Array, what: string): void {
  for (let k = 0; k < want.length; k++) {
    if (!Object.is(got[k], want[k])) assert.fail(`${what}: ${spec.columns[k]!.name} is ${got[k]}, the full pass says ${want[k]}`);
  }
}

for (const [input, seed] of [SPEC, COARSE].flatMap((s) => [1, 2, 3, 4].map((seed) => [s, seed] as const))) {
  test(`incremental window totals equal the full pass over a random sequence (${input.name}, seed ${seed})`, () => {
    const spec = compileSpec(input, { allowedLatenessMs: 2 * DAY_MS });
    const rng = new Prng(seed, 9);
    let incremental = 0;
    for (let c = 0; c < 8; c++) {
      let state = emptyState(`c${c}`);
      let offset = 0;
      for (const e of events(rng, `c${c}`, 400)) {
        // A batch boundary: the store hands out a copy, which takes the totals along; now and then a
        // batch fails and the original (now without totals) is read and changed again.
        if (rng.int(5) === 0) {
          const copy = cloneState(state);
          if (rng.int(4) !== 0) state = copy;
        }
        const outcome = applyDelta(state, spec.deltaFor(e, { stream: 's', offset: offset++ }), spec.layout);
        if (rng.int(40) === 0) enforceBudget(state, spec.layout, 1500 + rng.int(3000));
        if (outcome !== 'applied') continue;
        const asOf = e.eventTime + 1;
        const followed = bucketListener(state) !== undefined;
        same(spec, spec.evaluate(state, asOf), spec.evaluate(plain(state), asOf), `event ${e.eventId} (${e.kind})`);
        if (followed && bucketListener(state) !== undefined) incremental++;
        // Observation times around the event: before it (out of order) and after a gap (the windows expire).
        if (rng.int(10) === 0) {
          const other = asOf + (rng.int(2) === 0 ? -1 : 1) * rng.int(120 * DAY_MS);
          same(spec, spec.evaluate(state, other), spec.evaluate(plain(state), other), `event ${e.eventId} read at ${other - asOf} ms`);
        }
      }
    }
    // The sequence must have exercised the incremental path, not only rebuilds.
    assert.ok(incremental > 1000, `only ${incremental} rows read through followed totals`);
  });
}

test('totals follow a state through applyDelta, and move to its copy', () => {
  const spec = compileSpec(SPEC);
  const state = emptyState('x');
  const view = (target: CustomerState, t: number, secs: number, offset: number) =>
    applyDelta(target, spec.deltaFor({ eventId: `v${offset}`, customerId: 'x', eventTime: t, kind: 'view', payload: { secs, item: 'a' } }, { stream: 's', offset }), spec.layout);
  view(state, T0, 10, 0);
  const col = spec.columns.findIndex((c) => c.name === 'views_3d');
  assert.equal(spec.evaluate(state, T0 + 1)[col], 1);
  const totals = bucketListener(state);
  assert.ok(totals instanceof WindowTotals);
  const copy = cloneState(state);
  assert.equal(bucketListener(copy), totals, 'the copy (the one a batch changes) takes the totals');
  assert.equal(bucketListener(state), undefined);
  view(copy, T0 + 1000, 20, 1);
  assert.equal(spec.evaluate(copy, T0 + 1001)[col], 2);
  assert.equal(spec.evaluate(state, T0 + 1001)[col], 1, 'the original is read from its own buckets');
  assert.notEqual(bucketListener(state), totals);
  // Four days on, the first events leave the 3-day window by moving the anchor, not by a rebuild.
  assert.equal(spec.evaluate(copy, T0 + 4 * DAY_MS)[col], 0);
  assert.equal(bucketListener(copy), totals);
});

test('a state followed by another spec is read with a full pass, and keeps its totals', () => {
  const a = compileSpec(SPEC);
  const b = compileSpec({ ...SPEC, name: 'other' });
  const state = emptyState('y');
  applyDelta(state, a.deltaFor({ eventId: 'v', customerId: 'y', eventTime: T0, kind: 'view', payload: { secs: 5, item: 'a' } }, { stream: 's', offset: 0 }), a.layout);
  const first = a.evaluate(state, T0 + 1);
  const attached = bucketListener(state);
  same(b, b.evaluate(state, T0 + 1), first, 'the other spec');
  assert.equal(bucketListener(state), attached);
});

test('distinct counts stay exact when a bit is held by more days than its day count can hold (400-day window)', () => {
  const spec = compileSpec(
    {
      name: 'long_distinct',
      version: '1',
      label: { event: 'cancel', horizonDays: 30 },
      features: [
        { name: 'items_10d', type: 'window', event: 'view', agg: 'distinct', field: 'item', windowDays: 10 },
        { name: 'items_400d', type: 'window', event: 'view', agg: 'distinct', field: 'item', windowDays: 400 },
      ],
    },
    { allowedLatenessMs: 0 },
  );
  let state = emptyState('c');
  let incremental = 0;
  // Item 'same' every day for 300 days (so > 255 days of the 400-day level hold its bit), then never
  // again, until all those days have left the window; and one of 30 rotating items, so bits come and
  // go as days leave the levels.
  for (let day = 0; day < 720; day++) {
    for (const item of day < 300 ? ['same', `r${day % 30}`] : [`r${day % 30}`]) {
      const e: ActivityEvent = { eventId: `e${day}-${item}`, customerId: 'c', eventTime: T0 + day * DAY_MS + 1000, kind: 'view', payload: { item } };
      if (day % 7 === 0) state = cloneState(state);
      assert.equal(applyDelta(state, spec.deltaFor(e, { stream: 's', offset: 2 * day + (item === 'same' ? 0 : 1) }), spec.layout), 'applied');
      const asOf = e.eventTime + 1;
      const followed = bucketListener(state) !== undefined;
      same(spec, spec.evaluate(state, asOf), spec.evaluate(plain(state), asOf), `day ${day}, item ${item}`);
      if (followed) incremental++;
    }
  }
  assert.ok(incremental > 1000, `only ${incremental} rows read through followed totals`);
});
