// The offset committer believes only commits kafkajs reports as made: kafkajs' commitOffsets resolves
// without sending anything while its runner is stopped (a consumer restarting after a crash, e.g. a
// broker restart), and such a commit must stay held for the next one, not count as confirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawRecord } from '../../../../src/events/activity-event.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { createOffsetCommitter, type CommittingConsumer } from '../../../../src/sources/kafka/offset-committer.js';

const log = createLogger({ level: 'silent' });

function rec(partition: number, offset: number): RawRecord {
  return { position: { stream: `t/${partition}`, offset }, format: 'avro', value: Buffer.alloc(0), key: null, topic: 't', partition, receivedAt: 0, endOfFetch: false };
}

/** A consumer whose commits are reported (emitted) only while `running`, as kafkajs does. */
function fakeConsumer() {
  const listeners: Parameters<CommittingConsumer['onCommitted']>[0][] = [];
  const state = { running: true, sent: [] as { topic: string; partition: number; offset: string }[][] };
  const consumer: CommittingConsumer = {
    async commitOffsets(offsets) {
      if (!state.running) return; // kafkajs: "consumer not running, exiting" — nothing sent, nothing thrown
      state.sent.push(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
      // kafkajs converts the offset to a Long before it emits COMMIT_OFFSETS
      const byTopic = [{ topic: 't', partitions: offsets.map((o) => ({ partition: o.partition, offset: { toString: () => o.offset } })) }];
      for (const l of listeners) l(byTopic);
    },
    onCommitted: (l) => void listeners.push(l),
  };
  return { consumer, state };
}

test('a commit kafkajs reports as made is confirmed for every partition it covers', async () => {
  const { consumer, state } = fakeConsumer();
  const refused: unknown[] = [];
  const commit = createOffsetCommitter({ consumer, timeoutMs: 1000, log, onCommitRefused: (e) => refused.push(e) });
  const confirmed = await commit([rec(0, 4), rec(0, 9), rec(1, 2)]);
  assert.deepEqual([...confirmed].sort(), ['t/0', 't/1']);
  assert.deepEqual(state.sent, [[{ topic: 't', partition: 0, offset: '10' }, { topic: 't', partition: 1, offset: '3' }]], 'one commit, the offset after the highest record per partition');
  assert.equal(refused.length, 0);
});

test('a commit kafkajs skipped while its consumer was not running is not confirmed (held for the next), and counts as refused', async () => {
  const { consumer, state } = fakeConsumer();
  const refused: unknown[] = [];
  const commit = createOffsetCommitter({ consumer, timeoutMs: 1000, log, onCommitRefused: (e) => refused.push(e) });
  state.running = false;
  assert.deepEqual([...(await commit([rec(0, 9), rec(1, 2)]))], [], 'nothing confirmed');
  assert.equal(refused.length, 1);
  state.running = true;
  assert.deepEqual([...(await commit([rec(0, 9), rec(1, 2)]))].sort(), ['t/0', 't/1'], 'the same commit goes once the consumer runs again');
});
