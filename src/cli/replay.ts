// `churnflow replay`: the scoring topology over history — NDJSON or Avro container files, or Kafka
// topics from a timestamp to an end — in event time, as fast as the machine allows. Deterministic:
// the same input and model give byte-identical outputs (times come from the input, see ReplayClock).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { churnScoringTopology } from '../../topologies/churn-scoring.topology.js';
import { App } from '../app.js';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { RunTally } from '../monitoring/run-tally.js';
import { createLogger } from '../observability/logger.js';
import { decisionOptions, emitPolicy } from '../config/decision-options.js';
import type { EventInput } from '../compose/event-decoding.js';
import { buildSpec } from '../compose/feature-spec.js';
import { buildModel } from '../compose/model.js';
import { buildOfflineReplay } from '../compose/offline-replay.js';
import { lazyRegistryClient } from '../compose/registry-client.js';
import { buildSinks } from '../compose/sinks.js';
import { budgetLine, dateFlag, intFlag } from './common.js';
import { startProgress } from './progress.js';
import { uniqueSuffix } from './unique.js';

interface ReplayFlags {
  input?: string;
  kafkaTopic?: string[];
  from?: number;
  to?: number;
  config?: string;
  model?: string;
  spec?: string;
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
    .option('--model <dir>', "model bundle (default: the version the registry's production alias points at: model.registry.dir, model.name, model.alias)")
    .option('--spec <ref>', "feature spec: 'builtin:churn_default' or a JSON/YAML file (default: features.spec of the config)")
    .option('-o, --out <dir>', 'output folder: risk-events.ndjson, current-risk.ndjson, dead-letters.ndjson, summary.json', 'out/replay')
    .option('--emit <mode>', "risk events by the emit rule of engine.risk ('change': first score, band change with hysteresis, large move after the cooldown) or for 'every' score", 'change')
    .option('--now <date>', "reference 'now' for future-timestamp checks (default: the wall clock)", dateFlag)
    .option('--batch <n>', 'micro-batch size', intFlag('--batch', 1, 10_000), 1024)
    .action(async (flags: ReplayFlags) => replay(flags));
}

async function replay(flags: ReplayFlags): Promise<void> {
  if (!flags.input === !flags.kafkaTopic) throw new ChurnflowError('CF_CONFIG_INVALID', 'replay: give exactly one of --input <file> or --kafka-topic <topic...>');
  if (flags.emit !== 'change' && flags.emit !== 'every') throw new ChurnflowError('CF_CONFIG_INVALID', `--emit must be 'change' or 'every', got '${String(flags.emit)}'`);
  // The outputs are files under --out whatever the config's sinks say: a replay never writes to the live topics.
  const config = loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides: { sinks: { kind: 'file', dir: flags.out } } });
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level });
  const app = new App(logger);
  app.installSignalHandlers();
  app.starting();
  const spec = buildSpec(config, flags.spec);
  const model = app.own('model', await buildModel(config, spec, flags.model !== undefined ? { modelOverride: flags.model } : {}), (m) => m.close());
  const registry = lazyRegistryClient(config, app);
  const input: EventInput = flags.input
    ? { kind: 'file', path: flags.input }
    : { kind: 'kafka', topics: flags.kafkaTopic!, fromTime: flags.from ?? 0, ...(flags.to !== undefined ? { toTime: flags.to } : {}), groupId: `${config.kafka.groupId}-replay-${uniqueSuffix()}`, clientId: `${config.kafka.clientId}-replay`, logger };
  // Times follow the input (ReplayClock), so the outputs depend only on it.
  const replay = buildOfflineReplay(config, spec, input, { ...(flags.now !== undefined ? { now: flags.now } : {}), registry });
  const { source, clock } = replay;
  app.own('source', source, (s) => s.close());
  app.own('state', replay.store, (s) => s.close());
  const sinks = await buildSinks(config, { owner: app, registry, logger });
  app.onStop(() => source.stop());

  const tally = new RunTally();
  const progress = startProgress('replay', { records: () => tally.records, fraction: () => {
    const p = source.progress?.();
    return p && p.total > 0 ? p.done / p.total : undefined;
  } });
  const job = churnScoringTopology(
    { ...replay.edges, validationClock: replay.edges.clock, clock, model: () => model, sinks },
    {
      allowedLatenessMs: replay.policy.allowedLatenessMs,
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
    replay.finish();
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
    state_budget_cuts: replay.budgetCuts(),
  };
  // summary.json holds only input-derived numbers (no wall times) so it is reproducible too.
  writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stderr.write(
    `replay: ${tally.records.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s (${Math.round(tally.records / Math.max(seconds, 1e-3)).toLocaleString('en-US')}/s): ` +
      `${tally.riskEvents} risk events, ${tally.deadLettered} dead-lettered, ${tally.late} late${budgetLine(replay.budgetCuts())} → ${flags.out}\n`,
  );
}

