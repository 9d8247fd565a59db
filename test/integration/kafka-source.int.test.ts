// The Kafka source against the real broker and registry: a registry outage longer than the session
// timeout costs no rebalance, a crash kafkajs will not restart from fails the stream, a revoked
// partition leaves the event-time tracker, a member never commits a partition it lost (the group's
// offset would move back behind its new owner's) and resumes one it kept where it was. Each test has its own topic and group.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import avro from 'avsc';
import type { Subscription } from 'rxjs';
import { ChurnflowError } from '../../src/errors.js';
import { CommitSchedule } from '../../src/operators/commit-schedule.js';
import type { RawRecord } from '../../src/events/activity-event.js';
import { createLogger } from '../../src/observability/logger.js';
import { ActivityCodec, DecodeError } from '../../src/serde/activity-codec.js';
import { RegistryClient, subjectForTopic } from '../../src/serde/registry-client.js';
import { RegistryActivityDecoder } from '../../src/serde/registry-decoder.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import { schemaJson } from '../../src/serde/schemas.js';
import { FlowControl } from '../../src/sources/flow-control.js';
import { createKafkaSource, type KafkaSourceHooks, type KafkaSourceOptions } from '../../src/sources/kafka-source.js';
import { systemClock } from '../../src/time/clock.js';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { committedOffsets } from '../helpers/engine-process.js';
import { day, ev } from '../helpers/events.js';
import { createTopics, kafka } from '../helpers/kafka.js';
import { SERVICES, uniqueName } from '../helpers/services.js';

const log = createLogger({ level: 'silent' });
const codec = new ActivityCodec();
const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
after(() => registry.close());

const sourceOptions = (topic: string, groupId: string): KafkaSourceOptions => ({
  brokers: SERVICES.kafkaBrokers,
  clientId: 'cf-source-test',
  groupId,
  topics: [topic],
  fromBeginning: true,
  format: 'confluent-avro',
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  fetchMaxWaitMs: 200,
});

async function produce(topic: string, messages: { value: Buffer; key?: string; partition?: number }[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, messages: messages.slice(i, i + 500).map((m) => ({ value: m.value, key: m.key ?? null, ...(m.partition !== undefined ? { partition: m.partition } : {}) })) });
  } finally {
    await producer.disconnect();
  }
}

/** Runs a source like the topology does: each record handled, committed, its credit returned. */
function consume(source: ReturnType<typeof createKafkaSource>, onRecord: (r: RawRecord) => void): { sub: Subscription; error: Promise<unknown> } {
  const flow = new FlowControl(256);
  let fail: (e: unknown) => void = () => {};
  const error = new Promise<unknown>((resolve) => (fail = resolve));
  const sub = source.records(flow).subscribe({
    next: (r) => {
      onRecord(r);
      void source.commit([r]).finally(() => flow.release(1));
    },
    error: (e: unknown) => fail(e),
  });
  return { sub, error };
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP forwarder to the registry that can be taken down (connections refused) and brought back on the same port. */
async function outageProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const up = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server!.listen(listenPort, '127.0.0.1', r));
    listenPort = (server.address() as AddressInfo).port;
  };
  const down = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server!.close(() => r()));
  };
  await up();
  return { url: target.replace(`${hostname}:${port}`, `127.0.0.1:${listenPort}`), up, down };
}

/** The activity schema plus one optional field: a compatible writer with its own id. */
async function evolvedWriter(subject: string): Promise<{ id: number; type: avro.Type }> {
  const v2 = schemaJson('activity-event') as { fields: unknown[] };
  const schema = { ...v2, fields: [...v2.fields, { name: 'extra', type: 'int', default: 0 }] };
  const id = await registry.register(subject, schema);
  return { id, type: avro.Type.forSchema(schema as avro.Schema, { wrapUnions: true }) };
}

const login = (customer: string, t: number) => ev('login', customer, t, { device: 'ios', success: true });

const frame = (id: number, body: Buffer) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
};

test('a 60 s schema-registry outage mid-stream: no rebalance, nothing emitted meanwhile, every record exactly once after', { timeout: 180_000 }, async () => {
  const topic = uniqueName('cf-outage');
  await createTopics([topic], 1);
  const enc = activityEventEncoder({ registry, topic, autoRegister: true }, codec);
  await enc.prepare();
  await produce(topic, Array.from({ length: 200 }, (_, i) => ({ value: enc.encode(login(`c${i % 20}`, day(1) + i * 1000)) })));
  const v2 = await evolvedWriter(subjectForTopic(topic));

  const proxy = await outageProxy(SERVICES.schemaRegistryUrl);
  const client = new RegistryClient({ url: proxy.url, maxRetries: 0, timeoutMs: 2000 });
  const decoder = new RegistryActivityDecoder({ registry: client });
  let joins = 0;
  const seen: { offset: number; outcome: string }[] = [];
  const source = createKafkaSource(sourceOptions(topic, uniqueName('cf-group')), { logger: log, clock: systemClock, prepare: (r) => decoder.prepare(r), onRebalance: () => joins++ });
  const { sub } = consume(source, (r) => {
    let outcome: string;
    try {
      outcome = decoder.decode(r).kind;
    } catch (err) {
      outcome = (err as DecodeError).code;
    }
    seen.push({ offset: r.position.offset, outcome });
  });
  try {
    await until('the first 200 records', () => seen.length >= 200);
    await proxy.down();
    // New records written by a writer schema this decoder has not fetched yet: prepare() needs the registry.
    await produce(topic, Array.from({ length: 100 }, (_, i) => ({ value: frame(v2.id, v2.type.toBuffer({ ...(codec.toAvroObject(login(`c${i % 20}`, day(2) + i * 1000)) as object), extra: i })) })));
    await new Promise((r) => setTimeout(r, 60_000)); // ten session timeouts
    assert.equal(seen.length, 200, 'nothing of the new batch is emitted while the registry is away');
    await proxy.up();
    await until('the records after the outage', () => seen.length >= 300, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(joins, 1, `one group join (start-up), no rebalance during the outage; saw ${joins}`);
    assert.deepEqual(seen.map((s) => s.offset), Array.from({ length: 300 }, (_, i) => i), 'every offset once, in order');
    assert.ok(seen.every((s) => s.outcome === 'login'), `all decoded: ${[...new Set(seen.map((s) => s.outcome))].join(',')}`);
  } finally {
    sub.unsubscribe();
    source.stop();
    await source.close();
    await client.close();
    await proxy.down().catch(() => {});
  }
});

test('a crash kafkajs will not restart from fails the records stream, non-retriable, with the reason', { timeout: 60_000 }, async () => {
  const topic = uniqueName('cf-crash');
  await createTopics([topic], 1);
  const enc = activityEventEncoder({ registry, topic, autoRegister: true }, codec);
  await enc.prepare();
  await produce(topic, [{ value: enc.encode(login('c1', day(1))) }]);
  // A prepare hook failing for good (e.g. the registry refusing our credentials): kafkajs crashes with restart: false.
  const hooks: KafkaSourceHooks = { logger: log, clock: systemClock, prepare: async () => Promise.reject(new ChurnflowError('CF_SOURCE_FAILED', 'schema registry answered 401 Unauthorized', { retriable: false })) };
  const source = createKafkaSource(sourceOptions(topic, uniqueName('cf-group')), hooks);
  const { sub, error } = consume(source, () => {});
  try {
    const err = await Promise.race([error, new Promise((r) => setTimeout(() => r('no error'), 45_000))]);
    assert.ok(err instanceof ChurnflowError, `the stream failed (${String(err)})`);
    assert.equal(err.code, 'CF_SOURCE_FAILED');
    assert.equal(err.retriable, false);
    assert.match(err.message, /will not restart: .*401 Unauthorized/);
  } finally {
    sub.unsubscribe();
    await source.close();
  }
});

test('a partition revoked by a rebalance leaves the event-time tracker (the overall watermark moves on without it)', { timeout: 120_000 }, async () => {
  const topic = uniqueName('cf-revoke');
  await createTopics([topic], 2);
  const enc = activityEventEncoder({ registry, topic, autoRegister: true }, codec);
  await enc.prepare();
  await produce(topic, [
    { value: enc.encode(login('a', day(1))), partition: 0 },
    { value: enc.encode(login('b', day(5))), partition: 1 },
  ]);
  const groupId = uniqueName('cf-group');
  const decoder = new RegistryActivityDecoder({ registry });
  const watermarks = new WatermarkTracker({ allowedLatenessMs: 0 });
  const revoked: string[] = [];
  const a = createKafkaSource(sourceOptions(topic, groupId), { logger: log, clock: systemClock, prepare: (r) => decoder.prepare(r), watermarks, onRevoked: (s) => revoked.push(...s) });
  const ca = consume(a, (r) => watermarks.observe(r.position.stream, decoder.decode(r).eventTime, r.position.offset));
  const b = createKafkaSource(sourceOptions(topic, groupId), { logger: log, clock: systemClock, prepare: (r) => decoder.prepare(r) });
  let cb: ReturnType<typeof consume> | undefined;
  try {
    await until('both partitions read by the first member', () => watermarks.streamNames().length === 2);
    assert.equal(watermarks.overall(), day(1));
    cb = consume(b, () => {});
    await until('a revocation', () => revoked.length > 0, 60_000);
    assert.equal(revoked.length, 1);
    const kept = [`${topic}/0`, `${topic}/1`].filter((s) => s !== revoked[0]);
    assert.deepEqual(watermarks.streamNames(), kept);
    assert.equal(watermarks.overall(), watermarks.watermark(kept[0]!), 'only the partition still owned counts');
  } finally {
    ca.sub.unsubscribe();
    cb?.sub.unsubscribe();
    a.stop();
    b.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

test('a member never commits a partition it lost, nor one it lost and got back, with records of its earlier ownership: the group\'s offset never moves back behind the new owner\'s; a partition it kept resumes after its last record emitted', { timeout: 180_000 }, async () => {
  const topic = uniqueName('cf-lost');
  await createTopics([topic], 2);
  const enc = activityEventEncoder({ registry, topic, autoRegister: true }, codec);
  await enc.prepare();
  const batch = (from: number, to: number) => [0, 1].flatMap((partition) => Array.from({ length: to - from }, (_, i) => ({ value: enc.encode(login(`c${partition}`, day(1 + from + i))), partition })));
  await produce(topic, batch(0, 10));
  const groupId = uniqueName('cf-group');
  const decoder = new RegistryActivityDecoder({ registry });
  const revoked: string[] = [];
  const a = createKafkaSource(sourceOptions(topic, groupId), { logger: log, clock: systemClock, prepare: (r) => decoder.prepare(r), onRevoked: (s) => revoked.push(...s) });
  // The first member processes records and holds their commit, as write-behind holds it while their states are unwritten.
  const heldByA: RawRecord[] = [];
  const flowA = new FlowControl(1000);
  const subA = a.records(flowA).subscribe((r) => heldByA.push(r));
  const schedule = new CommitSchedule(a, undefined, { clock: systemClock, retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 } });
  const b = createKafkaSource(sourceOptions(topic, groupId), { logger: log, clock: systemClock, prepare: (r) => decoder.prepare(r) });
  let cb: ReturnType<typeof consume> | undefined;
  const readByB: RawRecord[] = [];
  try {
    await until('the first member read both partitions', () => heldByA.length === 20);
    cb = consume(b, (r) => readByB.push(r));
    await until('a revocation', () => revoked.length > 0);
    const lost = revoked[0]!;
    const kept = [`${topic}/0`, `${topic}/1`].find((s) => s !== lost)!;
    const lostPartition = Number(lost.split('/').at(-1));
    await produce(topic, batch(10, 20));
    await until('the new owner committed the lost partition to its end', () => readByB.filter((r) => r.position.stream === lost).length === 20);
    let committed = await committedOffsets(groupId, topic);
    for (let i = 0; i < 150 && committed.get(lostPartition) !== 20; i++) {
      await new Promise((r) => setTimeout(r, 200));
      committed = await committedOffsets(groupId, topic);
    }
    assert.equal(committed.get(lostPartition), 20, 'the new owner committed the lost partition');
    // Now the first member's held records go through its commit schedule: only the partition it kept is committed.
    await until('the first member read the kept partition\'s new records', () => heldByA.some((r) => r.position.stream === kept && r.position.offset === 19));
    assert.deepEqual(heldByA.filter((r) => r.position.stream === kept).map((r) => r.position.offset), Array.from({ length: 20 }, (_, i) => i), 'the kept partition resumed after its last record emitted, not at the group\'s commit (none yet: from 0 again)');
    await schedule.processed(heldByA);
    committed = await committedOffsets(groupId, topic);
    assert.equal(committed.get(lostPartition), 20, 'the lost partition\'s offset stays where its new owner put it (it was moved back to 10)');
    assert.equal(committed.get(1 - lostPartition), 20, 'the kept partition is committed');
    // The new owner leaves: the first member gets the partition back, under a new ownership.
    cb.sub.unsubscribe();
    b.stop();
    await b.close();
    await produce(topic, [{ value: enc.encode(login(`c${lostPartition}`, day(30))), partition: lostPartition }]);
    await until('the first member read the partition again from its commit', () => heldByA.some((r) => r.position.stream === lost && r.position.offset === 20), 60_000);
    assert.deepEqual(heldByA.filter((r) => r.position.stream === lost).map((r) => r.position.offset), [...Array.from({ length: 10 }, (_, i) => i), 20], 'its first ownership\'s records and the new one: nothing below the commit was delivered again');
    await schedule.processed(heldByA.filter((r) => r.position.stream === lost && r.position.offset < 10));
    assert.equal((await committedOffsets(groupId, topic)).get(lostPartition), 20, 'records of its earlier ownership are not committed after it got the partition back');
    await schedule.processed(heldByA.filter((r) => r.position.stream === lost && r.position.offset === 20));
    assert.equal((await committedOffsets(groupId, topic)).get(lostPartition), 21, 'records of its new ownership are');
  } finally {
    subA.unsubscribe();
    cb?.sub.unsubscribe();
    a.stop();
    b.stop();
    await Promise.all([a.close(), b.close()]);
  }
});
