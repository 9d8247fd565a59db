// Where the real services of the integration suites are: the env that scripts/services/services.sh
// prints (npm run test:all exports it), with that script's default loopback ports as fallback.
import { randomBytes } from 'node:crypto';

export const SERVICES = Object.freeze({
  kafkaBrokers: (process.env.CHURNFLOW_KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  schemaRegistryUrl: process.env.CHURNFLOW_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7',
  redisUrl: process.env.CHURNFLOW_REDIS_URL ?? 'redis://127.0.0.1:16390',
});

/** A fresh name per test (topic, group, key prefix, subject) so tests never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
