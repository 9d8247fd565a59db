// The memory store checks its stored state out to a batch (checkOutState) instead of lending it to a
// copy: the batch changes the state in place, a write keeps the changes (keepState), a drop undoes them
// (rollBackState), and a read meanwhile sees what the state held (committedState). Whatever a batch
// does — days changed, days expired into the archive, big jumps, outbox entries, last scores — the
// state must read exactly what an independent deep copy would, after a keep or a rollback, and a read
// taken in between must neither see the batch nor be able to change the state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, checkOutState, committedState, emptyState, keepState, rollBackState, type CustomerState, type LastScore } from '../../../src/state/customer-state.js';
import { dayDeltas, dayLayout } from '../../helpers/day-deltas.js';
import { rng } from '../../helpers/rng.js';

const layout = dayLayout;
const delta = dayDeltas();
let outboxKeys = 0;

const score = (n: number): LastScore => ({ score: n / 100, band: n > 50 ? 'high' : 'low', modelName: 'm', modelVersion: '1', eventTime: n, riskEventId: `r${n}` });

/** Everything a state holds, by value; a missing shadowScore field reads differently from a null one. */
const full = (s: CustomerState) =>
  structuredClone({ buckets: s.buckets, archive: s.archive, maxEventTime: s.maxEventTime, positions: s.positions, lastScore: s.lastScore, shadowScore: 'shadowScore' in s ? s.shadowScore : 'absent', outbox: s.outbox, recentEvents: s.recentEvents });

/** As a read sees it: a read (get) leaves a null shadowScore out, as cloneState always did. */
const read = (s: CustomerState) => ({ ...full(s), shadowScore: s.shadowScore ?? 'absent' });

/** The same change on the state and on its twin (a plain deep copy). */
function change(r: () => number, state: CustomerState, twin: CustomerState, day: number): void {
  const pick = r();
  if (pick < 0.7) {
    const d = delta(day - Math.floor(r() * 9), 1 + Math.floor(r() * 50));
    assert.equal(applyDelta(state, d, layout), applyDelta(twin, d, layout));
  } else if (pick < 0.8) {
    const key = `s@${outboxKeys++}`;
    state.outbox[key] = twin.outbox[key] = `decision ${key}`;
  } else if (pick < 0.9) {
    const n = Math.floor(r() * 100);
    state.lastScore = score(n);
    twin.lastScore = score(n);
  } else {
    const n = Math.floor(r() * 100);
    state.shadowScore = twin.shadowScore = r() < 0.3 ? null : score(n);
  }
}

test('check out, change in place, keep or roll back, in any order: the state reads what a deep copy would', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(7000 + seed);
    const stored = emptyState('c');
    let twin = emptyState('c');
    let day = 100;
    let rolledBack = 0;
    for (let step = 0; step < 150; step++) {
      const held = checkOutState(stored);
      assert.deepEqual(full(stored), full(twin), `seed ${seed}, step ${step}: the stored state reads what it held`);
      const batchTwin = structuredClone(twin);
      const changes = 1 + Math.floor(r() * 5);
      for (let k = 0; k < changes; k++) {
        // Mostly a day at a time, sometimes a jump past the retention (every day folds into the archive).
        day += r() < 0.3 ? 1 : r() < 0.05 ? 10 : 0;
        change(r, stored, batchTwin, day);
        if (r() < 0.2) {
          // A read during the batch sees the state as checked out, and changing it changes nothing else.
          const view = committedState(stored, held);
          assert.deepEqual(read(view), read(twin), `seed ${seed}, step ${step}: a read during the batch`);
          applyDelta(view, delta(day, 7), layout);
          view.outbox['x@1'] = 'x';
          assert.deepEqual(full(stored), full(batchTwin), `seed ${seed}, step ${step}: the batch's state after a read was changed`);
        }
      }
      assert.deepEqual(full(stored), full(batchTwin), `seed ${seed}, step ${step}: the batch's changes`);
      if (r() < 0.6) {
        keepState(stored);
        twin = batchTwin;
      } else {
        rollBackState(stored, held);
        rolledBack++;
      }
      assert.deepEqual(full(stored), full(twin), `seed ${seed}, step ${step}: after the ${twin === batchTwin ? 'keep' : 'rollback'}`);
    }
    assert.ok(rolledBack > 20, `seed ${seed}: the walk rolled back (${rolledBack})`);
  }
});

test('a rollback undoes an expiry: the archive and the expired days come back, and later expiry still folds them', () => {
  const stored = emptyState('c');
  const twin = emptyState('c');
  for (let d = 0; d < 5; d++) {
    applyDelta(stored, delta(400 + d, 1 + d), layout);
    applyDelta(twin, delta(400 + d, 1 + d), layout);
  }
  const before = full(stored);
  const held = checkOutState(stored);
  // A jump of 20 days: every day folds into the archive.
  applyDelta(stored, delta(430, 3), layout);
  assert.deepEqual(Object.keys(stored.buckets), ['430']);
  rollBackState(stored, held);
  assert.deepEqual(full(stored), before);
  // The days are back, and the next batch (a move of 8 days) expires exactly what the twin does.
  checkOutState(stored);
  const next = delta(410, 2);
  applyDelta(stored, next, layout);
  applyDelta(twin, next, layout);
  keepState(stored);
  assert.deepEqual(full(stored), full(twin));
  assert.deepEqual(Object.keys(stored.buckets), ['404', '410']);
});
