// Kafka replay from a timestamp against the real broker: exactly the records at or after the start
// time (by message timestamp = event time) are replayed, then the replay ends by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS } from '../../src/events/activity-event.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import { produceActivity } from '../../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../../src/simulator/index.js';
import { testTopics } from '../helpers/kafka.js';
import { SERVICES } from '../helpers/services.js';

test('replay --kafka-topic --from: only records from that time on, then it ends', async () => {
  const topics = await testTopics(3);
  const sim = resolveSimulatorOptions({ customers: 100, days: 40, seed: 41 });
  const records = [...simulate(sim)];
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-test' });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const codec = new ActivityCodec();
  await produceActivity(records, { pool, topic: topics.activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec), codec });
  await pool.close();
  await registry.close();

  const from = sim.startTime + 25 * DAY_MS;
  const expected = records.filter((r) => r.type === 'event' && r.event.event_time >= from).length;
  const out = mkdtempSync(join(tmpdir(), 'cf-kreplay-'));
  execFileSync(process.execPath, ['bin/churnflow.js', 'replay', '--kafka-topic', topics.activity, '--from', new Date(from).toISOString(), '-o', out], {
    env: { ...process.env, CHURNFLOW_KAFKA_BROKERS: SERVICES.kafkaBrokers.join(','), CHURNFLOW_SCHEMA_REGISTRY_URL: SERVICES.schemaRegistryUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { records: number; events_applied: number; event_time: { first: number } };
  assert.equal(summary.records, expected, 'every record from the start time on, and none before');
  assert.ok(summary.event_time.first >= from);
  const risk = readFileSync(join(out, 'risk-events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event_time: number });
  assert.ok(risk.length > 0 && risk.every((r) => r.event_time >= from));
});
