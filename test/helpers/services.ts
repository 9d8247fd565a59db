// Where the real services of the integration suites are: the env that scripts/services/services.sh
// prints (npm run test:all exports it), with that script's default loopback ports as fallback.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const SERVICES = Object.freeze({
  kafkaBrokers: (process.env.CHURNFLOW_KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  schemaRegistryUrl: process.env.CHURNFLOW_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7',
  redisUrl: process.env.CHURNFLOW_REDIS_URL ?? 'redis://127.0.0.1:16390',
  /** The redis-cluster service's nodes (`services.sh start redis-cluster`), host:port. */
  redisClusterNodes: (process.env.CHURNFLOW_REDIS_CLUSTER_NODES ?? [0, 1, 2, 3, 4, 5].map((i) => `127.0.0.1:${16400 + i}`).join(',')).split(','),
});

const DEFAULT_TLS_DIR = fileURLToPath(new URL('../../../.services/tls', import.meta.url));

/**
 * The secure endpoints services.sh runs beside the plaintext ones (scripts/services/secure.sh):
 * Kafka TLS (client certificate required) and SASL_SSL, Redis TLS, the registry over HTTPS, and the
 * directory with the test CA, certificates and the SASL password file.
 */
export const SECURE_SERVICES = Object.freeze({
  kafkaTlsBrokers: (process.env.CHURNFLOW_SERVICES_KAFKA_TLS_BROKERS ?? '127.0.0.1:19094').split(','),
  kafkaSaslBrokers: (process.env.CHURNFLOW_SERVICES_KAFKA_SASL_BROKERS ?? '127.0.0.1:19095').split(','),
  kafkaSaslUser: process.env.CHURNFLOW_SERVICES_KAFKA_SASL_USER ?? 'churnflow',
  redisTlsUrl: process.env.CHURNFLOW_SERVICES_REDIS_TLS_URL ?? 'rediss://127.0.0.1:16391',
  schemaRegistryTlsUrl: process.env.CHURNFLOW_SERVICES_SCHEMA_REGISTRY_TLS_URL ?? 'https://127.0.0.1:18443/apis/ccompat/v7',
  tlsDir: process.env.CHURNFLOW_SERVICES_TLS_DIR ?? DEFAULT_TLS_DIR,
});

/** A fresh name per test (topic, group, key prefix, subject) so tests never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

const SERVICES_SH = fileURLToPath(new URL('../../../scripts/services/services.sh', import.meta.url));

/** Runs scripts/services/services.sh (restart, kill, status, env) with a bounded wait; rejects with its output on failure. */
export function servicesScript(args: readonly string[], timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SERVICES_SH, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`services.sh ${args.join(' ')} failed (${err.message}):\n${stderr.slice(-3000)}`));
      else resolve(stdout + stderr);
    });
  });
}

/**
 * Throws unless the services the tests talk to (SERVICES) are the ones services.sh manages with the
 * current env: a restart must hit the broker and Redis (or Redis Cluster) the engines use, never someone else's.
 */
export async function assertScriptManaged(redis: 'redis' | 'cluster' = 'redis'): Promise<void> {
  const env = await servicesScript(['env'], 30_000);
  const want = [
    `CHURNFLOW_KAFKA_BROKERS=${SERVICES.kafkaBrokers.join(',')}`,
    redis === 'cluster' ? `CHURNFLOW_REDIS_CLUSTER_NODES=${SERVICES.redisClusterNodes.join(',')}` : `CHURNFLOW_REDIS_URL=${SERVICES.redisUrl}`,
  ];
  const missing = want.filter((w) => !env.includes(`export ${w}\n`));
  if (missing.length > 0) {
    throw new Error(`services.sh manages other services than the tests use (${missing.join(', ')} not in its env:\n${env}); export the same CHURNFLOW_*_PORT variables for both`);
  }
  await servicesScript(['status', 'kafka', redis === 'cluster' ? 'redis-cluster' : 'redis'], 60_000);
}
