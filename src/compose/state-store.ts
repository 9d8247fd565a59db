// The one state-store factory: the engine, `score-all` and every offline replay (replay, snapshot,
// backtest, score-all --input) build their store here, so the per-customer byte budget and the
// content-duplicate horizon (stateRules) apply on every path. A wrapper around the store (a cache, a
// metric) goes here once and reaches every path.
import type { ChurnflowConfig } from '../config/config-schema.js';
import { redisClientOptions, redisConnection } from '../config/redis-connection.js';
import { stateRules } from '../config/state-rules.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { hotCachedStore } from '../state/hot-cache-from-config.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { RedisStateStore } from '../state/redis-store.js';
import type { StateStore } from '../state/state-store.js';

export interface StateStoreOptions {
  /** 'memory' for an offline replay, whatever state.kind says: a replay must not write into the live store. */
  readonly kind?: ChurnflowConfig['state']['kind'];
  /** Called when a customer's state is cut to the budget (the engine counts it). */
  readonly onBudgetExceeded?: (customerId: string, bytes: number) => void;
  /**
   * The engine's metrics: given by the engine only, which then gets the Redis store behind the hot cache
   * (state.redis.cache). Commands that read the live store once (score-all) gain nothing from a cache.
   */
  readonly engineMetrics?: EngineMetrics;
}

export function buildStateStore(config: Readonly<ChurnflowConfig>, spec: CompiledSpec, options: StateStoreOptions = {}): StateStore {
  const rules = stateRules(config, spec, options.onBudgetExceeded);
  if ((options.kind ?? config.state.kind) === 'memory') return new MemoryStateStore(rules);
  const { keyPrefix, idleTtlSeconds } = config.state.redis;
  const redis = new RedisStateStore({ ...redisClientOptions(redisConnection(config)), keyPrefix, ...rules, ...(idleTtlSeconds ? { idleTtlSeconds } : {}) });
  return options.engineMetrics && config.state.redis.cache.enabled ? hotCachedStore(redis, config, options.engineMetrics) : redis;
}
