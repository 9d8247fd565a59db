// cloneState moves the day-bucket container to the copy and lets the original rebuild its own on its
// next read (src/state/shared-buckets.ts). Whatever order states are copied, changed, expired and read
// in, every state must read exactly what an independent deep copy would hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, cloneState, emptyState, expireBuckets, lendState, reclaimState, type CustomerState, type StateDelta, type StateLayout } from '../../../src/state/customer-state.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { rng } from '../../helpers/rng.js';

const layout: StateLayout = { retentionDays: 6, merges: new Map([['n', 'add'], ['b', 'bits'], ['l', 'last']]) };

let offset = 0;
function delta(day: number, n: number): StateDelta {
  const t = day * DAY_MS + n;
  return {
    customerId: 'c',
    eventId: `e${offset}`,
    eventTime: t,
    position: { stream: 's', offset: offset++ },
    ops: [
      { slot: 'n', merge: 'add', value: n },
      { slot: 'b', merge: 'bits', value: n % 256 },
      { slot: 'l', merge: 'last', value: [t, `v${n}`] },
    ],
  };
}

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

// lendState (the memory store's copy) puts the original on loan instead of giving it a getter: the
// holder reclaims it before reading it. A store-like random walk: load (lend), change the copy, then
// write it (the copy replaces the original), drop it (a failed batch: the original must read as
// before), or copy it with cloneState (a reader) before either; the stored state is reclaimed and
// checked against an independent deep copy.
test('lend, change, write or drop, in any order: the reclaimed original reads what it held', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(1000 + seed);
    let stored = emptyState('c');
    let twin = emptyState('c');
    let day = 100;
    for (let step = 0; step < 120; step++) {
      reclaimState(stored);
      assert.deepEqual(snapshot(stored), snapshot(twin), `seed ${seed}, step ${step}: the stored state reads what it held`);
      const copy = lendState(stored);
      assert.equal(typeof Object.getOwnPropertyDescriptor(stored, 'buckets')?.get, 'undefined', 'no getter on a lent original');
      const copyTwin = structuredClone(twin);
      const changes = 1 + Math.floor(r() * 4);
      for (let k = 0; k < changes; k++) {
        if (r() < 0.3) day++;
        const d = delta(day - Math.floor(r() * 8), 1 + Math.floor(r() * 50));
        assert.equal(applyDelta(copy, d, layout), applyDelta(copyTwin, d, layout));
      }
      const reader = r() < 0.2 ? cloneState(copy) : undefined;
      const readerTwin = reader ? structuredClone(copyTwin) : undefined;
      if (reader && r() < 0.5) applyDelta(reader, delta(day, 3), layout), applyDelta(readerTwin!, delta(day, 3), layout);
      if (r() < 0.6) {
        stored = copy; // written: the store takes the copy over
        twin = copyTwin;
      } // else: dropped, like a batch that failed before its write
      if (reader) assert.deepEqual(snapshot(reader), snapshot(readerTwin!), `seed ${seed}, step ${step}: a reader's copy`);
    }
  }
});

test('a lent original is rebuilt by reclaimState, not by reading it, and a second lend reclaims first', () => {
  const original = emptyState('c');
  for (let d = 0; d < 5; d++) applyDelta(original, delta(400 + d, 1), layout);
  const before = snapshot(original);
  const copy = lendState(original);
  applyDelta(copy, delta(404, 7), layout);
  applyDelta(copy, delta(406, 9), layout);
  // On loan, the original's container is the copy's: that is why only its holder may read it, after reclaiming.
  assert.equal(original.buckets, copy.buckets);
  const again = lendState(original); // a second load of a batch that was not written
  assert.deepEqual(snapshot(again), before);
  assert.equal(again.buckets['404']!.n, 1);
  assert.equal(copy.buckets['404']!.n, 8, 'the dropped copy keeps its own changes');
  reclaimState(original);
  assert.deepEqual(snapshot(original), before);
});
