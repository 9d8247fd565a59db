// churnflow's aggregation alone, over Kafka: the production source and registry decoder, validation,
// event time, micro-batches, and per event the state transition and feature row (the stages of the
// scoring topology before ONNX), the new states written to the store, offsets committed. No model, no
// risk events: the work the Kafka Streams peer does too, on the shipped configuration's settings.
import { concatMap, lastValueFrom, tap } from 'rxjs';
import type { ChurnflowConfig } from '../../src/config/config-schema.js';
import { stateRules } from '../../src/config/state-rules.js';
import { eventTimeRule } from '../../src/engine.js';
import { DEFAULT_VALIDATION_RULES } from '../../src/events/validate-event.js';
import { loadFeatureSpec } from '../../src/features/load-spec.js';
import type { Logger } from '../../src/observability/logger.js';
import { acknowledge } from '../../src/operators/acknowledge.js';
import { aggregateBatch } from '../../src/operators/apply-to-state.js';
import { decodeRecords } from '../../src/operators/decode-records.js';
import { microBatch } from '../../src/operators/micro-batch.js';
import { routeLateEvents } from '../../src/operators/route-late-events.js';
import { validateEvents } from '../../src/operators/validate-events.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { RegistryActivityDecoder } from '../../src/serde/registry-decoder.js';
import { FlowControl } from '../../src/sources/flow-control.js';
import { createKafkaSource } from '../../src/sources/kafka-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { commitStaged } from '../../src/state/stage-deltas.js';
import type { StateStore } from '../../src/state/state-store.js';
import { systemClock } from '../../src/time/clock.js';
import { WatermarkTracker } from '../../src/time/watermark.js';

/**
 * Reads the config's activity topic with its group from the beginning until `expect` records are
 * acknowledged (state written, offsets committed); returns the milliseconds from the first fetch
 * request to then. The store is `config.state.kind` (redis or memory).
 */
export async function runAggregationOnly(config: Readonly<ChurnflowConfig>, expect: number, logger: Logger): Promise<number> {
  const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
  const rules = stateRules(config, spec);
  const store: StateStore = config.state.kind === 'redis' ? new RedisStateStore({ url: config.state.redis.url, keyPrefix: config.state.redis.keyPrefix, ...rules }) : new MemoryStateStore(rules);
  const registry = new RegistryClient({ url: config.schemaRegistry.url, maxCachedIds: config.schemaRegistry.cache.maxCachedIds });
  const decoder = new RegistryActivityDecoder({ registry, input: config.input });
  const watermarks = new WatermarkTracker(eventTimeRule(config, systemClock));
  const k = config.kafka;
  const source = createKafkaSource(
    { brokers: k.brokers, clientId: k.clientId, groupId: k.groupId, topics: k.topics.activity, fromBeginning: k.fromBeginning, format: k.format, sessionTimeoutMs: k.sessionTimeoutMs, heartbeatIntervalMs: k.heartbeatIntervalMs, fetchMaxWaitMs: k.fetchMaxWaitMs },
    { logger, clock: systemClock, prepare: (recs) => decoder.prepare(recs), watermarks },
  );
  const flow = new FlowControl(config.engine.maxInFlight);
  let acknowledged = 0;
  const t0 = performance.now();
  let elapsed = 0;
  try {
    await lastValueFrom(
      source.records(flow).pipe(
        decodeRecords(decoder),
        validateEvents(DEFAULT_VALIDATION_RULES, systemClock),
        routeLateEvents({ allowedLatenessMs: config.engine.allowedLatenessMs }, watermarks),
        microBatch(config.engine.batch),
        concatMap(async (items) => {
          const batch = await aggregateBatch(items, store, spec);
          await commitStaged(store, batch.staged);
          return batch;
        }),
        acknowledge(source, flow),
        tap((batch) => {
          acknowledged += batch.items.length;
          if (acknowledged >= expect && elapsed === 0) {
            elapsed = performance.now() - t0;
            source.stop();
          }
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    await source.close();
    await store.close();
    await registry.close();
  }
  return elapsed;
}
