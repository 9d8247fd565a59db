// Risk events and their current-risk records go out in one produce request (one round trip instead of
// two in a row on the idempotent producer); a record refused for its size falls back to the sinks
// alone, which isolate it exactly as without the pairing; other failures stay retriable sink failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { type Message, type Producer, type ProducerBatch, type ProducerRecord } from 'kafkajs';
import { isRetriable } from '../../../src/errors.js';
import { jointKafkaSink } from '../../../src/sinks/joint-kafka-sink.js';
import { createKafkaSink, type ProducerLease } from '../../../src/sinks/kafka-sink.js';
import { OutputTooLargeError } from '../../../src/sinks/output-too-large.js';

const { KafkaJSProtocolError, KafkaJSConnectionError } = kafkajs;
const tooLarge = () => new KafkaJSProtocolError({ type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'too large' } as unknown as Error);

interface Rec {
  readonly id: string;
  readonly size: number;
}

/** A broker that refuses messages over `maxBytes` (the whole request, as a partition's refusal fails sendBatch) or fails as told. */
function fakeBroker(maxBytes: number) {
  const requests: { kind: 'send' | 'sendBatch'; topics: Record<string, string[]> }[] = [];
  const retired: Producer[] = [];
  let failNext: Error | undefined;
  const valuesOf = (ms: Message[]) => ms.map((m) => String(m.value));
  const check = (ms: Message[]) => {
    if (ms.some((m) => Buffer.byteLength(m.value as Buffer) > maxBytes)) throw tooLarge();
  };
  let producer: Producer;
  const makeProducer = () =>
    ({
      async send(r: ProducerRecord) {
        requests.push({ kind: 'send', topics: { [r.topic]: valuesOf(r.messages) } });
        check(r.messages);
        return [];
      },
      async sendBatch(b: ProducerBatch) {
        requests.push({ kind: 'sendBatch', topics: Object.fromEntries((b.topicMessages ?? []).map((t) => [t.topic, valuesOf(t.messages)])) });
        assert.equal(b.acks, -1);
        if (failNext) {
          const err = failNext;
          failNext = undefined;
          throw err;
        }
        for (const t of b.topicMessages ?? []) check(t.messages);
        return [];
      },
    }) as unknown as Producer;
  producer = makeProducer();
  const lease: ProducerLease = {
    async use(fn) {
      return fn(producer);
    },
    retire(p) {
      retired.push(p);
      producer = makeProducer();
    },
  };
  return { lease, requests, retired, failWith: (err: Error) => (failNext = err) };
}

function sinks(lease: ProducerLease) {
  const encoder = { prepare: async () => {}, encode: (r: Rec) => Buffer.from(`${r.id}:${'x'.repeat(r.size)}`) };
  const risk = createKafkaSink<Rec>(lease, { topic: 'risk', encoder, key: (r) => r.id });
  const current = createKafkaSink<Rec>(lease, { topic: 'current', encoder, key: (r) => r.id });
  // The derived record is smaller, as a current-risk record is beside its risk event.
  return jointKafkaSink(lease, risk, current, (r): Rec => ({ id: `c${r.id}`, size: 0 }));
}

test('both topics go out in one sendBatch request, the derived records beside the records, in order', async () => {
  const broker = fakeBroker(100);
  const sink = sinks(broker.lease);
  assert.equal(sink.name, 'kafka:risk'); // dead letters' details name the risk sink, as without the pairing
  await sink.write([
    { id: 'a', size: 1 },
    { id: 'b', size: 2 },
  ]);
  assert.deepEqual(broker.requests, [{ kind: 'sendBatch', topics: { risk: ['a:x', 'b:xx'], current: ['ca:', 'cb:'] } }]);
  await sink.write([]);
  assert.equal(broker.requests.length, 1, 'nothing to write sends nothing');
});

test('a record refused for its size: the producer is replaced and the sinks alone isolate it; every derived record is written', async () => {
  const broker = fakeBroker(100);
  const sink = sinks(broker.lease);
  const err = await sink.write([
    { id: 'a', size: 1 },
    { id: 'big', size: 500 },
    { id: 'c', size: 1 },
  ]).then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OutputTooLargeError);
  assert.deepEqual(err.indexes, [1]);
  assert.equal(isRetriable(err), false);
  assert.ok(broker.retired.length >= 1, 'the refused producer was retired (kafkajs rolled its sequence numbers back)');
  const written = (topic: string) => broker.requests.filter((r) => r.kind === 'send').flatMap((r) => r.topics[topic] ?? []);
  // The bisection re-sends halves; every record but the refused one reached the broker on its own path.
  assert.deepEqual([...new Set(written('current'))].sort(), ['ca:', 'cbig:', 'cc:']);
  assert.ok(written('risk').includes('a:x') && written('risk').includes('c:x'));
  assert.equal(broker.requests[0]!.kind, 'sendBatch');
});

test('any other failure is a retriable sink failure, without a fallback', async () => {
  const broker = fakeBroker(100);
  const sink = sinks(broker.lease);
  broker.failWith(new KafkaJSConnectionError('broker away'));
  const err = await sink.write([{ id: 'a', size: 1 }]).then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.equal((err as { code?: string }).code, 'CF_SINK_FAILED');
  assert.equal(isRetriable(err), true);
  assert.equal(broker.requests.length, 1);
  assert.equal(broker.retired.length, 0);
});
