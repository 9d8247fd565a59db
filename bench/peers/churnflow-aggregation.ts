// churnflow's aggregation alone, over Kafka: the production source and registry decoder, validation,
// event time, micro-batches, and per event the state transition and feature row (the stages of the
// scoring topology before ONNX), the new states written to the store, offsets committed. No model, no
// risk events: the work the Kafka Streams peer does too, on the shipped configuration's settings. The
// store is built as the engine builds it (src/engine.ts: with the engine's metrics, so the Redis store
// sits behind the hot cache of state.redis.cache); without them every batch read and decoded each of
// its customers from Redis, which `churnflow run` does not do. Writes and commits follow the engine's
// commit schedule (src/operators/commit-schedule.ts): with the hot cache's write-behind, a customer is
// written at most once per state.redis.cache.writeBehindMs (no decisions here to write it earlier), and
// the clock stops once every state is written and every offset committed.
import { concatMap, lastValueFrom, tap } from 'rxjs';
import type { ChurnflowConfig } from '../../src/config/config-schema.js';
import { buildDecoder, kafkaSourceOptions } from '../../src/compose/event-decoding.js';
import { buildEventTimePolicy } from '../../src/compose/event-time-policy.js';
import { buildSpec } from '../../src/compose/feature-spec.js';
import { buildStateStore } from '../../src/compose/state-store.js';
import type { Logger } from '../../src/observability/logger.js';
import { createEngineMetrics } from '../../src/observability/metrics.js';
import { aggregateBatch } from '../../src/operators/apply-to-state.js';
import { CommitSchedule } from '../../src/operators/commit-schedule.js';
import { decodeRecords } from '../../src/operators/decode-records.js';
import { microBatch } from '../../src/operators/micro-batch.js';
import { routeLateEvents } from '../../src/operators/route-late-events.js';
import { validateEvents } from '../../src/operators/validate-events.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { FlowControl } from '../../src/sources/flow-control.js';
import { createKafkaSource } from '../../src/sources/kafka-source.js';
import { isWriteBehindStore } from '../../src/state/hot-cache.js';
import { commitStaged } from '../../src/state/stage-deltas.js';
import { systemClock } from '../../src/time/clock.js';

/**
 * Reads the config's activity topic with its group from the beginning until `expect` records are
 * acknowledged (state written, offsets committed); returns the milliseconds from the first fetch
 * request to then. The store is `config.state.kind` (redis or memory).
 */
export async function runAggregationOnly(config: Readonly<ChurnflowConfig>, expect: number, logger: Logger): Promise<number> {
  // The engine's own parts (src/compose/), without scoring: the spec, store, decoder and event-time policy.
  const spec = buildSpec(config);
  const store = buildStateStore(config, spec, { engineMetrics: createEngineMetrics({ defaultMetrics: false }) });
  const registry = new RegistryClient({ url: config.schemaRegistry.url, maxCachedIds: config.schemaRegistry.cache.maxCachedIds });
  const decoder = buildDecoder(config, { kind: 'kafka', registry: () => registry, clock: systemClock });
  const eventTime = buildEventTimePolicy(config);
  const watermarks = eventTime.watermarks(eventTime.validationClock);
  const k = config.kafka;
  const prepare = decoder.prepare?.bind(decoder);
  const source = createKafkaSource(kafkaSourceOptions(config, { clientId: k.clientId, groupId: k.groupId, topics: k.topics.activity }), { logger, clock: systemClock, ...(prepare ? { prepare } : {}), watermarks });
  const flow = new FlowControl(config.engine.maxInFlight);
  const { writeBehindMs, maxPendingCustomers } = config.state.redis.cache;
  const wb = writeBehindMs > 0 && isWriteBehindStore(store) ? { store, delayMs: writeBehindMs, maxPending: maxPendingCustomers } : undefined;
  const schedule = new CommitSchedule(source, undefined, { clock: systemClock, ...(wb ? { writeBehind: wb } : {}), retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 } });
  let acknowledged = 0;
  const t0 = performance.now();
  let elapsed = 0;
  try {
    await lastValueFrom(
      source.records(flow).pipe(
        decodeRecords(decoder),
        validateEvents(eventTime.rules, eventTime.validationClock),
        routeLateEvents(eventTime.watermarkOptions(eventTime.validationClock), watermarks),
        microBatch(config.engine.batch),
        // One batch at a time through load, write and commit (a write of pending states must not meet a batch holding them).
        concatMap(async (items) => {
          const batch = await aggregateBatch(items, store, spec);
          // No decisions: every changed customer may wait (as the engine's undecided ones do).
          await commitStaged(store, wb ? wb.store.defer(batch.staged, systemClock.now()) : batch.staged);
          await schedule.processed(items.map((i) => i.record));
          flow.release(items.length);
          return batch;
        }),
        tap((batch) => {
          acknowledged += batch.items.length;
          if (acknowledged >= expect) source.stop();
        }),
      ),
      { defaultValue: undefined },
    );
    await schedule.finish(); // the rest written and committed: then it is caught up
    elapsed = performance.now() - t0;
  } finally {
    await source.close();
    await store.close();
    await registry.close();
  }
  return elapsed;
}
