// `churnflow score-all`: the nightly batch — score every customer in the state store as of a given
// time, in chunks, with progress, to a file, stdout or the risk topic. With --input, the history is
// replayed into an in-memory store first (the embedded mode); otherwise the configured store (Redis)
// is read as it stands.
import { Command } from 'commander';
import { lastValueFrom } from 'rxjs';
import { stateLoadTopology } from '../../topologies/state-load.topology.js';
import { ChurnflowError } from '../errors.js';
import { DAY_MS } from '../events/activity-event.js';
import type { DeadLetterRecord } from '../events/wire-types.js';
import { modelRef } from '../scoring/scoring-ref.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent } from '../scoring/risk-decision.js';
import { createFileSink } from '../sinks/file-sink.js';
import { buildSpec } from '../compose/feature-spec.js';
import { buildModel } from '../compose/model.js';
import { buildOfflineReplay } from '../compose/offline-replay.js';
import { lazyRegistryClient } from '../compose/registry-client.js';
import { buildRiskSink } from '../compose/sinks.js';
import { buildStateStore } from '../compose/state-store.js';
import { Resources } from '../compose/owner.js';
import type { StateStore } from '../state/state-store.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { RecordSink } from '../sinks/record-sink.js';
import type { ScoringModel } from '../scoring/scoring-model.js';
import { budgetLine, commandLogger, dateFlag, intFlag } from './common.js';
import { loadCommandConfig } from './command-config.js';
import { startProgress } from './progress.js';

interface ScoreAllFlags {
  asOf: number;
  input?: string;
  config?: string;
  model?: string;
  out: string;
  chunk: number;
  deadLetters?: string;
}

export function scoreAllCommand(): Command {
  return new Command('score-all')
    .description('score every customer in the state store as of a time (the nightly batch), in chunks, to a file or stdout')
    .requiredOption('--as-of <date>', 'score as of this time (features read only what happened before it)', dateFlag)
    .option('-i, --input <file>', 'replay this history (.ndjson, .csv or .avro) into an in-memory store first (otherwise: the configured store, e.g. Redis)')
    .option('-c, --config <file>', 'config (input mappings and declared kinds, state store, engine settings)')
    .option('--model <dir>', "model bundle (default: the version the registry's production alias points at)")
    .option('-o, --out <file>', "output NDJSON file, '-' for stdout, or 'kafka' for the config's risk topic (Avro via the Schema Registry)", 'out/score-all/scores.ndjson')
    .option('--chunk <n>', 'customers per chunk (one store page, one ONNX call)', intFlag('--chunk', 1, 100_000), 1000)
    .option('--dead-letters <file>', 'with --input: write refused and too-late records here (NDJSON)')
    .action(async (flags: ScoreAllFlags) => {
      await scoreAll(flags);
    });
}

export async function scoreAll(flags: ScoreAllFlags): Promise<{ customers: number }> {
  const config = loadCommandConfig(flags);
  const spec = buildSpec(config);
  const owner = new Resources();
  const logger = commandLogger(config);
  const registry = lazyRegistryClient(config, owner);
  let store: StateStore;
  let cuts = () => 0;
  try {
    const model = owner.own('model', await buildModel(config, spec, { ...(flags.model !== undefined ? { modelOverride: flags.model } : {}), explain: false }), (m) => m.close());
    if (flags.input) {
      const replay = buildOfflineReplay(config, spec, { kind: 'file', path: flags.input });
      store = owner.own('state', replay.store, (s) => s.close());
      cuts = replay.budgetCuts;
      const deadLetters = flags.deadLetters ? owner.own('dead-letter-sink', createFileSink<DeadLetterRecord>(flags.deadLetters, 'dead-letter'), (s) => s.close()) : undefined;
      // The history into the store through the scoring path's own record and state stages.
      await lastValueFrom(stateLoadTopology({ ...replay.edges, ...(deadLetters ? { deadLetters } : {}) }, { allowedLatenessMs: replay.policy.allowedLatenessMs, batchSize: 2048 }));
      replay.finish();
    } else if (config.state.kind === 'redis') {
      store = owner.own('state', buildStateStore(config, spec), (s) => s.close());
    } else {
      throw new ChurnflowError('CF_CONFIG_INVALID', 'score-all: the memory store starts empty; give --input <history> or configure state.kind: redis');
    }
    const sink = await buildRiskSink(config, flags.out, { owner, registry, logger, clientSuffix: 'score-all' });
    return await scoreStore(store, sink, model, flags, spec, cuts);
  } finally {
    await owner.close();
  }
}

async function scoreStore(store: StateStore, sink: RecordSink<RiskEventRecord>, model: ScoringModel, flags: ScoreAllFlags, spec: CompiledSpec, cuts: () => number): Promise<{ customers: number }> {
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
  }
  process.stderr.write(
    `score-all: ${scored} customers scored as of ${new Date(flags.asOf).toISOString()} → ${flags.out}` +
      (scanned > scored ? ` (${scanned - scored} had no activity before that time)` : '') +
      budgetLine(cuts()) +
      '\n',
  );
  return { customers: scored };
}
