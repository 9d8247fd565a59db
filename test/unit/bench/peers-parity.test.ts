import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkParity, type PeerRow } from '../../../bench/peers/parity.js';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { day, ev } from '../../helpers/events.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const events = [
  ev('login', 'c1', day(0, 9), { device: 'web', success: true }),
  ev('session', 'c1', day(20, 9), { duration_seconds: 600, content_items: 1, content_id: 'm1' }),
  ev('login', 'c1', day(27, 9), { device: 'tv', success: true }),
  ev('payment', 'c1', day(28, 9), { status: 'FAILED', amount_cents: 999, discount_cents: 100, currency: 'USD' }),
];
const asOf = day(28, 9) + 1;
// What a correct peer reports for c1 as of just after its newest event.
const correct: PeerRow = {
  customer_id: 'c1',
  as_of: asOf,
  features: { logins_7d: 1, logins_30d: 2, logins_90d: 2, watch_seconds_30d: 600, payment_failures_30d: 1, spend_cents_90d: 0, discount_cents_90d: 100 },
};

test('a peer row equal to churnflow\'s evaluation of the same events has no difference', () => {
  const r = checkParity(spec, new Map([['c1', events]]), new Map([['c1', correct]]));
  assert.deepEqual(r.differences, []);
  assert.equal(r.compared, 7);
});

test('a value off by one, a missing customer and an unknown feature are each reported', () => {
  const wrong: PeerRow = { ...correct, features: { ...correct.features, logins_7d: 2, not_a_feature: 0 } };
  const r = checkParity(spec, new Map([['c1', events], ['c2', [ev('login', 'c2', day(1), { device: 'web', success: true })]]]), new Map([['c1', wrong]]));
  assert.deepEqual([...r.differences].sort(), ["c1 logins_7d: churnflow 1, peer 2", "c1: the peer reports 'not_a_feature', which is no column of spec churn_default", "c2: missing from the peer's store"].sort());
});

test('the comparison is as of the peer\'s as_of: a later day\'s bucket is not read', () => {
  const later = [...events, ev('login', 'c1', day(29, 9), { device: 'web', success: true })];
  const r = checkParity(spec, new Map([['c1', later]]), new Map([['c1', correct]]));
  assert.deepEqual(r.differences, []);
});
