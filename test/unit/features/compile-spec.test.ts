import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import type { FeatureSpecInput } from '../../../src/features/spec.js';
import { ChurnflowError } from '../../../src/errors.js';
import { DAY_MS, type ActivityEvent } from '../../../src/events/activity-event.js';
import { applyDelta, emptyState, type CustomerState } from '../../../src/state/customer-state.js';
import { day, ev, profile } from '../../helpers/events.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const col = (name: string) => {
  const i = spec.columns.findIndex((c) => c.name === name);
  assert.ok(i >= 0, `column ${name}`);
  return i;
};
function stateOf(events: ActivityEvent[], s = spec): CustomerState {
  const state = emptyState(events[0]!.customerId);
  events.forEach((e, i) => applyDelta(state, s.deltaFor(e, { stream: 't', offset: i }), s.layout));
  return state;
}
const login = (t: number) => ev('login', 'c', t, { device: 'web', success: true });
const session = (t: number, secs: number, content: string | null = 'm1') => ev('session', 'c', t, { duration_seconds: secs, content_items: 1, content_id: content });

test('window counts cover the day buckets starting in [asOf - W days, asOf)', () => {
  const s = stateOf([login(day(0)), login(day(20)), login(day(25)), login(day(28)), login(day(29))]);
  const f = spec.evaluate(s, day(30, 0)); // midnight of day 30
  assert.equal(f[col('logins_7d')], 3); // days 23..29
  assert.equal(f[col('logins_30d')], 5); // days 0..29
  assert.equal(f[col('logins_90d')], 5);
  const mid = spec.evaluate(s, day(29, 18)); // mid-day: today's bucket counts
  assert.equal(mid[col('logins_7d')], 3); // days 23..29
});

test('sum, mean with missing indicator, distinct content and ratios', () => {
  const s = stateOf([session(day(1), 100, 'a'), session(day(2), 300, 'b'), session(day(3), 200, 'a'), session(day(25), 600, null)]);
  const f = spec.evaluate(s, day(26, 0));
  assert.equal(f[col('watch_seconds_30d')], 1200);
  assert.equal(f[col('watch_seconds_7d')], 600);
  assert.equal(f[col('avg_session_seconds_30d')], 300);
  assert.equal(f[col('distinct_content_30d')], 2);
  assert.ok(Math.abs(f[col('watch_7d_vs_30d')]! - (600 / 1200) * (30 / 7)) < 1e-12);
  const none = spec.evaluate(stateOf([login(day(1))]), day(2));
  assert.ok(Number.isNaN(none[col('avg_session_seconds_30d')]!), 'no sessions: mean is missing, not 0');
  assert.ok(Number.isNaN(none[col('watch_7d_vs_30d')]!), 'ratio over zero is missing');
  assert.equal(none[col('sessions_30d')], 0, 'counts without events are 0, not missing');
});

test('recency, filters, difference', () => {
  const s = stateOf([
    login(day(1)),
    login(day(4, 6)),
    ev('payment', 'c', day(2), { status: 'FAILED', amount_cents: 999, discount_cents: 0, currency: 'USD' }),
    ev('payment', 'c', day(3), { status: 'SUCCEEDED', amount_cents: 999, discount_cents: 100, currency: 'USD' }),
  ]);
  const f = spec.evaluate(s, day(10, 6));
  assert.ok(Math.abs(f[col('days_since_last_login')]! - 6) < 1e-9);
  assert.ok(Math.abs(f[col('days_since_last_payment')]! - 6.75) < 1e-9, 'only SUCCEEDED payments count');
  assert.equal(f[col('payment_failures_30d')], 1);
  assert.equal(f[col('spend_cents_90d')], 999);
  assert.equal(f[col('discount_cents_90d')], 100);
  assert.ok(Number.isNaN(f[col('days_since_last_support')]!));
  assert.ok(Math.abs(f[col('logins_30d_change')]! - (2 - 2 / 3)) < 1e-12);
});

test('profile transforms and one-hot categories, latest source wins', () => {
  const p = profile('c', day(0), { signup_time: day(-100), renewal_time: day(15), plan: 'premium', payment_method: 'crypto' });
  const down = ev('plan_change', 'c', day(5), { change: 'DOWNGRADE', from_plan: 'premium', to_plan: 'basic', reason: null });
  const f = spec.evaluate(stateOf([p, down]), day(10));
  assert.ok(Math.abs(f[col('tenure_days')]! - 110) < 1e-9);
  assert.ok(Math.abs(f[col('days_until_renewal')]! - 5) < 1e-9);
  assert.equal(f[col('plan__basic')], 1);
  assert.equal(f[col('plan__premium')], 0);
  assert.equal(f[col('payment_method__other')], 1, 'unseen category lands in __other');
  assert.equal(f[col('payment_method__card')], 0);
  const before = spec.evaluate(stateOf([p, down]), day(5, 0));
  assert.equal(before[col('plan__premium')], 1, 'as of before the downgrade');
  const nothing = spec.evaluate(stateOf([login(day(1))]), day(2));
  assert.deepEqual([nothing[col('plan__basic')], nothing[col('plan__other')]], [0, 0]);
  assert.equal(spec.categoryValue(stateOf([p, down]), 'plan', day(10)), 'basic');
});

test('features never read buckets that start at or after asOf', () => {
  const base = [login(day(1)), session(day(2), 100)];
  const later = [...base, login(day(5)), session(day(5, 1), 999), ev('support_ticket', 'c', day(5), { category: 'billing', is_complaint: true, satisfaction: 1 })];
  assert.deepEqual(spec.evaluate(stateOf(base), day(5, 0)), spec.evaluate(stateOf(later), day(5, 0)));
});

test('spec hash is stable, ignores descriptions, changes with meaning', () => {
  const again = compileSpec(JSON.parse(JSON.stringify(DEFAULT_CHURN_SPEC)) as FeatureSpecInput);
  assert.equal(again.hash, spec.hash);
  const described = compileSpec({ ...DEFAULT_CHURN_SPEC, features: DEFAULT_CHURN_SPEC.features.map((f) => ({ ...f, description: 'x' })) });
  assert.equal(described.hash, spec.hash);
  const changed = compileSpec({ ...DEFAULT_CHURN_SPEC, features: DEFAULT_CHURN_SPEC.features.map((f) => (f.name === 'logins_7d' ? { ...f, windowDays: 14 } : f)) });
  assert.notEqual(changed.hash, spec.hash);
});

test('invalid specs fail with CF_SPEC_INVALID naming the problem', () => {
  const bad = (features: unknown[], re: RegExp) =>
    assert.throws(
      () => compileSpec({ ...DEFAULT_CHURN_SPEC, features } as FeatureSpecInput),
      (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_SPEC_INVALID' && re.test(e.message),
    );
  bad([{ name: 'x', type: 'window', event: 'login', agg: 'sum', windowDays: 7 }], /needs a field/);
  bad([{ name: 'x', type: 'window', event: 'login', agg: 'count', windowDays: 7 }, { name: 'x', type: 'recency', event: 'login' }], /declared twice/);
  bad([{ name: 'r', type: 'ratio', numerator: 'a', denominator: 'b' }], /must be declared before/);
  bad([{ name: 'Bad-Name', type: 'recency', event: 'login' }], /features\.0\.name/);
  bad([{ name: 'p', type: 'category', from: [{ event: 'profile', field: 'plan' }], categories: ['a'], missingIndicator: true }], /cannot have missingIndicator/);
});

test('a user spec over other events works without any churnflow event names', () => {
  const custom = compileSpec({
    name: 'game',
    version: '1',
    label: { event: 'uninstall', horizonDays: 14 },
    features: [
      { name: 'matches_7d', type: 'window', event: 'match', agg: 'count', windowDays: 7 },
      { name: 'max_score_7d', type: 'window', event: 'match', agg: 'max', field: 'score', windowDays: 7, missingIndicator: true },
      { name: 'days_since_purchase', type: 'recency', event: 'purchase', missingIndicator: true },
    ],
  });
  const s = stateOf([ev('match', 'c', day(1), { score: 10 }), ev('match', 'c', day(2), { score: 30 }), ev('purchase', 'c', day(3), {})], custom);
  assert.deepEqual([...custom.evaluate(s, day(4, 0))], [2, 30, 0.5]);
  assert.equal(custom.isLabelEvent(ev('uninstall', 'c', day(5))), true);
  assert.equal(custom.layout.retentionDays, 8);
});

test('retention covers the longest window plus allowed lateness', () => {
  assert.equal(spec.layout.retentionDays, 91);
  assert.equal(compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 1.5 * DAY_MS }).layout.retentionDays, 93);
});
