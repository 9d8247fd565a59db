// `churnflow replay`: the scoring topology over history — NDJSON or Avro container files, or Kafka
// topics from a timestamp to an end — in event time, as fast as the machine allows. Deterministic:
// the same input and model give byte-identical outputs (times come from the input, see ReplayClock).
import { stateRules } from '../config/state-rules.js';
import { BUNDLED_MODEL } from '../scoring/bundled-model.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { churnScoringTopology } from '../../topologies/churn-scoring.topology.js';
import { App } from '../app.js';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { validationRules } from '../config/validation-rules.js';
import type { DeadLetterRecord, RiskEventRecord } from '../events/wire-types.js';
import { loadFeatureSpec } from '../features/load-spec.js';
import { RunTally } from '../monitoring/run-tally.js';
import { createLogger } from '../observability/logger.js';
import { loadScoringModel } from '../scoring/scoring-model.js';
import { decisionOptions, emitPolicy, modelLoadOptions } from '../config/decision-options.js';
import { decoderFor, finishDecoding, type InputDecoder } from '../serde/decoder-for.js';
import { registryClientFromConfig } from '../serde/registry-from-config.js';
import { createFileSink } from '../sinks/file-sink.js';
import { openFileInput } from '../sources/file-input.js';
import { createKafkaSource } from '../sources/kafka-source.js';
import type { RecordSource } from '../sources/record-source.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { fixedClock, systemClock } from '../time/clock.js';
import { ReplayClock } from '../time/replay-clock.js';
import { WatermarkTracker } from '../time/watermark.js';
import { eventTimeRule } from '../engine.js';
import { dateFlag, intFlag } from './common.js';
import { startProgress } from './progress.js';
import { uniqueSuffix } from './unique.js';

interface ReplayFlags {
  input?: string;
  kafkaTopic?: string[];
  from?: number;
  to?: number;
  config?: string;
  model: string;
  spec: string;
  out: string;
  emit: 'change' | 'every';
  now?: number;
  batch: number;
}

export function replayCommand(): Command {
  return new Command('replay')
    .description('run the scoring topology over history (files, or Kafka from a timestamp) and write risk events and dead letters; deterministic')
    .option('-i, --input <file>', 'an NDJSON, CSV (.csv, needs an input mapping) or Avro container (.avro) file of activity records')
    .option('--kafka-topic <topic...>', 'replay these Kafka topics instead (brokers/registry from --config or CHURNFLOW_* env)')
    .option('--from <date>', 'with --kafka-topic: start at the first record at or after this time', dateFlag)
    .option('--to <date>', 'with --kafka-topic: stop at this time (default: the end of the topic when the replay starts)', dateFlag)
    .option('-c, --config <file>', 'config (input mappings and declared kinds, Kafka brokers, registry, record format, engine settings)')
    .option('--model <dir>', 'model bundle', BUNDLED_MODEL)
    .option('--spec <ref>', "feature spec: 'builtin:churn_default' or a JSON/YAML file", 'builtin:churn_default')
    .option('-o, --out <dir>', 'output folder: risk-events.ndjson, dead-letters.ndjson, summary.json', 'out/replay')
    .option('--emit <mode>', "risk events by the emit rule of engine.risk ('change': first score, band change with hysteresis, large move after the cooldown) or for 'every' score", 'change')
    .option('--now <date>', "reference 'now' for future-timestamp checks (default: the wall clock)", dateFlag)
    .option('--batch <n>', 'micro-batch size', intFlag('--batch', 1, 10_000), 1024)
    .action(async (flags: ReplayFlags) => replay(flags));
}

async function replay(flags: ReplayFlags): Promise<void> {
  if (!flags.input === !flags.kafkaTopic) throw new ChurnflowError('CF_CONFIG_INVALID', 'replay: give exactly one of --input <file> or --kafka-topic <topic...>');
  if (flags.emit !== 'change' && flags.emit !== 'every') throw new ChurnflowError('CF_CONFIG_INVALID', `--emit must be 'change' or 'every', got '${String(flags.emit)}'`);
  const config = loadConfig(flags.config ? { file: flags.config } : {});
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level });
  const app = new App(logger);
  app.installSignalHandlers();
  app.starting();
  // The replay's "now" follows the input, bounded so one outlier record cannot drag it (and the watermark) ahead.
  const clock = new ReplayClock({ maxSkewMs: config.engine.watermark.maxSkewMs });
  const spec = loadFeatureSpec(flags.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
  const model = app.own('model', await loadScoringModel(flags.model, spec, modelLoadOptions(config)), (m) => m.close());
  const store = app.own('state', new MemoryStateStore(stateRules(config, spec)), (s) => s.close());
  mkdirSync(flags.out, { recursive: true });
  const risk = app.own('risk-sink', createFileSink<RiskEventRecord>(join(flags.out, 'risk-events.ndjson'), 'risk-event'), (s) => s.close());
  const dead = app.own('dead-letter-sink', createFileSink<DeadLetterRecord>(join(flags.out, 'dead-letters.ndjson'), 'dead-letter'), (s) => s.close());

  let decoder: InputDecoder;
  let source: RecordSource;
  if (flags.input) {
    const file = openFileInput(config.input, flags.input, clock);
    decoder = file.decoder;
    source = app.own('source', file.source, (s) => s.close());
  } else {
    decoder = decoderFor(config.input, {
      kind: 'kafka',
      format: config.kafka.format,
      registry: () => ({ registry: app.own('schema-registry', registryClientFromConfig(config.schemaRegistry), (r) => r.close()) }),
    });
    const k = config.kafka;
    const prepare = decoder.prepare?.bind(decoder);
    source = app.own(
      'source',
      createKafkaSource(
        {
          brokers: k.brokers,
          ssl: k.ssl,
          sasl: k.sasl,
          clientId: `${k.clientId}-replay`,
          groupId: `${k.groupId}-replay-${uniqueSuffix()}`,
          topics: flags.kafkaTopic!,
          fromBeginning: true,
          format: k.format,
          sessionTimeoutMs: k.sessionTimeoutMs,
          heartbeatIntervalMs: k.heartbeatIntervalMs,
          fetchMaxWaitMs: k.fetchMaxWaitMs,
          bounds: { fromTime: flags.from ?? 0, ...(flags.to !== undefined ? { toTime: flags.to } : {}) },
        },
        { logger, clock, ...(prepare ? { prepare } : {}) },
      ),
      (s) => s.close(),
    );
  }
  app.onStop(() => source.stop());

  const tally = new RunTally();
  const progress = startProgress('replay', { records: () => tally.records, fraction: () => {
    const p = source.progress?.();
    return p && p.total > 0 ? p.done / p.total : undefined;
  } });
  const job = churnScoringTopology(
    {
      source,
      decoder: clock.tracking(decoder),
      rules: validationRules(config),
      store,
      spec,
      model: () => model,
      sinks: { risk, deadLetter: dead, late: dead },
      clock,
      watermarks: new WatermarkTracker(eventTimeRule(config, clock)),
      validationClock: flags.now !== undefined ? fixedClock(flags.now) : systemClock,
    },
    {
      allowedLatenessMs: config.engine.allowedLatenessMs,
      batch: { maxSize: flags.batch, maxWaitMs: 20 },
      maxInFlight: 4 * flags.batch,
      risk: { ...emitPolicy(config.engine.risk), emit: flags.emit },
      decision: decisionOptions(config),
      processingTime: 'received',
    },
  );
  const started = performance.now();
  try {
    await app.run(job, { onNext: (b) => tally.observe(b) });
    finishDecoding(decoder);
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    input: flags.input ?? { kafka: flags.kafkaTopic, from: flags.from ?? null, to: flags.to ?? null },
    model: `${model.manifest.name}@${model.manifest.version}`,
    records: tally.records,
    events_applied: tally.events,
    duplicates: tally.duplicates,
    dead_lettered: Object.fromEntries([...tally.deadLetters.entries()].sort()),
    late: tally.late,
    risk_events: tally.riskEvents,
    risk_events_by_band: Object.fromEntries([...tally.riskEventsByBand.entries()].sort()),
    event_time: { first: tally.firstEventTime ?? null, last: tally.lastEventTime ?? null },
  };
  // summary.json holds only input-derived numbers (no wall times) so it is reproducible too.
  writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stderr.write(
    `replay: ${tally.records.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s (${Math.round(tally.records / Math.max(seconds, 1e-3)).toLocaleString('en-US')}/s): ` +
      `${tally.riskEvents} risk events, ${tally.deadLettered} dead-lettered, ${tally.late} late → ${flags.out}\n`,
  );
}
