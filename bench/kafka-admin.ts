// The Kafka client and a connected admin for benches that need the local broker; exits with a hint
// when it is not there (benches start no services themselves).
import { Kafka, type Admin } from 'kafkajs';
import { kafkaClientConfig } from '../src/config/kafka-client-config.js';
import { SERVICES } from '../test/helpers/services.js';

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
