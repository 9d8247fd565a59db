// `churnflow run` against the real services under two source faults: a flood of unknown schema ids in
// one fetch (every bad record dead-lettered exactly once, no rebalance, every good record scored), and
// a restart between an event and a later one that is late relative to the watermark before the
// restart (it must go to the late output, as in an uninterrupted run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeadLetterRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import { decodeWatermarkMetadata } from '../../src/sources/kafka/partition-watermarks.js';
import { startEngine, stopWhenCaughtUp, writeConfig, type EngineProcess } from '../helpers/engine-process.js';
import { day, ev, profile } from '../helpers/events.js';
import { kafka, readAvroTopic, testTopics, type TestTopics } from '../helpers/kafka.js';
import { SERVICES, uniqueName } from '../helpers/services.js';

const codec = new ActivityCodec();
const login = (customer: string, t: number) => ev('login', customer, t, { device: 'ios', success: true });

function engineConfig(topics: TestTopics, groupId: string): string {
  return writeConfig({
    source: { kind: 'kafka' },
    kafka: { groupId, topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift }, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    state: { kind: 'redis', redis: { keyPrefix: `${uniqueName('t')}:` } },
    engine: { batch: { maxSize: 128, maxWaitMs: 20 }, maxInFlight: 512, risk: { emit: 'every' } },
    http: { port: 0 },
    log: { level: 'info' },
  });
}

/** The group's coordinator answers offset fetches once the engine has joined. */
async function joined(engine: EngineProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!engine.logs().includes('joined consumer group')) {
    if (Date.now() - started > timeoutMs || engine.child.exitCode !== null) throw new Error(`engine did not join its group:\n${engine.logs().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function produce(topic: string, values: Buffer[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    // One request: the whole flood lands in one fetch of the engine.
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

test('3,000 unknown schema ids in one fetch: each bad record dead-lettered exactly once, no rebalance, every good record scored', { timeout: 300_000 }, async () => {
  const topics = await testTopics(1);
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const enc = activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec);
  await enc.prepare();
  await registry.close();
  const base = 1_900_000_000 + Math.floor(Math.random() * 100_000_000);
  const values: Buffer[] = [];
  let good = 0;
  for (let i = 0; i < 3000; i++) {
    if (i % 10 === 0) {
      const customer = `c${i / 10}`;
      values.push(enc.encode(profile(customer, day(1) + i)), enc.encode(login(customer, day(1) + i + 1)));
      good += 2;
    }
    const header = Buffer.alloc(5);
    header.writeUInt32BE(base + i, 1);
    values.push(Buffer.concat([header, Buffer.from([2, 4, 6])]));
  }
  await produce(topics.activity, values);
  const groupId = uniqueName('cf-group');
  const engine = startEngine(engineConfig(topics, groupId));
  await joined(engine);
  await stopWhenCaughtUp(groupId, topics.activity, [engine]);

  const dead = await readAvroTopic<DeadLetterRecord>(topics.deadLetter, { idleMs: 5000 });
  const byOffset = new Map<string, number>();
  for (const d of dead) byOffset.set(d.value.source_offset!, (byOffset.get(d.value.source_offset!) ?? 0) + 1);
  assert.equal(byOffset.size, 3000, 'every bad record reached the dead-letter topic');
  assert.deepEqual([...new Set(byOffset.values())], [1], 'each exactly once');
  assert.deepEqual([...new Set(dead.map((d) => d.value.reason_code))], ['UNKNOWN_SCHEMA_ID']);
  const risk = await readAvroTopic<RiskEventRecord>(topics.risk, { idleMs: 5000 });
  assert.equal(new Set(risk.map((r) => r.value.trigger_event_id)).size, good, 'every good record scored');
  const joins = engine.logs().split('\n').filter((l) => l.includes('joined consumer group')).length;
  assert.equal(joins, 1, `one group join, no rebalance (saw ${joins})`);
});

test('a restart decides lateness as an uninterrupted run: the watermark is committed with the offsets and restored', { timeout: 300_000 }, async () => {
  const topics = await testTopics(1);
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const enc = activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec);
  await enc.prepare();
  await registry.close();
  const groupId = uniqueName('cf-group');
  const config = engineConfig(topics, groupId); // allowed lateness: the default 1 h
  await produce(topics.activity, [enc.encode(profile('c1', day(0))), ...[0, 1, 2, 3, 4, 5].map((h) => enc.encode(login('c1', day(1, h))))]);
  const first = startEngine(config);
  await joined(first);
  await stopWhenCaughtUp(groupId, topics.activity, [first]);

  const admin = kafka.admin();
  await admin.connect();
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.activity] });
  await admin.disconnect();
  assert.equal(decodeWatermarkMetadata(committed?.partitions[0]?.metadata), day(1, 5), 'the frontier travels with the commit');

  // 3:00 is behind the watermark before the restart (5:00 - 1 h); 4:30 is not.
  const late = login('c1', day(1, 3));
  const onTime = login('c1', day(1, 4) + 1_800_000);
  await produce(topics.activity, [enc.encode(late), enc.encode(onTime)]);
  const second = startEngine(config);
  await joined(second);
  await stopWhenCaughtUp(groupId, topics.activity, [second]);

  const dead = await readAvroTopic<DeadLetterRecord>(topics.deadLetter, { idleMs: 4000 });
  const lateOnes = dead.filter((d) => d.value.route === 'late');
  assert.deepEqual(lateOnes.map((d) => [d.value.reason_code, d.value.source_offset, d.value.event_time]), [['LATE_EVENT', '7', day(1, 3)]]);
  const risk = await readAvroTopic<RiskEventRecord>(topics.risk, { idleMs: 4000 });
  assert.ok(risk.some((r) => r.value.trigger_event_id === onTime.eventId), 'the on-time event after the restart is scored');
  assert.ok(!risk.some((r) => r.value.trigger_event_id === late.eventId), 'the late one is not');
});
