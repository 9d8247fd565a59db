// Start-up check of the configured Redis (state.redis.url, or the seed nodes of state.redis.cluster):
// connect, authenticate, PING. Wrong or missing credentials and TLS problems are configuration errors
// naming the key (never the password); so is a cluster seed that is not a cluster node. Unreachable is
// a warning (the batches retry).
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConnection } from '../config/redis-connection.js';
import { redactText } from '../config/redact-secrets.js';
import { ChurnflowError } from '../errors.js';
import { classifyStartupError, type StartupProblem } from './startup-problem.js';

/** Resolves with undefined when Redis answered, or the outage it met; throws CF_CONFIG_INVALID for credentials/TLS/not a cluster. */
export async function checkRedis(connection: RedisConnection, options: { timeoutMs?: number } = {}): Promise<StartupProblem | undefined> {
  const key = connection.configKey;
  if (connection.kind === 'standalone') return checkNode(connection.url, key, connection.options, options.timeoutMs, false);
  // One answering seed is enough (the client discovers the others); the first configuration error wins.
  let problem: StartupProblem | undefined;
  for (const node of connection.clusterNodes) {
    const p = await checkNode(`${connection.options.tls ? 'rediss' : 'redis'}://${node}`, key, connection.options, options.timeoutMs, true);
    if (p === undefined) return undefined;
    problem ??= p;
  }
  return problem;
}

async function checkNode(url: string, key: string, connectionOptions: RedisOptions, timeoutMs = 5000, cluster: boolean): Promise<StartupProblem | undefined> {
  // TLS and ACL credentials first: the check must connect exactly as the store will.
  const client = new Redis(url, { ...connectionOptions, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false, enableReadyCheck: false });
  // The reason (NOAUTH, WRONGPASS, a TLS code) arrives as an 'error' event; connect() only says "closed".
  const seen: unknown[] = [];
  client.on('error', (err: unknown) => seen.push(err));
  try {
    return await askNode(client, seen, url, key, cluster);
  } finally {
    client.disconnect();
  }
}

async function askNode(client: Redis, seen: readonly unknown[], url: string, key: string, cluster: boolean): Promise<StartupProblem | undefined> {
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const problems = [...seen, err].map(classifyStartupError);
    const fatal = problems.find((p) => p.kind !== 'unreachable');
    if (fatal) {
      const what = fatal.kind === 'credentials' ? `refused the credentials (${fatal.detail}): set the user and password in the URL (redis://user:password@host:port)` : `failed the TLS handshake (${fatal.detail})`;
      throw new ChurnflowError('CF_CONFIG_INVALID', `${key}: Redis at ${redactText(url)} ${what}`, { details: { key, problem: fatal.kind } });
    }
    return problems[0];
  }
  if (cluster) {
    let info: string;
    try {
      info = await client.cluster('INFO');
    } catch (err) {
      // "ERR This instance has cluster support disabled": a standalone server listed as a cluster node.
      throw new ChurnflowError('CF_CONFIG_INVALID', `${key}: ${redactText(url)} is not a Redis Cluster node (${redactText(String((err as Error).message ?? err))}); list cluster nodes here, or use state.redis.url for a standalone Redis`, { details: { key, problem: 'not-a-cluster' } });
    }
      if (!/cluster_state:ok/.test(info)) return { kind: 'unreachable', detail: `cluster state is not ok at ${redactText(url)}` };
  }
  return undefined;
}
