// Start-up check of the Kafka connection: one metadata request through the same client config the
// engine uses. A refused SASL login or a TLS failure (unknown CA, a client certificate the broker
// refuses, a name mismatch) is a configuration error naming the key; an unreachable broker is a
// warning (the clients retry).
import { Kafka } from 'kafkajs';
import { kafkaClientConfig, type KafkaConnection } from '../config/kafka-client-config.js';
import { ChurnflowError } from '../errors.js';
import { classifyStartupError, type StartupProblem } from './startup-problem.js';

export async function checkKafka(connection: KafkaConnection, options: { timeoutMs?: number } = {}): Promise<StartupProblem | undefined> {
  const timeout = options.timeoutMs ?? 5000;
  const admin = new Kafka({ ...kafkaClientConfig(connection, 'churnflow-preflight', { retries: 0 }), connectionTimeout: timeout, authenticationTimeout: timeout }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return undefined;
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: unknown };
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      throw new ChurnflowError('CF_CONFIG_INVALID', `kafka.sasl: the brokers (${connection.brokers.join(',')}) refused the ${connection.sasl?.mechanism ?? 'SASL'} login of user '${connection.sasl?.username ?? ''}'`, {
        details: { key: 'kafka.sasl', problem: 'credentials' },
      });
    }
    // kafkajs wraps the socket error (its code) in a KafkaJSConnectionError, sometimes twice.
    const causes: unknown[] = [];
    for (let c: unknown = err; c && causes.length < 4; c = (c as { cause?: unknown }).cause) causes.push(c);
    const problem = causes.map(classifyStartupError).find((p) => p.kind === 'tls') ?? classifyStartupError(causes[causes.length - 1]);
    if (problem.kind === 'tls') {
      throw new ChurnflowError('CF_CONFIG_INVALID', `kafka.ssl: the TLS handshake with the brokers (${connection.brokers.join(',')}) failed (${problem.detail}): check kafka.ssl.caFile, certFile/keyFile and servername`, {
        details: { key: 'kafka.ssl', problem: 'tls' },
      });
    }
    return problem;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
