// `churnflow score-all`: the nightly batch — score every customer in the state store as of a given
// time, in chunks, with progress, to a file, stdout or the risk topic. With --input, the history is
// replayed into an in-memory store first (the embedded mode); otherwise the configured store (Redis)
// is read as it stands.
import { stateRules } from '../config/state-rules.js';
import { BUNDLED_MODEL } from '../scoring/bundled-model.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { lastValueFrom } from 'rxjs';
import { stateLoadTopology } from '../../topologies/state-load.topology.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { DAY_MS } from '../events/activity-event.js';
import { validationRules } from '../config/validation-rules.js';
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { RiskEventRecord } from '../events/wire-types.js';
import { loadFeatureSpec } from '../features/load-spec.js';
import type { RecordSink } from '../sinks/record-sink.js';
import { loadScoringModel } from '../scoring/scoring-model.js';
import { modelRef } from '../scoring/scoring-ref.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent } from '../scoring/risk-decision.js';
import { finishDecoding } from '../serde/decoder-for.js';
import { createFileSink } from '../sinks/file-sink.js';
import { createKafkaSink, KafkaProducerPool } from '../sinks/kafka-sink.js';
import { registryClientFromConfig } from '../serde/registry-from-config.js';
import { riskEventEncoder } from '../serde/registry-encoder.js';
import { ensureTopics } from '../sources/ensure-topics.js';
import { createStdoutSink } from '../sinks/stdout-sink.js';
import { openFileInput } from '../sources/file-input.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { RedisStateStore } from '../state/redis-store.js';
import { redisClientOptions, redisConnection } from '../config/redis-connection.js';
import type { StateStore } from '../state/state-store.js';
import { systemClock } from '../time/clock.js';
import { ReplayClock } from '../time/replay-clock.js';
import { dateFlag, intFlag } from './common.js';
import { startProgress } from './progress.js';

interface ScoreAllFlags {
  asOf: number;
  input?: string;
  config?: string;
  model: string;
  out: string;
  chunk: number;
}

export function scoreAllCommand(): Command {
  return new Command('score-all')
    .description('score every customer in the state store as of a time (the nightly batch), in chunks, to a file or stdout')
    .requiredOption('--as-of <date>', 'score as of this time (features read only what happened before it)', dateFlag)
    .option('-i, --input <file>', 'replay this history (.ndjson, .csv or .avro) into an in-memory store first (otherwise: the configured store, e.g. Redis)')
    .option('-c, --config <file>', 'config (input mappings and declared kinds, state store, engine settings)')
    .option('--model <dir>', 'model bundle', BUNDLED_MODEL)
    .option('-o, --out <file>', "output NDJSON file, '-' for stdout, or 'kafka' for the config's risk topic (Avro via the Schema Registry)", 'out/score-all/scores.ndjson')
    .option('--chunk <n>', 'customers per chunk (one store page, one ONNX call)', intFlag('--chunk', 1, 100_000), 1000)
    .action(async (flags: ScoreAllFlags) => {
      await scoreAll(flags);
    });
}

export async function scoreAll(flags: ScoreAllFlags): Promise<{ customers: number }> {
  const config = loadConfig(flags.config ? { file: flags.config } : {});
  const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
  const model = await loadScoringModel(flags.model, spec);
  let store: StateStore;
  if (flags.input) {
    store = new MemoryStateStore(stateRules(config, spec));
    await fill(store, spec, flags.input, config);
  } else if (config.state.kind === 'redis') {
    store = new RedisStateStore({ ...redisClientOptions(redisConnection(config)), keyPrefix: config.state.redis.keyPrefix, ...stateRules(config, spec) });
  } else {
    throw new ChurnflowError('CF_CONFIG_INVALID', 'score-all: the memory store starts empty; give --input <history> or configure state.kind: redis');
  }
  let sink: RecordSink<RiskEventRecord>;
  const closers: (() => Promise<void>)[] = [];
  if (flags.out === '-') sink = createStdoutSink<RiskEventRecord>();
  else if (flags.out === 'kafka') {
    const k = config.kafka;
    const pool = new KafkaProducerPool({ brokers: k.brokers, ssl: k.ssl, sasl: k.sasl, clientId: `${k.clientId}-score-all` });
    const registry = registryClientFromConfig(config.schemaRegistry);
    closers.push(() => pool.close(), () => registry.close());
    if (k.createTopics.enabled) await ensureTopics(k, [k.topics.risk], k.createTopics.partitions);
    sink = createKafkaSink<RiskEventRecord>(pool, { topic: k.topics.risk, encoder: riskEventEncoder({ registry, topic: k.topics.risk, autoRegister: config.schemaRegistry.autoRegister }), key: (r) => r.customer_id });
  } else {
    mkdirSync(dirname(flags.out), { recursive: true });
    sink = createFileSink<RiskEventRecord>(flags.out, 'risk-event');
  }
  const total = (await store.stats()).customers;
  let scanned = 0;
  let scored = 0;
  const progress = startProgress('score-all', { records: () => scanned, fraction: () => (total > 0 ? scanned / total : undefined) });
  try {
    for await (const page of store.scan(flags.chunk)) {
      // Customers known only after the as-of time have no state before it: nothing to score.
      const rows = page.filter((s) => Object.keys(s.archive).length > 0 || Object.keys(s.buckets).some((d) => Number(d) * DAY_MS < flags.asOf));
      const features = rows.map((s) => spec.evaluate(s, flags.asOf));
      const ref = modelRef(model);
      const scores = await model.scoreFeatures(features);
      await sink.write(
        rows.map((s, i) =>
          buildRiskEvent({
            customerId: s.customerId,
            // One id per customer, model and as-of time: rerunning the same nightly batch deduplicates.
            triggerEventId: `score-all@${new Date(flags.asOf).toISOString()}`,
            eventTime: flags.asOf,
            processingTime: flags.asOf,
            score: scores[i]!,
            // A batch score of every customer, not a stream decision: the raw band, no emit rule.
            band: bandOf(scores[i]!, ref.decision.bands),
            previousBand: null,
            ref,
          }),
        ),
      );
      scanned += page.length;
      scored += rows.length;
    }
  } finally {
    progress.stop();
    await sink.close();
    for (const close of closers) await close();
    await store.close();
    await model.close();
  }
  process.stderr.write(
    `score-all: ${scored} customers scored as of ${new Date(flags.asOf).toISOString()} → ${flags.out}` +
      (scanned > scored ? ` (${scanned - scored} had no activity before that time)` : '') +
      '\n',
  );
  return { customers: scored };
}

/** Replays a history file into the store through the scoring path's own record and state stages. */
async function fill(store: StateStore, spec: CompiledSpec, input: string, config: Readonly<ChurnflowConfig>): Promise<void> {
  const clock = new ReplayClock();
  const { source, decoder } = openFileInput(config.input, input, clock);
  await lastValueFrom(
    stateLoadTopology(
      { source, decoder: clock.tracking(decoder), rules: validationRules(config), store, spec, clock: systemClock },
      { allowedLatenessMs: config.engine.allowedLatenessMs, batchSize: 2048 },
    ),
  );
  finishDecoding(decoder);
}
