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

test('dropStreams forgets the customers whose unwritten deltas all came from revoked streams, and only those', () => {
  const p = new PendingStates({} as StateRules);
  p.add(pending('a', [[delta('a', 's/0', 5)], [delta('a', 's/0', 9)]]));
  p.add(pending('b', [[delta('b', 's/0', 7), delta('b', 's/1', 3)]]));
  p.add(pending('c', [[delta('c', 's/1', 4)]]));
  p.add(pending('d', [])); // only redeliveries: indexed in no stream
  assert.equal(p.dropStreams(new Set(['s/0'])), 1);
  assert.equal(p.get('a'), undefined, 'all of its deltas are of the revoked stream');
  assert.ok(p.get('b'), 'b also applied records of s/1, which this instance still owns and commits');
  assert.ok(p.get('c') && p.get('d'));
  assert.equal(p.firstUnwritten('s/0'), 7, "only b's offset holds s/0 now");
  assert.equal(p.dropStreams(new Set(['s/0', 's/1'])), 2);
  assert.deepEqual([...p.entries()].map((e) => e.customerId), ['d']);
  assert.equal(p.firstUnwritten('s/0'), undefined);
  assert.equal(p.firstUnwritten('s/1'), undefined);
});
