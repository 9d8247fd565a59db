// The outputs of the engine and the replays, chosen by sinks.kind: files under a folder (risk events,
// current risk, dead letters, shadow events), stdout, or Kafka topics with registry-encoded Avro. Dead
// letters are cut to sinks.deadLetter on every path. `score-all` writes its risk events through
// buildRiskSink, the same choice for one output.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { CurrentRiskRecord, DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../events/wire-types.js';
import type { OutputSinks } from '../operators/write-outputs.js';
import type { RegistryClient } from '../serde/registry-client.js';
import { createFileSink } from '../sinks/file-sink.js';
import { jointKafkaSink } from '../sinks/joint-kafka-sink.js';
import { createKafkaSink, KafkaProducerPool } from '../sinks/kafka-sink.js';
import { currentRiskOf } from '../scoring/current-risk.js';
import { limitDeadLetterSinks } from '../sinks/limit-dead-letters.js';
import type { RecordSink } from '../sinks/record-sink.js';
import { createStdoutSink } from '../sinks/stdout-sink.js';
import { ensureTopics } from '../sources/ensure-topics.js';
import { deadLetterHeaders, deadLetterKey } from '../sinks/dead-letter-routing.js';
import { currentRiskEncoder, deadLetterEncoder, driftMetricEncoder, riskEventEncoder } from '../serde/registry-encoder.js';
import type { Logger } from '../observability/logger.js';
import type { Owner } from './owner.js';

export interface SinkContext {
  readonly owner: Owner;
  readonly registry: () => RegistryClient;
  readonly logger: Logger;
}

/** Whether drift, performance and rollback records have an output (they share the drift topic or drift.ndjson). */
export function driftOutputOn(config: Readonly<ChurnflowConfig>): boolean {
  return config.monitoring.enabled || config.model.rollback.enabled;
}

export async function buildSinks(config: Readonly<ChurnflowConfig>, ctx: SinkContext): Promise<OutputSinks> {
  const sinks = config.sinks.kind === 'kafka' ? await kafkaSinks(config, ctx) : localSinks(config, ctx.owner);
  return limitDeadLetterSinks(sinks, config.sinks.deadLetter);
}

function localSinks(config: Readonly<ChurnflowConfig>, owner: Owner): OutputSinks {
  const dir = config.sinks.dir;
  mkdirSync(dir, { recursive: true });
  const file = <T extends object>(name: string, file: string, kind: Parameters<typeof createFileSink>[1]) => owner.own(name, createFileSink<T>(join(dir, file), kind), (s) => s.close());
  const dead = file<DeadLetterRecord>('dead-letter-sink', 'dead-letters.ndjson', 'dead-letter');
  const drift = driftOutputOn(config) ? file<DriftMetricRecord>('drift-sink', 'drift.ndjson', 'drift-metric') : undefined;
  if (config.sinks.kind === 'stdout') return { risk: createStdoutSink<RiskEventRecord>(), deadLetter: dead, late: dead, ...(drift ? { drift } : {}) };
  const risk = file<RiskEventRecord>('risk-sink', 'risk-events.ndjson', 'risk-event');
  // The compacted topic's file form: an append-only log whose last line per customer is its current risk.
  const currentRisk = file<CurrentRiskRecord>('current-risk-sink', 'current-risk.ndjson', 'current-risk');
  const shadow = config.model.shadow.enabled ? file<RiskEventRecord>('shadow-sink', 'shadow-risk-events.ndjson', 'risk-event') : undefined;
  return { risk, currentRisk, deadLetter: dead, late: dead, ...(drift ? { drift } : {}), ...(shadow ? { shadow } : {}) };
}

function producerPool(config: Readonly<ChurnflowConfig>, owner: Owner, clientSuffix: string): KafkaProducerPool {
  const k = config.kafka;
  return owner.own('kafka-producer', new KafkaProducerPool({ brokers: k.brokers, ssl: k.ssl, sasl: k.sasl, clientId: `${k.clientId}-${clientSuffix}` }), (p) => p.close());
}

async function kafkaSinks(config: Readonly<ChurnflowConfig>, ctx: SinkContext): Promise<OutputSinks> {
  const k = config.kafka;
  const driftOn = driftOutputOn(config);
  if (k.createTopics.enabled) {
    const outputs = [k.topics.risk, k.topics.currentRisk, k.topics.deadLetter, ...(k.topics.late ? [k.topics.late] : []), ...(driftOn ? [k.topics.drift] : []), ...(config.model.shadow.enabled ? [k.topics.shadow] : [])];
    const made = await ensureTopics(k, outputs, k.createTopics.partitions, new Set([k.topics.currentRisk]));
    if (made.length > 0) ctx.logger.info({ topics: made }, 'created missing topics');
  }
  const pool = producerPool(config, ctx.owner, 'producer');
  const registry = ctx.registry();
  const autoRegister = config.schemaRegistry.autoRegister;
  const riskTo = (topic: string) => createKafkaSink<RiskEventRecord>(pool, { topic, encoder: riskEventEncoder({ registry, topic, autoRegister }), key: (r) => r.customer_id });
  const deadTo = (topic: string) => createKafkaSink<DeadLetterRecord>(pool, { topic, encoder: deadLetterEncoder({ registry, topic, autoRegister }), key: deadLetterKey, headers: deadLetterHeaders });
  // Keyed by customer on a compacted topic: the latest record per customer is its current risk.
  const currentRisk = createKafkaSink<CurrentRiskRecord>(pool, { topic: k.topics.currentRisk, encoder: currentRiskEncoder({ registry, topic: k.topics.currentRisk, autoRegister }), key: (r) => r.customer_id });
  // Risk events and their current-risk records in one produce request (one round trip, not two in a row).
  const risk = jointKafkaSink(pool, riskTo(k.topics.risk), currentRisk, currentRiskOf);
  const dead = deadTo(k.topics.deadLetter);
  const drift = driftOn ? createKafkaSink<DriftMetricRecord>(pool, { topic: k.topics.drift, encoder: driftMetricEncoder({ registry, topic: k.topics.drift, autoRegister }), key: (d) => d.subject }) : undefined;
  // Shadow events carry the risk-event schema on their own topic: campaign consumers never see them.
  const shadow = config.model.shadow.enabled ? riskTo(k.topics.shadow) : undefined;
  return { risk, deadLetter: dead, late: k.topics.late ? deadTo(k.topics.late) : dead, ...(drift ? { drift } : {}), ...(shadow ? { shadow } : {}) };
}

/** One risk-event output: an NDJSON file, '-' for stdout, or 'kafka' for the config's risk topic (Avro via the registry). The caller closes it (the producer pool is owned). */
export async function buildRiskSink(config: Readonly<ChurnflowConfig>, target: string, ctx: SinkContext & { readonly clientSuffix: string }): Promise<RecordSink<RiskEventRecord>> {
  if (target === '-') return createStdoutSink<RiskEventRecord>();
  if (target === 'kafka') {
    const k = config.kafka;
    if (k.createTopics.enabled) await ensureTopics(k, [k.topics.risk], k.createTopics.partitions);
    const pool = producerPool(config, ctx.owner, ctx.clientSuffix);
    return createKafkaSink<RiskEventRecord>(pool, { topic: k.topics.risk, encoder: riskEventEncoder({ registry: ctx.registry(), topic: k.topics.risk, autoRegister: config.schemaRegistry.autoRegister }), key: (r) => r.customer_id });
  }
  return createFileSink<RiskEventRecord>(target, 'risk-event');
}
