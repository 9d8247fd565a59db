// Production edges for createEngine: the start-up checks of Kafka, Redis and the Schema Registry,
// and the Kafka consumer-group source (lag, ownership, rebalances, persisted watermarks). The decoder,
// the Redis store and the Kafka sinks are chosen by config in src/compose/, as for every command.
import type { EdgeFactories } from './engine.js';
import { registryClientFromConfig } from './serde/registry-from-config.js';
import { ensureTopics } from './sources/ensure-topics.js';
import { CustomerOwnership } from './sources/kafka/customer-ownership.js';
import { createKafkaSource } from './sources/kafka-source.js';
import { checkRedis } from './preflight/check-redis.js';
import { redisConnection } from './config/redis-connection.js';
import { checkRegistry } from './preflight/check-registry.js';
import { checkKafka } from './preflight/check-kafka.js';
import { kafkaSourceOptions } from './compose/event-decoding.js';

export function productionEdges(): EdgeFactories {
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
          kafkaSourceOptions(config, { clientId: k.clientId, groupId: k.groupId, topics: k.topics.activity, partitionsConsumedConcurrently: k.partitionsConsumedConcurrently }),
          {
            logger,
            clock,
            ...(decoder.prepare ? { prepare: (recs) => decoder.prepare!(recs) } : {}),
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
  };
}
