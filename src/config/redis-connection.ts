// Where the Redis-backed parts (state store, alias store, preflight) connect, from config state.redis:
// a Redis Cluster when state.redis.cluster is set, else state.redis.url. One place, so the engine,
// score-all and the model commands cannot disagree about which Redis they use. TLS (on for
// rediss:// URLs or state.redis.tls) and ACL credentials reach every client the same way.
import type { RedisOptions } from 'ioredis';
import type { ChurnflowConfig } from './config-schema.js';
import { tlsOptions, type TlsConfig } from './tls-options.js';

export type RedisConnection = (
  | { readonly kind: 'standalone'; readonly url: string; readonly configKey: 'state.redis.url' }
  | {
      readonly kind: 'cluster';
      readonly clusterNodes: readonly string[];
      readonly waitReplicas: number;
      readonly waitTimeoutMs: number;
      readonly configKey: 'state.redis.cluster.nodes';
    }
) & {
  /** TLS and ACL credentials of every connection (to each node of a cluster too). */
  readonly options: RedisOptions;
};

export function redisConnection(config: Pick<ChurnflowConfig, 'state'>): RedisConnection {
  const { url, cluster } = config.state.redis;
  const options = redisConnectionOptions(config.state.redis);
  if (cluster) return { kind: 'cluster', clusterNodes: cluster.nodes, waitReplicas: cluster.waitReplicas, waitTimeoutMs: cluster.waitTimeoutMs, configKey: 'state.redis.cluster.nodes', options };
  return { kind: 'standalone', url, configKey: 'state.redis.url', options };
}

export interface RedisConnectionConfig {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly tls?: TlsConfig | undefined;
}

/** ioredis options to merge over the defaults; the PEM files are read now (a missing file names its key). */
export function redisConnectionOptions(redis: RedisConnectionConfig, key = 'state.redis'): RedisOptions {
  const tls = tlsOptions(redis.tls, `${key}.tls`, /^rediss:/i.test(redis.url));
  return {
    ...(tls ? { tls } : {}),
    ...(redis.username !== undefined ? { username: redis.username } : {}),
    ...(redis.password !== undefined ? { password: redis.password } : {}),
  };
}

/** The options a RedisStateStore / RedisAliasStore takes for this connection. */
export function redisClientOptions(c: RedisConnection): ({ url: string } | { clusterNodes: readonly string[]; waitReplicas: number; waitTimeoutMs: number }) & { redisOptions: RedisOptions } {
  return c.kind === 'cluster' ? { clusterNodes: c.clusterNodes, waitReplicas: c.waitReplicas, waitTimeoutMs: c.waitTimeoutMs, redisOptions: c.options } : { url: c.url, redisOptions: c.options };
}
