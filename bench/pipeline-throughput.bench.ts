// Embedded pipeline throughput: file → decode → validate → event time → aggregate (memory store) →
// features → ONNX score → decide → (discarding) sinks, against decode-only on the same file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, lastValueFrom, tap } from 'rxjs';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { aggregateBatch } from '../src/operators/apply-to-state.js';
import { commitStaged } from '../src/state/stage-deltas.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import { resolveSimulatorOptions, simulate, simulationEndTime, recordToNdjson } from '../src/simulator/index.js';
import { createFileSource } from '../src/sources/file-source.js';
import { FlowControl } from '../src/sources/flow-control.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import { fixedClock } from '../src/time/clock.js';
import { concatMap } from 'rxjs';
import { measure, perSecond, report, writeResults } from './harness.js';
import { ReplayClock } from '../src/time/replay-clock.js';
import { createFileSink } from '../src/sinks/file-sink.js';
import type { DeadLetterRecord, RiskEventRecord } from '../src/events/wire-types.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';
import { DEFAULT_EMIT_POLICY } from '../src/config/decision-options.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const sim = resolveSimulatorOptions({ customers: 600, days: 60, seed: 5, badRecords: { rate: 0.002 } });
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-'));
const file = join(dir, 'events.ndjson');
const lines = [...simulate(sim)].map(recordToNdjson);
writeFileSync(file, `${lines.join('\n')}\n`);
const N = lines.length;
const clock = fixedClock(simulationEndTime(sim));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
// The same spec with every feature row computed by a full pass over the customer's buckets (the path
// before incremental window totals, and their reference): same values, measured beside them.
const fullPassSpec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000, windowTotals: 'full-pass' });
const model = await loadScoringModel(BUNDLED_MODEL, spec);
const codec = new ActivityCodec();
const discard = <T>(): RecordSink<T> => ({ name: 'discard', write: async () => {}, flush: async () => {}, close: async () => {} });
const batch = { maxSize: 512, maxWaitMs: 20 };

const decodeOnly = await measure('decode only (file → ActivityEvent)', N, RUNS, async () => {
  const flow = new FlowControl(1 << 30);
  await lastValueFrom(createFileSource(file, clock).records(flow).pipe(decodeRecords(codec), count()));
});

const features = (name: string, compiled: typeof spec) =>
  measure(name, N, RUNS, async () => {
    const flow = new FlowControl(4096);
    const store = new MemoryStateStore({ layout: compiled.layout });
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
  });
const toFeaturesFullPass = await features('decode → validate → aggregate → features (full-pass windows)', fullPassSpec);
const toFeatures = await features('decode → validate → aggregate → features', spec);

const full = await measure('full pipeline (… → ONNX score → risk events)', N, RUNS, async () => {
  await lastValueFrom(
    churnScoringTopology(
      { source: createFileSource(file, clock), decoder: codec, rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock },
      { allowedLatenessMs: 3_600_000, batch, maxInFlight: 4096, risk: DEFAULT_EMIT_POLICY },
    ).pipe(count()),
  );
});

// `churnflow replay`'s configuration: replay clock, processing time from the input, NDJSON file sinks.
const replay = await measure('replay (… → risk-events.ndjson, dead letters)', N, RUNS, async () => {
  const replayClock = new ReplayClock();
  const risk = createFileSink<RiskEventRecord>(join(dir, 'risk.ndjson'), 'risk-event');
  const dead = createFileSink<DeadLetterRecord>(join(dir, 'dead.ndjson'), 'dead-letter');
  await lastValueFrom(
    churnScoringTopology(
      { source: createFileSource(file, replayClock), decoder: replayClock.tracking(codec), rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, model: () => model, sinks: { risk, deadLetter: dead, late: dead }, clock: replayClock, validationClock: clock },
      { allowedLatenessMs: 3_600_000, batch: { maxSize: 1024, maxWaitMs: 20 }, maxInFlight: 4096, risk: DEFAULT_EMIT_POLICY, processingTime: 'received' },
    ).pipe(count()),
  );
  await risk.close();
  await dead.close();
});

await model.close();
report(`pipeline throughput: ${N.toLocaleString('en-US')} records (${sim.customers} customers × ${sim.days} days), batch ${batch.maxSize}`, [decodeOnly, toFeaturesFullPass, toFeatures, full, replay], decodeOnly, 'event');
await writeResults('pipeline-throughput', {
  records: N,
  decode_events_per_s: Math.round(perSecond(decodeOnly)),
  features_events_per_s: Math.round(perSecond(toFeatures)),
  features_full_pass_events_per_s: Math.round(perSecond(toFeaturesFullPass)),
  features_vs_full_pass: perSecond(toFeatures) / perSecond(toFeaturesFullPass),
  full_events_per_s: Math.round(perSecond(full)),
  replay_events_per_s: Math.round(perSecond(replay)),
  features_vs_decode: perSecond(toFeatures) / perSecond(decodeOnly),
  features_full_pass_vs_decode: perSecond(toFeaturesFullPass) / perSecond(decodeOnly),
  full_vs_decode: perSecond(full) / perSecond(decodeOnly),
  replay_vs_decode: perSecond(replay) / perSecond(decodeOnly),
});
