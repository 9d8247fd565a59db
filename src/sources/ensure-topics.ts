// Creates missing Kafka topics (local set-ups and the simulator); production clusters usually have
// them made by their operators, and `kafka.createTopics.enabled: false` leaves them alone.
import { Kafka } from 'kafkajs';
import { kafkaClientConfig, type KafkaConnection } from '../config/kafka-client-config.js';
import { ChurnflowError, errorMessage } from '../errors.js';

/** `compacted`: topics that keep the latest record per key (cleanup.policy=compact), e.g. the current-risk view. */
export async function ensureTopics(connection: KafkaConnection, topics: readonly string[], partitions: number, compacted: ReadonlySet<string> = new Set()): Promise<string[]> {
  const brokers = connection.brokers;
  const admin = new Kafka(kafkaClientConfig(connection, 'churnflow-admin')).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    // Records carry their event time as the message timestamp (replays start "from a timestamp" in
    // event time), so time-based retention would delete historical data at once: these topics keep it.
    if (missing.length > 0) {
      const configEntries = (topic: string) => (compacted.has(topic) ? [{ name: 'cleanup.policy', value: 'compact' }] : [{ name: 'retention.ms', value: '-1' }]);
      await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: partitions, configEntries: configEntries(topic) })) });
    }
    return missing;
  } catch (err) {
    throw new ChurnflowError('CF_SOURCE_FAILED', `creating Kafka topics ${topics.join(', ')} on ${brokers.join(',')} failed: ${errorMessage(err)}`, { cause: err, retriable: true });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
