// Start-up check of a Redis URL: connect, authenticate, PING. Wrong or missing credentials and TLS
// problems are configuration errors naming the key (never the password); unreachable is a warning.
import { Redis, type RedisOptions } from 'ioredis';
import { redactText } from '../config/redact-secrets.js';
import { ChurnflowError } from '../errors.js';
import { classifyStartupError, type StartupProblem } from './startup-problem.js';

/** Resolves with undefined when Redis answered, or the outage it met; throws CF_CONFIG_INVALID for credentials/TLS. */
export async function checkRedis(url: string, key: string, options: { timeoutMs?: number; redisOptions?: RedisOptions } = {}): Promise<StartupProblem | undefined> {
  const client = new Redis(url, { ...options.redisOptions, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: options.timeoutMs ?? 5000, enableOfflineQueue: false, enableReadyCheck: false });
  // The reason (NOAUTH, WRONGPASS, a TLS code) arrives as an 'error' event; connect() only says "closed".
  const seen: unknown[] = [];
  client.on('error', (err: unknown) => seen.push(err));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    const problems = [...seen, err].map(classifyStartupError);
    const fatal = problems.find((p) => p.kind !== 'unreachable');
    if (fatal) {
      const what = fatal.kind === 'credentials' ? `refused the credentials (${fatal.detail}): set the user and password in the URL (redis://user:password@host:port)` : `failed the TLS handshake (${fatal.detail})`;
      throw new ChurnflowError('CF_CONFIG_INVALID', `${key}: Redis at ${redactText(url)} ${what}`, { details: { key, problem: fatal.kind } });
    }
    return problems[0];
  } finally {
    client.disconnect();
  }
}
