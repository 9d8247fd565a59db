// Expiry keeps, per bucket container, a day below which no bucket is left, and visits only the days
// from there to the oldest kept day (customer-state.ts). A container without one (decoded, rebuilt,
// structuredClone'd) lists its keys instead: the same events applied either way must leave the same
// state, whatever late days, gaps, checkouts and rollbacks come between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, checkOutState, emptyState, expireBuckets, keepState, rollBackState, type CheckedOutState, type CustomerState, type StateDelta, type StateLayout } from '../../../src/state/customer-state.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { rng } from '../../helpers/rng.js';

const layout: StateLayout = { retentionDays: 5, merges: new Map([['n', 'add'], ['b', 'bits'], ['l', 'last'], ['m', 'max']]) };

let offset = 0;
function delta(day: number, n: number): StateDelta {
  const t = day * DAY_MS + n;
  return {
    customerId: 'c',
    eventId: `e${offset}`,
    eventTime: t,
    position: { stream: 's', offset: offset++ },
    ops: [
      { slot: 'n', merge: 'add', value: n + 0.25 },
      { slot: 'b', merge: 'bits', value: n % 256 },
      { slot: 'l', merge: 'last', value: [t, `v${n}`] },
      { slot: 'm', merge: 'max', value: t },
    ],
  };
}

const plain = (s: CustomerState) => structuredClone({ buckets: s.buckets, archive: s.archive, maxEventTime: s.maxEventTime, recentEvents: s.recentEvents });

test('expiry from the kept floor leaves what listing every key leaves: late days, long gaps, rollbacks and budget-style expiry', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const state = emptyState('c'); // keeps its container (and so its floor) from step to step
    let reference = emptyState('c'); // a fresh container every step: no floor, its keys listed
    let day = 20_000;
    // A checkout as the memory store makes one per batch: its changes kept, or rolled back (the
    // container's days come back, its floor is dropped) — with the reference as it was at the checkout.
    let out: { held: CheckedOutState; reference: CustomerState } | undefined;
    for (let step = 0; step < 250; step++) {
      const roll = r();
      if (roll < 0.1) {
        if (out === undefined) out = { held: checkOutState(state), reference: structuredClone(reference) };
        else {
          if (r() < 0.5) keepState(state);
          else {
            rollBackState(state, out.held);
            reference = out.reference;
          }
          out = undefined;
        }
      } else if (roll < 0.15) {
        // Expiry with a shorter retention (enforceBudget's way of shedding old days).
        const shorter = { ...layout, retentionDays: Math.floor(r() * 4) };
        expireBuckets(state, shorter);
        reference = structuredClone(reference);
        expireBuckets(reference, shorter);
      } else {
        const move = r();
        if (move < 0.3) day += 1;
        else if (move < 0.33) day += 600 + Math.floor(r() * 100); // past the floor walk: keys listed
        else if (move < 0.4) day += 3;
        // Mostly recent days; sometimes one far older than every kept bucket (straight to the archive).
        const at = r() < 0.1 ? day - 10 - Math.floor(r() * 40) : day - Math.floor(r() * 7);
        const d = delta(at, 1 + Math.floor(r() * 50));
        reference = structuredClone(reference);
        assert.equal(applyDelta(state, d, layout), applyDelta(reference, d, layout), `seed ${seed} step ${step}`);
      }
      assert.deepEqual(plain(state), plain(reference), `seed ${seed} step ${step}`);
      const oldestKept = Math.floor(state.maxEventTime / DAY_MS) - layout.retentionDays;
      for (const key of Object.keys(state.buckets)) assert.ok(Number(key) >= oldestKept, `seed ${seed} step ${step}: day ${key} kept below ${oldestKept}`);
    }
  }
});
