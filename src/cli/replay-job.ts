// What `churnflow replay` runs, shared by the single-threaded replay and each worker of a parallel
// one (replay-parallel.ts): the config with file outputs forced, the spec, the model, the offline input
// side and the scoring topology on them; and the summary written at the end.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decisionOptions, emitPolicy } from '../config/decision-options.js';
import type { ChurnflowConfig } from '../config/config-schema.js';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import type { App } from '../app.js';
import type { EventInput } from '../compose/event-decoding.js';
import { buildSpec } from '../compose/feature-spec.js';
import { buildModel } from '../compose/model.js';
import { buildOfflineReplay, type OfflineReplay } from '../compose/offline-replay.js';
import { lazyRegistryClient } from '../compose/registry-client.js';
import type { Logger } from '../observability/logger.js';
import type { RunTally } from '../monitoring/run-tally.js';
import type { DecidedBatch } from '../operators/batch.js';
import type { Shard } from '../operators/own-shard.js';
import type { OutputSinks } from '../operators/write-outputs.js';
import type { RegistryClient } from '../serde/registry-client.js';
import type { Observable } from 'rxjs';
import { churnScoringTopology } from '../../topologies/churn-scoring.topology.js';
import { budgetLine } from './common.js';
import { uniqueSuffix } from './unique.js';

export interface ReplayFlags {
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
  workers: number;
}

/** The flags' contradictions, refused before anything starts. */
export function checkReplayFlags(flags: ReplayFlags): void {
  if (!flags.input === !flags.kafkaTopic) throw new ChurnflowError('CF_CONFIG_INVALID', 'replay: give exactly one of --input <file> or --kafka-topic <topic...>');
  if (flags.emit !== 'change' && flags.emit !== 'every') throw new ChurnflowError('CF_CONFIG_INVALID', `--emit must be 'change' or 'every', got '${String(flags.emit)}'`);
  // Every worker reads the whole input; a Kafka replay's end ("the end of the topic when the replay
  // starts") would be a different moment for each of them.
  if (flags.workers > 1 && flags.kafkaTopic) throw new ChurnflowError('CF_CONFIG_INVALID', '--workers > 1 needs --input <file>: a Kafka replay runs on one thread (--workers 1)');
  // Each worker reads the input whole: a pipe can be read once only.
  if (flags.workers > 1 && flags.input && isPipe(flags.input)) throw new ChurnflowError('CF_CONFIG_INVALID', `--workers > 1 needs a regular file, each worker reads it whole; ${flags.input} is not (use --workers 1 for a pipe)`);
}

function isPipe(path: string): boolean {
  try {
    const st = statSync(path);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false; // missing: the source says so, naming the file
  }
}

/**
 * The replay's config: the file given, with outputs forced to files under --out (a replay never writes
 * to the live topics). With several workers, each walks its own trees and computes its own reasons
 * (`model.workerShare` 0): the workers already share the cores, and a helper thread per worker only
 * competed with them (937k records on 2 cores, 2 alternated pairs: 14.7 / 14.6 s against 15.7 / 15.9 s;
 * the scores are the same whichever thread computes them).
 */
export function replayConfig(flags: ReplayFlags): Readonly<ChurnflowConfig> {
  const overrides = { sinks: { kind: 'file', dir: flags.out }, ...(flags.workers > 1 ? { model: { workerShare: 0 } } : {}) };
  return loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides });
}

export interface ReplayJob {
  readonly job: Observable<DecidedBatch>;
  readonly replay: OfflineReplay;
  /** name@version of the model that scored. */
  readonly modelRef: string;
}

/**
 * Builds the replay's topology on `app` (which owns and closes what is opened). `sinks` makes the
 * outputs (the configured file sinks, or a worker's capture); `shard` makes it one worker's share.
 */
export async function buildReplayJob(
  flags: ReplayFlags,
  config: Readonly<ChurnflowConfig>,
  app: App,
  logger: Logger,
  sinks: (registry: () => RegistryClient) => Promise<OutputSinks>,
  shard?: Shard,
): Promise<ReplayJob> {
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
  const outputs = await sinks(registry);
  app.onStop(() => source.stop());
  const job = churnScoringTopology(
    { ...replay.edges, validationClock: replay.edges.clock, clock, model: () => model, sinks: outputs },
    {
      allowedLatenessMs: replay.policy.allowedLatenessMs,
      batch: { maxSize: flags.batch, maxWaitMs: 20 },
      maxInFlight: 4 * flags.batch,
      risk: { ...emitPolicy(config.engine.risk), emit: flags.emit },
      decision: decisionOptions(config),
      processingTime: 'received',
      ...(shard ? { shard } : {}),
    },
  );
  return { job, replay, modelRef: `${model.manifest.name}@${model.manifest.version}` };
}

/**
 * Writes summary.json — only input-derived numbers (no wall times, no worker count), so it is
 * reproducible too — and prints the closing line (`how` adds e.g. the worker count to it).
 */
export function writeSummary(flags: ReplayFlags, modelRef: string, tally: RunTally, budgetCuts: number, seconds: number, how = ''): void {
  const summary = {
    input: flags.input ?? { kafka: flags.kafkaTopic, from: flags.from ?? null, to: flags.to ?? null },
    model: modelRef,
    records: tally.records,
    events_applied: tally.events,
    duplicates: tally.duplicates,
    dead_lettered: Object.fromEntries([...tally.deadLetters.entries()].sort()),
    late: tally.late,
    risk_events: tally.riskEvents,
    risk_events_by_band: Object.fromEntries([...tally.riskEventsByBand.entries()].sort()),
    event_time: { first: tally.firstEventTime ?? null, last: tally.lastEventTime ?? null },
    state_budget_cuts: budgetCuts,
  };
  writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stderr.write(
    `replay: ${tally.records.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s (${Math.round(tally.records / Math.max(seconds, 1e-3)).toLocaleString('en-US')}/s${how}): ` +
      `${tally.riskEvents} risk events, ${tally.deadLettered} dead-lettered, ${tally.late} late${budgetLine(budgetCuts)} → ${flags.out}\n`,
  );
}
