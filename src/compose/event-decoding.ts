// How records become events on every path: the source (a history file, the simulator, Kafka), the
// decoder the config's `input` section chooses (mappings, declared kinds), and the one event-time
// policy (validation rules and clock, lateness, watermark). Offline commands (replay, snapshot,
// backtest, score-all --input) take all of it from buildEventDecoding; the engine takes the decoder
// and the policy from the same functions.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { RecordDecoder } from '../serde/record-decoder.js';
import { decoderFor, finishDecoding, type InputDecoder } from '../serde/decoder-for.js';
import type { RegistryClient } from '../serde/registry-client.js';
import { simulationEndTime, type SimulatorOptions } from '../simulator/index.js';
import { openFileInput } from '../sources/file-input.js';
import { createKafkaSource, type KafkaSourceHooks, type KafkaSourceOptions } from '../sources/kafka-source.js';
import type { RecordSource } from '../sources/record-source.js';
import { createSimulatorSource, type SimulatorSourceOptions } from '../sources/simulator-source.js';
import type { Clock } from '../time/clock.js';
import type { ReplayClock } from '../time/replay-clock.js';
import type { WatermarkTracker } from '../time/watermark.js';
import type { Logger } from '../observability/logger.js';
import { buildEventTimePolicy, type EventTimePolicy } from './event-time-policy.js';

/** What a path reads. */
export type EventInput =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'simulator'; readonly options: SimulatorOptions; readonly pacing?: SimulatorSourceOptions }
  /** A bounded Kafka replay: `topics` from `fromTime` to `toTime` (default: their end when it starts). */
  | { readonly kind: 'kafka'; readonly topics: readonly string[]; readonly fromTime: number; readonly toTime?: number; readonly groupId: string; readonly clientId: string; readonly logger: Logger };

/** Where the records a decoder reads come from. */
export type DecoderInput = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'simulator' } | { readonly kind: 'kafka'; readonly registry: () => RegistryClient; readonly clock?: Clock };

/** The decoder of records under the config's `input` section (mappings, declared kinds); the registry is asked for only when the format needs it. */
export function buildDecoder(config: Readonly<ChurnflowConfig>, input: DecoderInput): InputDecoder {
  if (input.kind !== 'kafka') return decoderFor(config.input, input);
  const cache = config.schemaRegistry.cache;
  const clock = input.clock;
  return decoderFor(config.input, {
    kind: 'kafka',
    format: config.kafka.format,
    registry: () => ({ registry: input.registry(), unknownIdTtlMs: cache.unknownIdTtlMs, maxCachedIds: cache.maxCachedIds, maxConcurrentFetches: cache.maxConcurrentFetches, ...(clock ? { now: () => clock.now() } : {}) }),
  });
}

/** The consumer settings of config.kafka, for `topics` (the engine's group, or a replay's own). */
export function kafkaSourceOptions(config: Readonly<ChurnflowConfig>, overrides: Pick<KafkaSourceOptions, 'topics' | 'groupId' | 'clientId'> & Partial<KafkaSourceOptions>): KafkaSourceOptions {
  const k = config.kafka;
  return { brokers: k.brokers, ssl: k.ssl, sasl: k.sasl, fromBeginning: k.fromBeginning, format: k.format, sessionTimeoutMs: k.sessionTimeoutMs, heartbeatIntervalMs: k.heartbeatIntervalMs, fetchMaxWaitMs: k.fetchMaxWaitMs, ...overrides };
}

export interface EventDecoding {
  readonly source: RecordSource;
  /** The mapping's decoder; every event it decodes advances `clock`. */
  readonly decoder: RecordDecoder;
  readonly policy: EventTimePolicy;
  /** The replay's event-time "now": follows the input (bounded by the skew rule), so outputs depend only on the input. */
  readonly clock: ReplayClock;
  /** The watermark tracker under the policy, measured against `clock`. */
  readonly watermarks: WatermarkTracker;
  /** At the end of the input: fails loudly (CF_MAPPING_NO_MATCH) if a mapping mapped nothing. */
  finish(): void;
}

/** An offline replay's input side. `now` pins the future-time check (`--now`); `registry` is needed for Kafka only. */
export function buildEventDecoding(config: Readonly<ChurnflowConfig>, input: EventInput, options: { readonly now?: number; readonly registry?: () => RegistryClient } = {}): EventDecoding {
  const policy = buildEventTimePolicy(config, {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(input.kind === 'simulator' ? { simulatedEnd: simulationEndTime(input.options) } : {}),
  });
  const clock = policy.replayClock();
  let source: RecordSource;
  let decoder: InputDecoder;
  if (input.kind === 'file') {
    ({ source, decoder } = openFileInput(config.input, input.path, clock));
  } else if (input.kind === 'simulator') {
    source = createSimulatorSource(input.options, clock, input.pacing);
    decoder = buildDecoder(config, { kind: 'simulator' });
  } else {
    decoder = buildDecoder(config, { kind: 'kafka', registry: options.registry ?? noRegistry });
    const prepare = decoder.prepare?.bind(decoder);
    const hooks: KafkaSourceHooks = { logger: input.logger, clock, ...(prepare ? { prepare } : {}) };
    const bounds = { fromTime: input.fromTime, ...(input.toTime !== undefined ? { toTime: input.toTime } : {}) };
    source = createKafkaSource(kafkaSourceOptions(config, { topics: input.topics, groupId: input.groupId, clientId: input.clientId, fromBeginning: true, bounds }), hooks);
  }
  return { source, decoder: clock.tracking(decoder), policy, clock, watermarks: policy.watermarks(clock), finish: () => finishDecoding(decoder) };
}

function noRegistry(): RegistryClient {
  throw new Error('buildEventDecoding: a Kafka input needs options.registry');
}
