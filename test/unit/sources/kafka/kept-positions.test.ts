// Where a partition resumes after a rebalance (src/sources/kafka/kept-positions.ts): kept under the same
// ownership, after its last record emitted; lost, or lost and assigned again, at the group's commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeptPositions } from '../../../../src/sources/kafka/kept-positions.js';

test('a partition kept under the same ownership resumes after its last record emitted; one lost, or lost and back, is forgotten', () => {
  const kept = new KeptPositions();
  const epochs = new Map<string, number>([['t/0', 1], ['t/1', 2]]);
  kept.emitted('t/0', 't', 0, 41, 1);
  kept.emitted('t/0', 't', 0, 40, 1); // an earlier batch's end seen late does not move it back
  kept.emitted('t/1', 't', 1, 7, 2);
  kept.emitted('t/2', 't', 2, 9, undefined); // emitted while not owned: nothing to resume
  assert.deepEqual(kept.afterJoin((s) => epochs.get(s)), [{ topic: 't', partition: 0, offset: 42 }, { topic: 't', partition: 1, offset: 8 }]);
  epochs.delete('t/1'); // lost
  assert.deepEqual(kept.afterJoin((s) => epochs.get(s)), [{ topic: 't', partition: 0, offset: 42 }]);
  epochs.set('t/1', 3); // back under a new ownership: starts at the group's commit
  assert.deepEqual(kept.afterJoin((s) => epochs.get(s)), [{ topic: 't', partition: 0, offset: 42 }]);
  kept.emitted('t/1', 't', 1, 12, 3);
  epochs.set('t/0', 4); // t/0 lost and back between two joins kafkajs reported: its old position is not used
  assert.deepEqual(kept.afterJoin((s) => epochs.get(s)), [{ topic: 't', partition: 1, offset: 13 }]);
});
