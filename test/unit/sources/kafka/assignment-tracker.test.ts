import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignmentTracker } from '../../../../src/sources/kafka/assignment-tracker.js';
import { fatalCrash, isTransientCrash } from '../../../../src/sources/kafka/consumer-crash.js';
import { decodeWatermarkMetadata, encodeWatermarkMetadata } from '../../../../src/sources/kafka/partition-watermarks.js';
import { WatermarkTracker } from '../../../../src/time/watermark.js';

test('a rebalance reports the partitions this member lost; newly assigned ones get their committed frontier before their first record', async () => {
  const watermarks = new WatermarkTracker({ allowedLatenessMs: 0 });
  const revoked: string[][] = [];
  const fetched: string[] = [];
  const tracker = new AssignmentTracker({
    watermarks,
    onRevoked: (s) => revoked.push([...s]),
    fetchCommittedFrontiers: async (topic) => {
      fetched.push(topic);
      return new Map([[0, 5000], [2, 7000]]);
    },
  });
  tracker.joined({ t: [0, 1, 2] });
  await Promise.all([tracker.ready('t', 0), tracker.ready('t', 1), tracker.ready('t', 2)]);
  assert.deepEqual(fetched, ['t'], 'one lookup per topic and join');
  assert.equal(watermarks.watermark('t/0'), 5000);
  assert.equal(watermarks.watermark('t/1'), undefined);
  assert.equal(watermarks.watermark('t/2'), 7000);
  watermarks.observe('t/0', 9000);
  assert.deepEqual(tracker.joined({ t: [0, 1] }), ['t/2']);
  assert.deepEqual(revoked, [['t/2']]);
  // kept partitions are not re-seeded (their live frontier is newer than the commit)
  await tracker.ready('t', 0);
  assert.equal(watermarks.watermark('t/0'), 9000);
  tracker.left();
  assert.deepEqual(revoked.at(-1), ['t/0', 't/1']);
});

test('each partition taken over gets a new ownership epoch, kept while it stays assigned; a revoked one has none', () => {
  const tracker = new AssignmentTracker({ fetchCommittedFrontiers: async () => new Map() });
  assert.equal(tracker.epochOf('t/0'), undefined);
  tracker.joined({ t: [0, 1] });
  const first = [tracker.epochOf('t/0'), tracker.epochOf('t/1')];
  assert.ok(first.every((e) => e !== undefined));
  assert.notEqual(first[0], first[1]);
  tracker.joined({ t: [0] }); // a rebalance that keeps t/0: records emitted before it stay current
  assert.equal(tracker.epochOf('t/0'), first[0]);
  assert.equal(tracker.epochOf('t/1'), undefined);
  tracker.joined({ t: [0, 1] }); // t/1 back: records of its earlier ownership must not count as this one's
  assert.ok(tracker.epochOf('t/1') !== undefined && tracker.epochOf('t/1') !== first[1]);
  tracker.left();
  assert.equal(tracker.epochOf('t/0'), undefined);
});

test('a crash kafkajs will not restart from fails the stream, non-retriable, with the reason', () => {
  assert.equal(fatalCrash({ error: new Error('x'), restart: true }), undefined);
  const err = fatalCrash({ error: new Error('Topic authorization failed'), restart: false })!;
  assert.equal(err.code, 'CF_SOURCE_FAILED');
  assert.equal(err.retriable, false);
  assert.match(err.message, /will not restart: Topic authorization failed/);
});

test('watermark metadata round-trips; foreign metadata is ignored', () => {
  assert.equal(decodeWatermarkMetadata(encodeWatermarkMetadata(1234)), 1234);
  assert.equal(encodeWatermarkMetadata(undefined), null);
  for (const m of [null, '', 'hello', '{"v":2,"frontier":1}', '{"v":1,"frontier":"x"}']) assert.equal(decodeWatermarkMetadata(m), undefined);
});

test('a group coordinator not found (a broker restarting) is a transient crash, however kafkajs wraps it; other crashes are not', () => {
  const notFound = Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' });
  const wrapped = Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSNonRetriableError', cause: notFound });
  assert.equal(isTransientCrash(notFound), true);
  assert.equal(isTransientCrash(wrapped), true);
  assert.equal(isTransientCrash(Object.assign(new Error('Topic authorization failed'), { name: 'KafkaJSProtocolError' })), false);
  assert.equal(isTransientCrash(undefined), false);
});
