// The offset committer believes only commits kafkajs reports as made: kafkajs' commitOffsets resolves
// without sending anything while its runner is stopped (a consumer restarting after a crash, e.g. a
// broker restart), and such a commit must stay held for the next one, not count as confirmed. And it
// sends commits one at a time, a timed-out one included: kafkajs goes on retrying that one, and landing
// after a later commit it would move the group's offsets back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
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

/**
 * A consumer whose commits land at the broker when the test settles them, in any order, as kafkajs'
 * retried commits do across a broker restart: `broker` is the group's committed offset per partition.
 */
function slowConsumer() {
  const listeners: Parameters<CommittingConsumer['onCommitted']>[0][] = [];
  const broker = new Map<number, string>();
  const inFlight: { offsets: { partition: number; offset: string }[]; land: () => void; fail: (err: Error) => void }[] = [];
  const consumer: CommittingConsumer = {
    commitOffsets(offsets) {
      return new Promise<void>((resolve, reject) => {
        inFlight.push({
          offsets: offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
          land: () => {
            for (const o of offsets) broker.set(o.partition, o.offset);
            for (const l of listeners) l([{ topic: 't', partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) }]);
            resolve();
          },
          fail: reject,
        });
      });
    },
    onCommitted: (l) => void listeners.push(l),
  };
  return { consumer, broker, inFlight };
}

/** A logger whose lines the test reads. */
function capturedLog() {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().trim().split('\n')), done()) });
  return { log: createLogger({ level: 'info', destination }), messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}

test('a commit that timed out and lands later never moves the group back: no commit is sent until it settled', async () => {
  const { consumer, broker, inFlight } = slowConsumer();
  const logged = capturedLog();
  const commit = createOffsetCommitter({ consumer, timeoutMs: 5, log: logged.log });
  assert.deepEqual([...(await commit([rec(1, 99)]))], [], 'timed out: not confirmed');
  assert.equal(inFlight.length, 1);
  // Meanwhile the engine went on; kafkajs still retries the first commit.
  assert.deepEqual([...(await commit([rec(1, 199)]))], [], 'not confirmed while the first is out');
  assert.equal(inFlight.length, 1, 'and not sent: it could land before the first');
  inFlight[0]!.land(); // the broker is back: the retried first commit is made
  await new Promise((r) => setImmediate(r));
  const next = commit([rec(1, 199)]);
  assert.equal(inFlight.length, 2, 'sent once the first settled');
  inFlight[1]!.land();
  assert.deepEqual([...(await next)], ['t/1']);
  assert.equal(broker.get(1), '200', 'the group ends at the last record');
  assert.ok(logged.messages().includes('an offset commit that timed out was made after all; the next commit follows it'), logged.messages().join('\n'));
});

test('a timed-out commit that kafkajs then skips (its consumer restarting) is logged as not sent, and the next one goes', async () => {
  const { consumer, state } = fakeConsumer();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const slow: CommittingConsumer = { onCommitted: consumer.onCommitted, commitOffsets: async (o) => (await gate, consumer.commitOffsets(o)) };
  const logged = capturedLog();
  const commit = createOffsetCommitter({ consumer: slow, timeoutMs: 5, log: logged.log });
  assert.deepEqual([...(await commit([rec(0, 9)]))], []);
  state.running = false; // the consumer crashed meanwhile: kafkajs resolves the retried commit without sending it
  release();
  await new Promise((r) => setImmediate(r));
  assert.ok(logged.messages().includes('an offset commit that timed out was not sent after all (the consumer was restarting); the next commit follows it'), logged.messages().join('\n'));
  state.running = true;
  assert.deepEqual([...(await commit([rec(0, 19)]))], ['t/0']);
  assert.deepEqual(state.sent, [[{ topic: 't', partition: 0, offset: '20' }]]);
});

test('a commit that timed out and then failed lets the next one go', async () => {
  const { consumer, inFlight } = slowConsumer();
  const commit = createOffsetCommitter({ consumer, timeoutMs: 5, log });
  assert.deepEqual([...(await commit([rec(0, 9)]))], []);
  inFlight[0]!.fail(new Error('The coordinator is not aware of this member'));
  await new Promise((r) => setImmediate(r));
  const next = commit([rec(0, 19)]);
  assert.equal(inFlight.length, 2);
  inFlight[1]!.land();
  assert.deepEqual([...(await next)], ['t/0']);
});

test('draining, the last commit waits for a timed-out one still out (up to the timeout), then goes', async () => {
  const { consumer, broker, inFlight } = slowConsumer();
  let draining = false;
  const commit = createOffsetCommitter({ consumer, timeoutMs: 200, log, draining: () => draining });
  const first = commit([rec(1, 99)]);
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual([...(await first)], [], 'timed out');
  draining = true;
  const last = commit([rec(1, 199)]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(inFlight.length, 1, 'not sent while the first is out');
  inFlight[0]!.land();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(inFlight.length, 2, 'sent once the first settled, within the same call');
  inFlight[1]!.land();
  assert.deepEqual([...(await last)], ['t/1']);
  assert.equal(broker.get(1), '200');
});

test('draining, a timed-out commit that stays out past the timeout leaves the last commit unsent (redelivered, never moved back); the drain waits once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { consumer, inFlight } = slowConsumer();
  const commit = createOffsetCommitter({ consumer, timeoutMs: 30, log, draining: () => true });
  const flush = () => new Promise((r) => setImmediate(r));
  const settledWithin = async (p: Promise<unknown>, ms: number) => {
    let done = false;
    void p.then(() => (done = true));
    await flush();
    t.mock.timers.tick(ms);
    await flush();
    return done;
  };
  const first = commit([rec(1, 99)]);
  assert.ok(await settledWithin(first, 30), 'the first commit times out');
  assert.deepEqual([...(await first)], []);
  const second = commit([rec(1, 199)]);
  assert.equal(await settledWithin(second, 29), false, 'the drain waits for the timed-out commit…');
  assert.ok(await settledWithin(second, 1), '…up to the timeout');
  assert.deepEqual([...(await second)], []);
  assert.equal(inFlight.length, 1, 'and sends nothing while it is out');
  const third = commit([rec(1, 299)]);
  assert.ok(await settledWithin(third, 0), 'a later batch of the same drain does not wait again');
  assert.deepEqual([...(await third)], []);
  assert.equal(inFlight.length, 1);
});
