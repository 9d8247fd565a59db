// Production edges for createEngine: Kafka source (consumer group), Schema Registry decoding (with
// the users' input mappings), Kafka sinks with registry-encoded Avro, and the Redis state store.
// Each edge is chosen by config, so the same engine mixes them (e.g. Kafka in, files out).
import { stateRules } from './config/state-rules.js';
import type { IHeaders } from 'kafkajs';
import type { EdgeContext, EdgeFactories } from './engine.js';
import type { CurrentRiskRecord, DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from './events/wire-types.js';
import type { OutputSinks } from './operators/write-outputs.js';
import { decoderFor } from './serde/decoder-for.js';
import type { RegistryClient } from './serde/registry-client.js';
import { registryClientFromConfig } from './serde/registry-from-config.js';
import { deadLetterEncoder, driftMetricEncoder, currentRiskEncoder, riskEventEncoder } from './serde/registry-encoder.js';
import { createKafkaSink, KafkaProducerPool } from './sinks/kafka-sink.js';
import { ensureTopics } from './sources/ensure-topics.js';
import { CustomerOwnership } from './sources/kafka/customer-ownership.js';
import { createKafkaSource } from './sources/kafka-source.js';
import { RedisStateStore } from './state/redis-store.js';
import type { HotCachedStore } from './state/hot-cache.js';
import { hotCachedStore } from './state/hot-cache-from-config.js';
import { checkRedis } from './preflight/check-redis.js';
import { redisClientOptions, redisConnection } from './config/redis-connection.js';
import { checkRegistry } from './preflight/check-registry.js';
import { checkKafka } from './preflight/check-kafka.js';

/** Headers on dead-letter messages, so a consumer can route them without decoding the value (the original key is in the value only). */
export function deadLetterHeaders(d: DeadLetterRecord): IHeaders {
  const h: IHeaders = { 'churnflow-reason': d.reason_code, 'churnflow-route': d.route, 'churnflow-source': d.source };
  if (d.source_topic !== null) h['churnflow-source-topic'] = d.source_topic;
  if (d.source_partition !== null) h['churnflow-source-partition'] = String(d.source_partition);
  if (d.source_offset !== null) h['churnflow-source-offset'] = d.source_offset;
  return h;
}

/** Keyed by customer when the envelope names one (bounded by sinks.deadLetter.maxKeyBytes), else by its own id. */
export function deadLetterKey(d: DeadLetterRecord): string {
  return d.customer_id ?? d.dead_letter_id;
}

export function productionEdges(): EdgeFactories {
  let registry: RegistryClient | undefined;
  let hotCache: HotCachedStore | undefined; // built with the store, told of revocations by the source
  const registryFor = (ctx: EdgeContext) =>
    (registry ??= ctx.app.own('schema-registry', registryClientFromConfig(ctx.config.schemaRegistry, { maxCachedIds: ctx.config.schemaRegistry.cache.maxCachedIds }), (r) => r.close()));

  return {
    async preflight({ config, logger }) {
      const checks: Promise<void>[] = [];
      if (config.state.kind === 'redis' || config.model.registry.aliasStore === 'redis') {
        const redis = redisConnection(config);
        checks.push(checkRedis(redis).then((p) => p && logger.warn({ problem: p.detail }, `Redis (${redis.configKey}) is not reachable at start; batches retry until it is`)));
      }
      if (config.source.kind === 'kafka' || config.sinks.kind === 'kafka') {
        checks.push(checkKafka(config.kafka).then((p) => p && logger.warn({ problem: p.detail }, 'Kafka (kafka.brokers) is not reachable at start; the clients retry until it is')));
      }
      const registryUsed = config.sinks.kind === 'kafka' || (config.source.kind === 'kafka' && (config.kafka.format === 'confluent-avro' || config.input.mappings.length > 0));
      if (registryUsed) {
        const client = registryClientFromConfig(config.schemaRegistry, { maxRetries: 0, timeoutMs: 5000 });
        checks.push(
          checkRegistry(client, 'schemaRegistry.url')
            .then((p) => p && logger.warn({ problem: p.detail }, 'the schema registry (schemaRegistry.url) is not reachable at start; lookups retry until it is'))
            .finally(() => client.close()),
        );
      }
      // Every check runs to its end (no client left open); the first configuration error wins.
      const results = await Promise.allSettled(checks);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },

    async decoder(ctx) {
      const { config } = ctx;
      // Files and the simulator: the engine's own default (the same factory, for a file source).
      if (config.source.kind !== 'kafka') return undefined;
      const cache = config.schemaRegistry.cache;
      return decoderFor(config.input, {
        kind: 'kafka',
        format: config.kafka.format,
        registry: () => ({ registry: registryFor(ctx), unknownIdTtlMs: cache.unknownIdTtlMs, maxCachedIds: cache.maxCachedIds, maxConcurrentFetches: cache.maxConcurrentFetches, now: () => ctx.clock.now() }),
      });
    },

    async store(ctx) {
      const { config, spec, metrics, app } = ctx;
      if (config.state.kind !== 'redis') return undefined;
      const redis = new RedisStateStore({ ...redisClientOptions(redisConnection(config)), keyPrefix: config.state.redis.keyPrefix, ...stateRules(config, spec, () => metrics.stateBudgetExceeded.inc()), ...(config.state.redis.idleTtlSeconds ? { idleTtlSeconds: config.state.redis.idleTtlSeconds } : {}) });
      hotCache = config.state.redis.cache.enabled ? hotCachedStore(redis, config, metrics) : undefined;
      return app.own('state', hotCache ?? redis, (s) => s.close());
    },

    async source(ctx) {
      const { config, app, logger, metrics, clock, watermarks } = ctx;
      if (config.source.kind !== 'kafka') return undefined;
      const k = config.kafka;
      if (k.createTopics.enabled) {
        const made = await ensureTopics(k, k.topics.activity, k.createTopics.partitions);
        if (made.length > 0) ctx.logger.info({ topics: made }, 'created missing topics');
      }
      const decoder = ctx.decoder;
      const ownership = new CustomerOwnership(k.topics.activity[0]!);
      ctx.ownsCustomer = (id) => ownership.owns(id);
      return app.own(
        'source',
        createKafkaSource(
          { brokers: k.brokers, ssl: k.ssl, sasl: k.sasl, clientId: k.clientId, groupId: k.groupId, topics: k.topics.activity, fromBeginning: k.fromBeginning, format: k.format, sessionTimeoutMs: k.sessionTimeoutMs, heartbeatIntervalMs: k.heartbeatIntervalMs, fetchMaxWaitMs: k.fetchMaxWaitMs, partitionsConsumedConcurrently: k.partitionsConsumedConcurrently },
          {
            logger,
            clock,
            ...(decoder?.prepare ? { prepare: (recs) => decoder.prepare!(recs) } : {}),
            onLag: (topic, partition, lag) => {
              metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
              ctx.progress.lag(`${topic}/${partition}`, lag);
            },
            onCommitRefused: () => metrics.commitsRefused.inc(),
            onAssigned: (owned) => {
              ownership.update(owned);
              logger.info({ topic: ownership.topic, partitions: ownership.ownedPartitions() }, 'drift samples the customers of these partitions');
            },
            onRebalance: () => {
              metrics.rebalances.inc();
              ctx.progress.forgetLag();
            },
            // A revoked partition's watermark (removed by the source), lag gauge and drift state must not linger (false alerts, a stuck watermark).
            onRevoked: (streams) => {
              ctx.revokeStreams(streams);
              hotCache?.revoke(streams);
              for (const s of streams) {
                const i = s.lastIndexOf('/');
                metrics.consumerLag.remove({ topic: s.slice(0, i), partition: s.slice(i + 1) });
              }
            },
            watermarks,
          },
        ),
        (s) => s.close(),
      );
    },

    async sinks(ctx): Promise<OutputSinks | undefined> {
      const { config, app } = ctx;
      if (config.sinks.kind !== 'kafka') return undefined;
      const k = config.kafka;
      const driftOn = config.monitoring.enabled || config.model.rollback.enabled;
      if (k.createTopics.enabled) {
        const outputs = [k.topics.risk, k.topics.currentRisk, k.topics.deadLetter, ...(k.topics.late ? [k.topics.late] : []), ...(driftOn ? [k.topics.drift] : []), ...(config.model.shadow.enabled ? [k.topics.shadow] : [])];
        const made = await ensureTopics(k, outputs, k.createTopics.partitions, new Set([k.topics.currentRisk]));
        if (made.length > 0) ctx.logger.info({ topics: made }, 'created missing topics');
      }
      const pool = app.own('kafka-producer', new KafkaProducerPool({ brokers: k.brokers, ssl: k.ssl, sasl: k.sasl, clientId: `${k.clientId}-producer` }), (p) => p.close());
      const reg = registryFor(ctx);
      const autoRegister = config.schemaRegistry.autoRegister;
      const risk = createKafkaSink<RiskEventRecord>(pool, { topic: k.topics.risk, encoder: riskEventEncoder({ registry: reg, topic: k.topics.risk, autoRegister }), key: (r) => r.customer_id });
      // Keyed by customer on a compacted topic: the latest record per customer is its current risk.
      const currentRisk = createKafkaSink<CurrentRiskRecord>(pool, { topic: k.topics.currentRisk, encoder: currentRiskEncoder({ registry: reg, topic: k.topics.currentRisk, autoRegister }), key: (r) => r.customer_id });
      const dead = createKafkaSink<DeadLetterRecord>(pool, {
        topic: k.topics.deadLetter,
        encoder: deadLetterEncoder({ registry: reg, topic: k.topics.deadLetter, autoRegister }),
        key: deadLetterKey,
        headers: deadLetterHeaders,
      });
      const late = k.topics.late
        ? createKafkaSink<DeadLetterRecord>(pool, { topic: k.topics.late, encoder: deadLetterEncoder({ registry: reg, topic: k.topics.late, autoRegister }), key: deadLetterKey, headers: deadLetterHeaders })
        : dead;
      const drift = driftOn
        ? createKafkaSink<DriftMetricRecord>(pool, { topic: k.topics.drift, encoder: driftMetricEncoder({ registry: reg, topic: k.topics.drift, autoRegister }), key: (d) => d.subject })
        : undefined;
      // Shadow events carry the risk-event schema on their own topic: campaign consumers never see them.
      const shadow = config.model.shadow.enabled
        ? createKafkaSink<RiskEventRecord>(pool, { topic: k.topics.shadow, encoder: riskEventEncoder({ registry: reg, topic: k.topics.shadow, autoRegister }), key: (r) => r.customer_id })
        : undefined;
      return { risk, currentRisk, deadLetter: dead, late, ...(drift ? { drift } : {}), ...(shadow ? { shadow } : {}) };
    },
  };
}
