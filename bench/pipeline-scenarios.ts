// The embedded pipelines the throughput benches time, each a function of one NDJSON file: decode only,
// decode → validate → aggregate → features, the full topology and `churnflow replay` as shipped.
// pipeline-throughput.bench.ts runs them on the main thread; shard-bound.bench.ts runs the same ones
// in worker threads, each on its own shard of the customers. One definition, so the two benches time
// the same work.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatMap, count, lastValueFrom, tap } from 'rxjs';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { aggregateBatch } from '../src/operators/apply-to-state.js';
import { commitStaged } from '../src/state/stage-deltas.js';
import { loadScoringModel, type ScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import { createFileSource } from '../src/sources/file-source.js';
import { FlowControl } from '../src/sources/flow-control.js';
import { buildStateStore } from '../src/compose/state-store.js';
import { fixedClock } from '../src/time/clock.js';
import { ReplayClock } from '../src/time/replay-clock.js';
import { createFileSink } from '../src/sinks/file-sink.js';
import type { DeadLetterRecord, RiskEventRecord } from '../src/events/wire-types.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';
import { configSchema } from '../src/config/config-schema.js';
import { DEFAULT_EMIT_POLICY, decisionOptions, modelLoadOptions } from '../src/config/decision-options.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, type SimulatorOptions } from '../src/simulator/index.js';

/**
 * The benches' input: 2,000 customers over 90 days (BENCH_CUSTOMERS, BENCH_DAYS), ≈270k records with
 * 0.2 % bad ones, so a decode-only run takes ≈0.7 s. On the 59,816-record file used before (600 × 60)
 * it took ≈0.16 s and the features ratio moved ±15 % between runs of the same code.
 */
export function benchSimulation(): SimulatorOptions {
  return resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 2000), days: Number(process.env.BENCH_DAYS ?? 90), seed: 5, badRecords: { rate: 0.002 } });
}

export interface BenchInput {
  /** Every record, in the simulator's order. */
  readonly file: string;
  readonly records: number;
  /** With `shards` > 0: the same records split by customer (a hash of customer_id), each shard in input order. */
  readonly shards: readonly { readonly file: string; readonly records: number }[];
}

/**
 * Writes the simulated input as NDJSON into `dir`, and with `shards` > 0 also split by customer. A
 * line that does not parse (a bad record) goes to the first shard.
 */
export function writeBenchInput(sim: SimulatorOptions, dir: string, shards = 0): BenchInput {
  // The lines go out of scope once written. Kept, they were ≈70 MB of old generation the engine's
  // garbage collections marked on every run, which no user's replay carries.
  const lines = [...simulate(sim)].map(recordToNdjson);
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const parts = Array.from({ length: shards }, (): string[] => []);
  for (const line of lines) {
    if (shards === 0) break;
    let customer = '';
    try {
      customer = String((JSON.parse(line) as { customer_id?: unknown }).customer_id ?? '');
    } catch {
      // a bad record: shard 0
    }
    let h = 0;
    for (let i = 0; i < customer.length; i++) h = (Math.imul(h, 31) + customer.charCodeAt(i)) >>> 0;
    parts[h % shards]!.push(line);
  }
  return {
    file,
    records: lines.length,
    shards: parts.map((part, i) => {
      const shard = join(dir, `shard-${i}.ndjson`);
      writeFileSync(shard, `${part.join('\n')}\n`);
      return { file: shard, records: part.length };
    }),
  };
}

/** A pipeline over one input file; `outDir` takes the files a replay writes. */
export type PipelineRun = (file: string, outDir: string) => Promise<void>;

export interface PipelineScenarios {
  readonly decode: PipelineRun;
  readonly featuresFullPass: PipelineRun;
  readonly features: PipelineRun;
  readonly full: PipelineRun;
  readonly replayNoReasons: PipelineRun;
  readonly replay: PipelineRun;
  /** The shipped config's reasons (top K) that `replay` computes. */
  readonly reasonsTopK: number;
  /** The micro-batch of the features and full scenarios. */
  readonly batchSize: number;
  close(): Promise<void>;
}

/**
 * Builds the scenarios for input simulated up to `endTime` (the validation clock's "now"), with the
 * bundled model loaded once and the shipped config's reasons.
 */
export async function pipelineScenarios(endTime: number): Promise<PipelineScenarios> {
  const clock = fixedClock(endTime);
  const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
  // The same spec with every feature row computed by a full pass over the customer's buckets (the path
  // before incremental window totals, and their reference): same values, measured beside them.
  const fullPassSpec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000, windowTotals: 'full-pass' });
  // `churnflow replay` as shipped: the default config's reasons (top 3, published events at or above the
  // threshold only) and the model loaded to explain them. Every store is built as the commands build
  // theirs (buildStateStore: the shipped byte budget per customer and content-duplicate horizon); until
  // session 23 the benches' stores had no budget, so the budget's estimate was not timed.
  const shipped = configSchema.parse({});
  const model: ScoringModel = await loadScoringModel(BUNDLED_MODEL, spec, modelLoadOptions(shipped));
  const codec = new ActivityCodec();
  const discard = <T>(): RecordSink<T> => ({ name: 'discard', write: async () => {}, flush: async () => {}, close: async () => {} });
  const batch = { maxSize: 512, maxWaitMs: 20 };

  const decode: PipelineRun = async (file) => {
    const flow = new FlowControl(1 << 30);
    await lastValueFrom(createFileSource(file, clock).records(flow).pipe(decodeRecords(codec), count()));
  };

  const features =
    (compiled: CompiledSpec): PipelineRun =>
    async (file) => {
      const flow = new FlowControl(4096);
      const store = buildStateStore(shipped, compiled, { kind: 'memory' });
      await lastValueFrom(
        createFileSource(file, clock).records(flow).pipe(
          decodeRecords(codec),
          validateEvents(DEFAULT_VALIDATION_RULES, clock),
          routeLateEvents({ allowedLatenessMs: 3_600_000 }),
          microBatch(batch),
          // Stage and write the state (as the topology does around scoring), so each batch sees the state before it.
          concatMap(async (items) => {
            const b = await aggregateBatch(items, store, compiled);
            await commitStaged(store, b.staged);
            return b;
          }),
          tap((b) => flow.release(b.items.length)),
          count(),
        ),
      );
    };

  const full: PipelineRun = async (file) => {
    await lastValueFrom(
      churnScoringTopology(
        { source: createFileSource(file, clock), decoder: codec, rules: DEFAULT_VALIDATION_RULES, store: buildStateStore(shipped, spec, { kind: 'memory' }), spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock },
        { allowedLatenessMs: 3_600_000, batch, maxInFlight: 4096, risk: DEFAULT_EMIT_POLICY },
      ).pipe(count()),
    );
  };

  // `churnflow replay`'s configuration: replay clock, processing time from the input, NDJSON file sinks,
  // batches of 1024; with the shipped reasons or none.
  const replay =
    (withReasons: boolean): PipelineRun =>
    async (file, outDir) => {
      const replayClock = new ReplayClock();
      const risk = createFileSink<RiskEventRecord>(join(outDir, 'risk.ndjson'), 'risk-event');
      const dead = createFileSink<DeadLetterRecord>(join(outDir, 'dead.ndjson'), 'dead-letter');
      await lastValueFrom(
        churnScoringTopology(
          { source: createFileSource(file, replayClock), decoder: replayClock.tracking(codec), rules: DEFAULT_VALIDATION_RULES, store: buildStateStore(shipped, spec, { kind: 'memory' }), spec, model: () => model, sinks: { risk, deadLetter: dead, late: dead }, clock: replayClock, validationClock: clock },
          {
            allowedLatenessMs: 3_600_000,
            batch: { maxSize: 1024, maxWaitMs: 20 },
            maxInFlight: 4096,
            risk: DEFAULT_EMIT_POLICY,
            processingTime: 'received',
            ...(withReasons ? { decision: decisionOptions(shipped) } : {}),
          },
        ).pipe(count()),
      );
      await risk.close();
      await dead.close();
    };

  return {
    decode,
    featuresFullPass: features(fullPassSpec),
    features: features(spec),
    full,
    replayNoReasons: replay(false),
    replay: replay(true),
    reasonsTopK: shipped.model.reasons.topK,
    batchSize: batch.maxSize,
    close: () => model.close(),
  };
}
