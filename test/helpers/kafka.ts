// Kafka helpers for integration tests against the real broker: topics per test, reading a topic back.
import { Kafka, type KafkaMessage } from 'kafkajs';
import { kafkaClientConfig } from '../../src/config/kafka-client-config.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import type { SimulatedRecord } from '../../src/simulator/index.js';
import { produceActivity, type ProducedCounts } from '../../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../../src/sinks/kafka-sink.js';
import { SERVICES, uniqueName } from './services.js';

export const kafka = new Kafka(kafkaClientConfig({ brokers: SERVICES.kafkaBrokers }, 'churnflow-tests'));

export async function createTopics(names: readonly string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Records carry their event time (in the past) as timestamp: time-based retention must not apply.
    await admin.createTopics({ waitForLeaders: true, topics: names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] })) });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic whose name starts with the prefix (a run's topics, engine-created ones included). */
export async function deleteTopicsWithPrefix(prefix: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    return topics;
  } finally {
    await admin.disconnect();
  }
}

export interface TestTopics {
  activity: string;
  risk: string;
  deadLetter: string;
  drift: string;
}

export async function testTopics(partitions = 3): Promise<TestTopics> {
  const base = uniqueName('cf');
  const t = { activity: `${base}.activity`, risk: `${base}.risk`, deadLetter: `${base}.dead-letter`, drift: `${base}.drift` };
  await createTopics(Object.values(t), partitions);
  return t;
}

/** Messages in the topic (end minus start offsets over partitions): how many a full read must find. */
export async function topicMessageCount(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Reads a topic from the beginning until `expect` messages arrived, or nothing new came for idleMs. */
export async function readTopic(topic: string, options: { expect?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<(KafkaMessage & { partition: number })[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), sessionTimeout: 10_000 });
  const out: (KafkaMessage & { partition: number })[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      out.push({ ...message, partition });
      last = Date.now();
    },
  });
  const started = Date.now();
  const idle = options.idleMs ?? 3000;
  const timeout = options.timeoutMs ?? 120_000;
  while (Date.now() - started < timeout) {
    if (options.expect !== undefined && out.length >= options.expect) break;
    if (options.expect === undefined && Date.now() - last > idle && Date.now() - started > idle) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await consumer.disconnect();
  return out;
}

/** Reads an Avro topic written in the Schema Registry wire format and decodes every value. */
/** `raw` is the message value as published (wire format), for byte-for-byte comparisons. */
export async function readAvroTopic<T>(topic: string, options: { expect?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<{ value: T; raw: Buffer; headers: Record<string, string>; key: string | null; partition: number; offset: number }[]> {
  const { RegistryClient } = await import('../../src/serde/registry-client.js');
  const { parseWireFormat } = await import('../../src/serde/registry-decoder.js');
  const avro = (await import('avsc')).default;
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  try {
    const messages = await readTopic(topic, options);
    const types = new Map<number, import('avsc').Type>();
    const out = [];
    for (const m of messages) {
      const { schemaId, body } = parseWireFormat(m.value);
      let type = types.get(schemaId);
      if (!type) {
        type = avro.Type.forSchema(JSON.parse((await registry.getSchemaById(schemaId)).schema) as import('avsc').Schema);
        types.set(schemaId, type);
      }
      const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
      out.push({ value: type.fromBuffer(body) as T, raw: m.value!, headers, key: m.key ? m.key.toString() : null, partition: m.partition, offset: Number(m.offset) });
    }
    return out;
  } finally {
    await registry.close();
  }
}

/** Produces simulated records to a topic as `churnflow simulate --to kafka` does (registry Avro, keyed by customer). */
export async function produceSimulated(topic: string, records: Iterable<SimulatedRecord>): Promise<ProducedCounts> {
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-test-producer' });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const codec = new ActivityCodec();
  try {
    return await produceActivity(records, { pool, topic, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic, autoRegister: true }, codec), codec });
  } finally {
    await pool.close();
    await registry.close();
  }
}

/**
 * Produces simulated records in `chunks` equal slices, in order, one slice every `overMs / chunks` ms:
 * a live stream whose consumers cannot finish before it does. Each partition gets the same records in
 * the same order as from produceSimulated (one producer, slices sent one after the other).
 * `onChunk` is told the events produced so far.
 */
export async function produceSimulatedPaced(topic: string, records: readonly SimulatedRecord[], pacing: { readonly chunks: number; readonly overMs: number; readonly onChunk?: (events: number) => void }): Promise<ProducedCounts> {
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-test-producer' });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const codec = new ActivityCodec();
  const encoder = activityEventEncoder({ registry, topic, autoRegister: true }, codec);
  const total: ProducedCounts = { events: 0, invalid: 0, corrupt: { not_avro: 0, unknown_schema_id: 0, truncated: 0, garbage_body: 0 } };
  const t0 = Date.now();
  try {
    const size = Math.ceil(records.length / pacing.chunks);
    for (let i = 0; i * size < records.length; i++) {
      const wait = t0 + (i * pacing.overMs) / pacing.chunks - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const c = await produceActivity(records.slice(i * size, (i + 1) * size), { pool, topic, format: 'confluent-avro', encoder, codec });
      total.events += c.events;
      total.invalid += c.invalid;
      for (const k of Object.keys(total.corrupt) as (keyof ProducedCounts['corrupt'])[]) total.corrupt[k] += c.corrupt[k];
      pacing.onChunk?.(total.events);
    }
    return total;
  } finally {
    await pool.close();
    await registry.close();
  }
}
