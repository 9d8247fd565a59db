// cloneState moves the day-bucket container to the copy and lets the original rebuild its own on its
// next read (src/state/shared-buckets.ts). Whatever order states are copied, changed, expired and read
// in, every state must read exactly what an independent deep copy would hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, cloneState, emptyState, expireBuckets, type CustomerState } from '../../../src/state/customer-state.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { dayDeltas, dayLayout } from '../../helpers/day-deltas.js';
import { rng } from '../../helpers/rng.js';

const layout = dayLayout;
const delta = dayDeltas();

/** What a state must read: its buckets and archive as plain data, taken by value. */
const snapshot = (s: CustomerState) => structuredClone({ buckets: s.buckets, archive: s.archive, maxEventTime: s.maxEventTime });

test('copies, changes, expiry and reads in any order: every state reads what an independent copy would', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const states: CustomerState[] = [emptyState('c')];
    const expected: ReturnType<typeof snapshot>[] = [snapshot(states[0]!)];
    // Each state keeps a deep-copied twin changed the same way: the reference.
    const twins: CustomerState[] = [emptyState('c')];
    let day = 100;
    for (let step = 0; step < 300; step++) {
      const pick = Math.floor(r() * states.length);
      const roll = r();
      if (roll < 0.2 && states.length < 12) {
        states.push(cloneState(states[pick]!));
        twins.push(structuredClone(twins[pick]!));
        expected.push(snapshot(twins[twins.length - 1]!));
      } else if (roll < 0.85) {
        if (r() < 0.3) day++;
        const d = delta(day - Math.floor(r() * 8), 1 + Math.floor(r() * 50));
        assert.equal(applyDelta(states[pick]!, d, layout), applyDelta(twins[pick]!, d, layout));
        expected[pick] = snapshot(twins[pick]!);
      } else if (roll < 0.9) {
        states[pick]!.maxEventTime += DAY_MS;
        twins[pick]!.maxEventTime += DAY_MS;
        expireBuckets(states[pick]!, layout);
        expireBuckets(twins[pick]!, layout);
        expected[pick] = snapshot(twins[pick]!);
      } else {
        assert.deepEqual(snapshot(states[pick]!), expected[pick], `seed ${seed}, step ${step}: state ${pick} reads its own buckets`);
      }
    }
    states.forEach((s, i) => assert.deepEqual(snapshot(s), expected[i], `seed ${seed}: state ${i} at the end`));
  }
});

test('a store-like chain (copy, change, drop the original) keeps no container copies and reads right', () => {
  let stored = emptyState('c');
  for (let batch = 0; batch < 50; batch++) {
    const copy = cloneState(stored);
    applyDelta(copy, delta(200 + batch, batch + 1), layout);
    applyDelta(copy, delta(200 + batch, batch + 2), layout);
    // The copy keeps the container it took over (nothing rebuilt it)...
    assert.equal(Object.getOwnPropertyDescriptor(copy, 'buckets')?.value, copy.buckets);
    stored = copy;
  }
  assert.equal(Object.keys(stored.buckets).length, layout.retentionDays + 1);
  assert.equal(stored.buckets[String(249)]!.n, 50 + 51);
});

test('an original read after its copy changed rebuilds its own container once, sharing untouched days', () => {
  const original = emptyState('c');
  for (let d = 0; d < 5; d++) applyDelta(original, delta(300 + d, 1), layout);
  const copy = cloneState(original);
  applyDelta(copy, delta(304, 7), layout); // a shared day
  applyDelta(copy, delta(306, 9), layout); // a new day, and day 300 expires in the copy
  const rebuilt = original.buckets;
  assert.equal(original.buckets, rebuilt, 'rebuilt once, then a plain property');
  assert.deepEqual(Object.keys(rebuilt), ['300', '301', '302', '303', '304']);
  assert.equal(rebuilt['304']!.n, 1);
  assert.equal(copy.buckets['304']!.n, 8);
  assert.equal(rebuilt['302'], copy.buckets['302'], 'an untouched day stays shared');
  // Both go on independently.
  applyDelta(original, delta(302, 5), layout);
  assert.equal(original.buckets['302']!.n, 6);
  assert.equal(copy.buckets['302']!.n, 1);
});
