// The one place a kafkajs client is configured: consumer, producer, admin and replay all connect
// through kafkaClientConfig, so TLS and SASL cannot differ between paths.
import { logLevel, type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs';
import { ChurnflowError } from '../errors.js';
import { tlsOptions, type TlsConfig } from './tls-options.js';

/** Where and how to connect (config `kafka`: brokers, ssl, sasl). */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly ssl?: TlsConfig | undefined;
  readonly sasl?:
    | {
        readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
        readonly username: string;
        readonly password?: string | undefined;
      }
    | undefined;
}

export function kafkaClientConfig(connection: KafkaConnection, clientId: string, retry?: RetryOptions): KafkaConfig {
  const ssl = tlsOptions(connection.ssl, 'kafka.ssl');
  return {
    clientId,
    brokers: [...connection.brokers],
    logLevel: logLevel.NOTHING,
    ...(ssl ? { ssl } : {}),
    ...(connection.sasl ? { sasl: saslOptions(connection.sasl) } : {}),
    ...(retry ? { retry } : {}),
  };
}

function saslOptions(sasl: NonNullable<KafkaConnection['sasl']>): SASLOptions {
  // loadConfig has read passwordFile into password; a config built by hand may have neither.
  if (sasl.password === undefined) throw new ChurnflowError('CF_CONFIG_INVALID', 'kafka.sasl.password: required (or kafka.sasl.passwordFile)', { details: { key: 'kafka.sasl.password' } });
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}
