// The production store's hot cache as config `state.redis.cache` describes it, counted in the engine's metrics.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { restoreEmitMemory } from '../scoring/restore-emit-memory.js';
import { HotCachedStore, type WriteReturningStore } from './hot-cache.js';

export function hotCachedStore(store: WriteReturningStore, config: Readonly<ChurnflowConfig>, metrics: EngineMetrics): HotCachedStore {
  const { cache, idleTtlSeconds } = config.state.redis;
  return new HotCachedStore(store, {
    maxCustomers: cache.maxCustomers,
    maxBytes: cache.maxBytes,
    // Half the idle TTL: an entry is never used after Redis may have expired its hash.
    ...(idleTtlSeconds ? { ttlMs: (idleTtlSeconds * 1000) / 2 } : {}),
    onHits: (n) => metrics.stateCacheHits.inc(n),
    onMisses: (n) => metrics.stateCacheMisses.inc(n),
    onDropped: (reason, n) => metrics.stateCacheDropped.inc({ reason }, n),
    // Decided customers store their decisions ahead of their states (write-behind, persist-decisions.ts).
    restore: restoreEmitMemory,
  });
}
