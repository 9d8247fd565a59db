// Where the Redis-backed parts (state store, alias store, preflight) connect, from config state.redis:
// a Redis Cluster when state.redis.cluster is set, else state.redis.url. One place, so the engine,
// score-all and the model commands cannot disagree about which Redis they use.
import type { ChurnflowConfig } from './config-schema.js';

export type RedisConnection =
  | { readonly kind: 'standalone'; readonly url: string; readonly configKey: 'state.redis.url' }
  | {
      readonly kind: 'cluster';
      readonly clusterNodes: readonly string[];
      readonly waitReplicas: number;
      readonly waitTimeoutMs: number;
      readonly configKey: 'state.redis.cluster.nodes';
    };

export function redisConnection(config: Pick<ChurnflowConfig, 'state'>): RedisConnection {
  const { url, cluster } = config.state.redis;
  if (cluster) return { kind: 'cluster', clusterNodes: cluster.nodes, waitReplicas: cluster.waitReplicas, waitTimeoutMs: cluster.waitTimeoutMs, configKey: 'state.redis.cluster.nodes' };
  return { kind: 'standalone', url, configKey: 'state.redis.url' };
}

/** The options a RedisStateStore / RedisAliasStore takes for this connection. */
export function redisClientOptions(c: RedisConnection): { url: string } | { clusterNodes: readonly string[]; waitReplicas: number; waitTimeoutMs: number } {
  return c.kind === 'cluster' ? { clusterNodes: c.clusterNodes, waitReplicas: c.waitReplicas, waitTimeoutMs: c.waitTimeoutMs } : { url: c.url };
}
