// The Kafka client and a connected admin for benches that need the local broker; exits with a hint
// when it is not there (benches start no services themselves).
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { SERVICES } from '../test/helpers/services.js';

export async function benchKafka(bench: string): Promise<{ kafka: Kafka; admin: Admin }> {
  const kafka = new Kafka({ clientId: 'cf-bench', brokers: [...SERVICES.kafkaBrokers], logLevel: logLevel.NOTHING });
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
