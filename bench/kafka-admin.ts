// The Kafka client and a connected admin for benches that need the local broker; exits with a hint
// when it is not there (benches start no services themselves).
import { Kafka, type Admin } from 'kafkajs';
import { kafkaClientConfig } from '../src/config/kafka-client-config.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';

export async function benchKafka(bench: string): Promise<{ kafka: Kafka; admin: Admin }> {
  const kafka = new Kafka(kafkaClientConfig({ brokers: SERVICES.kafkaBrokers }, 'cf-bench'));
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch {
    console.error(`${bench}: no Kafka at ${SERVICES.kafkaBrokers.join(',')}; start the services first: npm run services -- start all`);
    process.exit(2);
  }
  return { kafka, admin };
}

/**
 * Raw kafkajs consume of `topic` from the beginning in a fresh group until `events` records arrived:
 * the baseline the engine benches compare with (wall ms and this process's CPU ms).
 */
export async function rawConsume(kafka: Kafka, topic: string, events: number): Promise<{ ms: number; cpuMs: number }> {
  const consumer = kafka.consumer({ groupId: uniqueName('raw'), maxWaitTimeInMs: 500 });
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= events) resolve();
      },
    });
  });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await consumer.disconnect();
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}
