// `churnflow replay`: the scoring topology over history — NDJSON or Avro container files, or Kafka
// topics from a timestamp to an end — in event time, as fast as the machine allows. Deterministic:
// the same input and model give byte-identical outputs (times come from the input, see ReplayClock),
// whatever the batch size and the number of workers (--workers: replay-parallel.ts).
import { Command } from 'commander';
import { App } from '../app.js';
import { RunTally } from '../monitoring/run-tally.js';
import { buildSinks } from '../compose/sinks.js';
import { commandLogger, dateFlag, intFlag } from './common.js';
import { startProgress } from './progress.js';
import { buildReplayJob, checkReplayFlags, replayConfig, writeSummary, type ReplayFlags } from './replay-job.js';
import { parallelReplay } from './replay-parallel.js';

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
    .option('--workers <n>', 'worker threads, each reading the whole input and keeping the state of its share of the customers; the outputs are the same bytes as with 1 (--input files only)', intFlag('--workers', 1, 64), 1)
    .action(async (flags: ReplayFlags) => replay(flags));
}

async function replay(flags: ReplayFlags): Promise<void> {
  checkReplayFlags(flags);
  if (flags.workers > 1) return parallelReplay(flags);
  const config = replayConfig(flags);
  const logger = commandLogger(config);
  const app = new App(logger);
  app.installSignalHandlers();
  app.starting();
  const { job, replay, modelRef } = await buildReplayJob(flags, config, app, logger, (registry) => buildSinks(config, { owner: app, registry, logger }));
  const { source } = replay;
  const tally = new RunTally();
  const progress = startProgress('replay', { records: () => tally.records, fraction: () => {
    const p = source.progress?.();
    return p && p.total > 0 ? p.done / p.total : undefined;
  } });
  const started = performance.now();
  try {
    await app.run(job, { onNext: (b) => tally.observe(b) });
    replay.finish();
  } finally {
    progress.stop();
  }
  writeSummary(flags, modelRef, tally, replay.budgetCuts(), (performance.now() - started) / 1000);
}
