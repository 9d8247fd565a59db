// Poison records against the real broker, registry and Redis, with `churnflow run` as a child process:
// a 400 KB key (its dead letter used to carry it three times: 1.2 MB, MESSAGE_TOO_LARGE), a 600 KB
// customer id (its risk event was over 1 MB), a customer whose risk events the risk topic refuses (a
// topic with a small max.message.bytes), and a 65 KB string that wiped its customer's windows. The
// size errors used to be retried as "retriable" sink failures: every partition stalled, then exit 2
// and a crash loop. Now each record reaches the dead-letter topic with its reason and original size
// (or, for the string, keeps the state intact), and every good record around them is scored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IHeaders } from 'kafkajs';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import type { DeadLetterRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import { produceActivity } from '../../src/sinks/activity-producer.js';
import { createKafkaSink, KafkaProducerPool } from '../../src/sinks/kafka-sink.js';
import { OutputTooLargeError } from '../../src/sinks/output-too-large.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime, type SimulatedRecord } from '../../src/simulator/index.js';
import { createFileSource } from '../../src/sources/file-source.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { startEngine, stopWhenCaughtUp, writeConfig } from '../helpers/engine-process.js';
import { createTopics, kafka, readAvroTopic, readTopic } from '../helpers/kafka.js';
import { ENGINE_DECISION, runScoring } from '../helpers/run-scoring.js';
import { SERVICES, uniqueName } from '../helpers/services.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
/** Risk events of normal customers are ~1 KB; one of a customer with a 20 KB id is ~40 KB. */
const RISK_TOPIC_MAX_BYTES = 10_000;

async function createLimitedTopic(topic: string, maxMessageBytes: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] }] });
  } finally {
    await admin.disconnect();
  }
}

async function topics() {
  const base = uniqueName('cf-poison');
  const t = { activity: `${base}.activity`, risk: `${base}.risk`, deadLetter: `${base}.dead-letter`, drift: `${base}.drift` };
  await createTopics([t.activity, t.deadLetter, t.drift], 3);
  await createLimitedTopic(t.risk, RISK_TOPIC_MAX_BYTES);
  return t;
}

/** The embedded replay of the good records: the risk events the topic must hold, and the states. */
async function reference(records: readonly SimulatedRecord[], now: number): Promise<{ risk: RiskEventRecord[]; store: MemoryStateStore }> {
  const file = join(mkdtempSync(join(tmpdir(), 'cf-poison-')), 'events.ndjson');
  writeFileSync(file, records.map(recordToNdjson).join('\n') + '\n');
  const model = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true });
  const store = new MemoryStateStore({ layout: spec.layout });
  try {
    return { risk: (await runScoring(createFileSource(file, fixedClock(now)), store, spec, model, now, { decision: ENGINE_DECISION })).risk, store };
  } finally {
    await model.close();
  }
}

/** The same records with one profile event's region replaced. */
function withRegion(records: readonly SimulatedRecord[], index: number, region: string): SimulatedRecord[] {
  return records.map((r, i) => (i === index && r.type === 'event' ? { ...r, event: { ...r.event, payload: { ...r.event.payload, region } } as typeof r.event } : r));
}

const plain = <T>(r: T): T => JSON.parse(JSON.stringify({ ...r, processing_time: 0 })) as T;

test('poison records: a 400 KB key, a 600 KB customer id, a 65 KB string and a refused risk event reach the dead-letter topic with reason and size; every good record is scored; exit 0 on SIGTERM', async () => {
  const sim = { customers: 60, days: 30, seed: 41 };
  const records = [...simulate(resolveSimulatorOptions(sim))];
  const now = simulationEndTime(resolveSimulatorOptions(sim));
  // A 65,000-character region (validation allows it: maxStringLength is raised below) used to blow the
  // customer's 64 KB byte budget and fold all its windows away; the reference gives that customer an
  // unknown region instead, which is what any long region means to the features.
  const profileAt = records.findLastIndex((r) => r.type === 'event' && r.event.kind === 'profile');
  const longRegionRecord = records[profileAt]!;
  assert.ok(longRegionRecord.type === 'event');
  const longRegionCustomer = longRegionRecord.event.customer_id;
  const ref = await reference(withRegion(records, profileAt, 'atlantis'), now);
  const expected = ref.risk;
  // The customer with the most risk events gets a 20 KB id: validation allows it (maxIdLength is raised
  // below), but none of its risk events fits the risk topic.
  const perCustomer = new Map<string, number>();
  for (const r of expected) perCustomer.set(r.customer_id, (perCustomer.get(r.customer_id) ?? 0) + 1);
  const [big, bigRiskEvents] = [...perCustomer.entries()].filter(([c]) => c !== longRegionCustomer).sort((a, b) => b[1] - a[1])[0]!;
  assert.ok(bigRiskEvents > 0);
  const longId = `${big}-${'x'.repeat(20_000)}`;
  const produced = withRegion(records, profileAt, 'r'.repeat(65_000)).map((r) => (r.type === 'event' && r.event.customer_id === big ? { ...r, event: { ...r.event, customer_id: longId } } : r));

  const t = await topics();
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-poison-producer' });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const codec = new ActivityCodec();
  const encoder = activityEventEncoder({ registry, topic: t.activity, autoRegister: true }, codec);
  const target = { pool, topic: t.activity, format: 'confluent-avro' as const, encoder, codec };
  const half = Math.floor(produced.length / 2);
  await produceActivity(produced.slice(0, half), target);
  // The poison records sit in the middle of the stream: everything after them must still be scored.
  const mid = produced[half]!;
  const midTime = mid.type === 'event' ? mid.event.event_time : now - 15 * 86_400_000;
  const hugeKey = Buffer.alloc(400 * 1024, 0x6b);
  const outOfRange = codec.fromJsonObject({ event_id: 'poison-key', customer_id: 'c-poison-key', event_time: midTime, kind: 'session', payload: { duration_seconds: -5, content_items: 1, content_id: null } });
  const hugeId = 'c'.repeat(600 * 1024);
  const longCustomer = codec.fromJsonObject({ event_id: 'poison-id', customer_id: hugeId, event_time: midTime, kind: 'login', payload: { device: 'web', success: true } });
  const producer = await pool.get();
  const poison: { key: Buffer | string; value: Buffer; headers?: IHeaders }[] = [
    { key: hugeKey, value: encoder.encode(outOfRange) },
    { key: 'poison-id', value: encoder.encode(longCustomer) },
  ];
  for (const m of poison) await producer.send({ topic: t.activity, messages: [m], acks: -1 });
  await produceActivity(produced.slice(half), target);
  await pool.close();
  await registry.close();

  const groupId = uniqueName('cf-group');
  const keyPrefix = `${uniqueName('t')}:`;
  const config = writeConfig({
    source: { kind: 'kafka' },
    kafka: { groupId, topics: { activity: [t.activity], risk: t.risk, deadLetter: t.deadLetter, drift: t.drift }, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    state: { kind: 'redis', redis: { keyPrefix } },
    engine: { batch: { maxSize: 64, maxWaitMs: 20 }, maxInFlight: 256 },
    validation: { maxIdLength: 32_768, maxStringLength: 65_536 },
    http: { port: 0 },
    log: { level: 'info' },
  });
  const engine = startEngine(config);
  // Caught up, then SIGTERM: stopWhenCaughtUp fails unless the engine exits 0. A stalled partition
  // would never catch up (the old retry loop gave up after ~260 s with exit 2).
  await stopWhenCaughtUp(groupId, t.activity, [engine], 120_000);
  assert.doesNotMatch(engine.logs(), /retrying/, 'no batch was retried: size errors are not retriable');

  const dead = (await readAvroTopic<DeadLetterRecord>(t.deadLetter, { idleMs: 3000 })).map((d) => ({ ...d, value: { ...d.value } }));
  const byReason = (code: string) => dead.filter((d) => d.value.reason_code === code);

  const [keyed] = byReason('OUT_OF_RANGE');
  assert.ok(keyed, `the 400 KB key record is dead-lettered: ${dead.map((d) => d.value.reason_code).join(',')}`);
  assert.equal(keyed.value.original_key_bytes, 400 * 1024);
  assert.deepEqual(Buffer.from(keyed.value.original_key!), hugeKey.subarray(0, 1024), 'the key once, cut to sinks.deadLetter.maxKeyBytes');
  assert.equal(keyed.value.truncated, true);
  assert.equal(keyed.headers['churnflow-original-key'], undefined, 'not copied into a header');
  assert.equal(keyed.key, 'c-poison-key', 'nor used as the message key');

  const [longIdLetter] = byReason('FIELD_TOO_LONG');
  assert.ok(longIdLetter, 'the 600 KB customer id is dead-lettered');
  assert.match(longIdLetter.value.reason_detail, new RegExp(`^customer_id is ${hugeId.length} characters long; validation.maxIdLength allows 32768`));
  assert.equal(longIdLetter.value.payload.length, 65_536);
  assert.ok(longIdLetter.value.payload_bytes! > hugeId.length, `original size ${longIdLetter.value.payload_bytes}`);
  assert.equal(longIdLetter.value.customer_id, null);
  assert.equal(longIdLetter.value.truncated, true);

  const refused = byReason('OUTPUT_TOO_LARGE');
  assert.equal(new Set(refused.map((d) => d.value.source)).size, bigRiskEvents, 'one dead letter per refused risk event');
  for (const d of refused) assert.match(d.value.reason_detail, /larger than kafka:.*\.risk accepts \(MESSAGE_TOO_LARGE\)/);
  assert.equal(dead.length, 2 + refused.length, 'nothing else was dead-lettered');

  const risk = await readAvroTopic<RiskEventRecord>(t.risk, { idleMs: 3000 });
  const got = new Map(risk.map((r) => [r.value.event_id, plain(r.value)]));
  const want = expected.filter((r) => r.customer_id !== big);
  assert.deepEqual([...got.keys()].sort(), want.map((r) => r.event_id).sort(), 'every good record before and after the poison scored, as in the embedded replay');
  for (const r of want) assert.deepEqual(got.get(r.event_id), plain(r));

  // The customer with the 65,000-character region kept its windows: same day buckets and features as
  // with an unknown region (before, its state was over budget and every bucket folded into the archive).
  const [stored, expectedState] = [await redisState(keyPrefix, longRegionCustomer), (await ref.store.get([longRegionCustomer]))[0]!];
  assert.ok(stored && expectedState);
  assert.deepEqual(Object.keys(stored.buckets).sort(), Object.keys(expectedState.buckets).sort(), 'no day bucket shed');
  assert.deepEqual([...spec.evaluate(stored, now)], [...spec.evaluate(expectedState, now)], 'same features');
});

async function redisState(keyPrefix: string, customerId: string): Promise<CustomerState | null> {
  const store = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix, layout: spec.layout });
  try {
    return (await store.get([customerId]))[0] ?? null;
  } finally {
    await store.close();
  }
}

test('kafka sink: records the broker refuses for their size are named, all others written, and the producer goes on (no out-of-order sequence after a partly refused request)', async () => {
  const topic = uniqueName('cf-limited');
  await createLimitedTopic(topic, 2000);
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-limited-sink' });
  const sink = createKafkaSink<{ id: string; size: number }>(pool, {
    topic,
    encoder: { prepare: async () => {}, encode: (r) => Buffer.alloc(r.size, 0x61) },
    key: (r) => r.id,
  });
  try {
    // Spread over all three partitions: the refused record shares its request with accepted ones.
    const first = Array.from({ length: 60 }, (_, i) => ({ id: `a${i}`, size: i === 17 || i === 42 ? 5000 : 100 }));
    const err = await sink.write(first).catch((e: unknown) => e);
    assert.ok(err instanceof OutputTooLargeError, String(err));
    assert.deepEqual(err.indexes, [17, 42]);
    const second = Array.from({ length: 60 }, (_, i) => ({ id: `b${i}`, size: 100 }));
    await sink.write(second);
    const got = new Set((await readTopic(topic, { expect: 118, idleMs: 2000 })).map((m) => m.key!.toString()));
    const want = [...first.filter((r) => r.size === 100), ...second].map((r) => r.id);
    assert.deepEqual(want.filter((id) => !got.has(id)), [], 'every record that fits was written');
    assert.ok(!got.has('a17') && !got.has('a42'));
  } finally {
    await pool.close();
  }
});
