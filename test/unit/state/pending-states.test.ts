// PendingStates (src/state/pending-states.ts), write-behind's memory: per stream, the first offset a
// pending customer applied and nobody wrote (what a commit must stay below), kept as customers become
// pending, gain deltas from later batches and are written (deleted), across several streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateDelta } from '../../../src/state/customer-state.js';
import { PendingStates, type PendingState } from '../../../src/state/pending-states.js';
import type { StateRules } from '../../../src/state/state-store.js';

const delta = (customerId: string, stream: string, offset: number): StateDelta => ({ customerId, eventId: `${stream}@${offset}`, eventTime: 0, position: { stream, offset }, ops: [] });
const pending = (customerId: string, redo: StateDelta[][]): PendingState => ({ customerId, state: undefined, version: 1, stored: undefined, redo, epoch: 0, since: 0 });

test('firstUnwritten is the lowest first offset of the pending customers, per stream, until they are written', () => {
  const p = new PendingStates({} as StateRules);
  p.add(pending('a', [[delta('a', 's/0', 5), delta('a', 's/0', 9)]]));
  p.add(pending('b', [[delta('b', 's/0', 7), delta('b', 's/1', 3)]]));
  assert.equal(p.firstUnwritten('s/0'), 5);
  assert.equal(p.firstUnwritten('s/1'), 3);
  // A later batch of a: its first offset of s/0 stays 5; it joins s/1 at 12.
  p.append(p.get('a')!, [delta('a', 's/0', 20), delta('a', 's/1', 12)]);
  assert.equal(p.firstUnwritten('s/1'), 3);
  assert.equal(p.delete('b'), true);
  assert.equal(p.firstUnwritten('s/0'), 5);
  assert.equal(p.firstUnwritten('s/1'), 12, "b's offsets went with it");
  assert.equal(p.delete('a'), true);
  assert.equal(p.firstUnwritten('s/0'), undefined);
  assert.equal(p.firstUnwritten('s/1'), undefined);
  assert.equal(p.delete('a'), false);
  assert.equal(p.size, 0);
  // Pending again after its write: indexed afresh.
  p.add(pending('a', [[delta('a', 's/1', 40)]]));
  assert.equal(p.firstUnwritten('s/1'), 40);
  assert.equal(p.firstUnwritten('s/0'), undefined);
});
