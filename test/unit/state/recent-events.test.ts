// The content-duplicate guard's list (CustomerState.recentEvents) is kept in place by applyDelta: the
// new id takes the place of a dropped one instead of being pushed first (customer-state.ts). The list
// must stay exactly what "append, then drop the entries past the horizon when the first one is, then
// keep the newest maxIds" gives, for any order of event times, repeats, copies and horizons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, checkOutState, emptyState, eventIdHash, rollBackState, type CustomerState, type DedupeOptions, type StateDelta, type StateLayout } from '../../../src/state/customer-state.js';

const layout: StateLayout = { retentionDays: 400, merges: new Map([['n', 'add']]) };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The list as the rule defines it, from the list before and the applied event. */
function reference(before: readonly [number, number][], hash: number, eventTime: number, maxEventTime: number, dedupe: DedupeOptions): [number, number][] {
  let list: [number, number][] = [...before, [hash, eventTime]];
  const oldest = maxEventTime - dedupe.horizonMs;
  if (list[0]![1] < oldest) list = list.filter((e) => e[1] >= oldest);
  return list.length > dedupe.maxIds ? list.slice(list.length - dedupe.maxIds) : list;
}

test('recent event ids: in-place upkeep gives what append-filter-cap gives, with late events, repeats and copies', () => {
  for (let seed = 1; seed <= 80; seed++) {
    const r = rng(seed);
    // Whole seconds throughout, so that event times fall exactly on the horizon too.
    const dedupe: DedupeOptions = { horizonMs: 1_000 * (1 + Math.floor(r() * 5)), maxIds: 1 + Math.floor(r() * 6) };
    let state: CustomerState = emptyState('c');
    let expected: [number, number][] = [];
    let now = 1_700_000_000_000;
    for (let step = 0; step < 300; step++) {
      // A checkout rolled back (a dropped batch that changed nothing): the list is its copy at its exact length.
      if (r() < 0.1) rollBackState(state, checkOutState(state));
      now += 1_000 * Math.floor(r() * 3);
      const eventTime = r() < 0.2 ? now - 1_000 * Math.floor(r() * 10) : now; // some late, some past the horizon
      const id = `e${Math.floor(r() * 400)}`; // repeats: content duplicates within the horizon change nothing
      const d: StateDelta = { customerId: 'c', eventId: id, eventTime, position: { stream: 's', offset: step }, ops: [{ slot: 'n', merge: 'add', value: 1 }] };
      const before = state.recentEvents.map((e) => [e[0], e[1]] as [number, number]);
      const outcome = applyDelta(state, d, layout, dedupe);
      if (outcome === 'applied') expected = reference(before, eventIdHash(id), eventTime, state.maxEventTime, dedupe);
      assert.deepEqual(state.recentEvents, expected, `seed ${seed} step ${step} (${outcome})`);
    }
  }
});
