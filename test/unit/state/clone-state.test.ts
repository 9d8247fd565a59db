// cloneState shares day buckets copy-on-write: whichever of the original and the copy merges into a
// shared day first gets its own copy of that bucket, and the other never sees the change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, cloneState, emptyState, type StateDelta } from '../../../src/state/customer-state.js';
import type { StateLayout } from '../../../src/state/customer-state.js';
import { DAY_MS } from '../../../src/events/activity-event.js';

const layout: StateLayout = { retentionDays: 30, merges: new Map([['n', 'add'], ['b', 'bits']]) };
const T = 100 * DAY_MS;
let offset = 0;
const delta = (time: number, n: number): StateDelta => ({
  customerId: 'c',
  eventId: `e${offset}`,
  eventTime: time,
  position: { stream: 's', offset: offset++ },
  ops: [{ slot: 'n', merge: 'add', value: n }, { slot: 'b', merge: 'bits', value: n }],
});

test('a copy and its original change shared day buckets independently', () => {
  const original = emptyState('c');
  applyDelta(original, delta(T, 1), layout);
  applyDelta(original, delta(T + DAY_MS, 2), layout);
  const before = structuredClone(original.buckets);

  const copy = cloneState(original);
  applyDelta(copy, delta(T + 10, 4), layout); // a shared day
  applyDelta(copy, delta(T + 2 * DAY_MS, 8), layout); // a new day
  assert.deepEqual(original.buckets, before, 'the original is untouched by the copy');
  assert.equal(copy.buckets[String(T / DAY_MS)]!.n, 5);
  assert.equal(copy.buckets[String(T / DAY_MS + 1)], original.buckets[String(T / DAY_MS + 1)], 'an untouched day stays shared');

  // The original, changed after the copy (a batch that failed and runs again), does not reach the copy.
  applyDelta(original, delta(T + DAY_MS + 10, 16), layout);
  assert.equal(original.buckets[String(T / DAY_MS + 1)]!.n, 18);
  assert.equal(copy.buckets[String(T / DAY_MS + 1)]!.n, 2);
  assert.equal(copy.buckets[String(T / DAY_MS)]!.n, 5);

  // A copy of a copy: the second merge into a day already copied changes it in place, still alone.
  const third = cloneState(copy);
  applyDelta(third, delta(T + 20, 32), layout);
  applyDelta(third, delta(T + 30, 64), layout);
  assert.equal(third.buckets[String(T / DAY_MS)]!.n, 101);
  assert.equal(copy.buckets[String(T / DAY_MS)]!.n, 5);
  assert.equal(original.buckets[String(T / DAY_MS)]!.n, 1);
});
