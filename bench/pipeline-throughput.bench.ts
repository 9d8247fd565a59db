// Embedded pipeline throughput: file → decode → validate → event time → aggregate (memory store) →
// features → ONNX score → decide → sinks, against decode-only on the same file, measured in the same
// run. Scenarios run interleaved (each round runs every scenario once, after a warm-up round) so load
// from other work on a shared machine falls on all of them alike; each run is timed in wall time and
// in CPU time of this process (onnxruntime's threads included).
//
// BENCH_ONLY=features (or a comma-separated list of scenario keys: decode, features_full_pass,
// features, full, replay_no_reasons, replay) runs only those, e.g. under `node --cpu-prof`; the results
// file is then left alone, since its ratios need every scenario of one run.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatMap, count, lastValueFrom, tap } from 'rxjs';
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
import { collectGarbage, median, perSecond, report, writeResults, type Measurement } from './harness.js';
import { ReplayClock } from '../src/time/replay-clock.js';
import { createFileSink } from '../src/sinks/file-sink.js';
import type { DeadLetterRecord, RiskEventRecord } from '../src/events/wire-types.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';
import { configSchema } from '../src/config/config-schema.js';
import { DEFAULT_EMIT_POLICY, decisionOptions, modelLoadOptions } from '../src/config/decision-options.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// A realistic size (BENCH_CUSTOMERS, BENCH_DAYS): 2,000 customers over 90 days, ≈260k records, so a
// decode-only run takes ≈0.7 s. On the 59,816-record file used before (600 × 60) it took ≈0.16 s and
// the features ratio moved ±15 % between runs of the same code.
const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 2000), days: Number(process.env.BENCH_DAYS ?? 90), seed: 5, badRecords: { rate: 0.002 } });
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-'));
const file = join(dir, 'events.ndjson');
let N = 0;
{
  // In a block: the lines go out of scope once written. Kept, they were ≈70 MB of old generation the
  // engine's garbage collections marked on every run, which no user's replay carries.
  const lines = [...simulate(sim)].map(recordToNdjson);
  writeFileSync(file, `${lines.join('\n')}\n`);
  N = lines.length;
}
const clock = fixedClock(simulationEndTime(sim));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
// The same spec with every feature row computed by a full pass over the customer's buckets (the path
// before incremental window totals, and their reference): same values, measured beside them.
const fullPassSpec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000, windowTotals: 'full-pass' });
// `churnflow replay` as shipped: the default config's reasons (top 3, published events at or above the
// threshold only) and the model loaded to explain them.
const shipped = configSchema.parse({});
const model = await loadScoringModel(BUNDLED_MODEL, spec, modelLoadOptions(shipped));
const codec = new ActivityCodec();
const discard = <T>(): RecordSink<T> => ({ name: 'discard', write: async () => {}, flush: async () => {}, close: async () => {} });
const batch = { maxSize: 512, maxWaitMs: 20 };

const decodeOnly = async () => {
  const flow = new FlowControl(1 << 30);
  await lastValueFrom(createFileSource(file, clock).records(flow).pipe(decodeRecords(codec), count()));
};

const features = (compiled: typeof spec) => async () => {
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
};

const full = async () => {
  await lastValueFrom(
    churnScoringTopology(
      { source: createFileSource(file, clock), decoder: codec, rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock },
      { allowedLatenessMs: 3_600_000, batch, maxInFlight: 4096, risk: DEFAULT_EMIT_POLICY },
    ).pipe(count()),
  );
};

// `churnflow replay`'s configuration: replay clock, processing time from the input, NDJSON file sinks,
// batches of 1024; with the shipped reasons or none.
const replay = (withReasons: boolean) => async () => {
  const replayClock = new ReplayClock();
  const risk = createFileSink<RiskEventRecord>(join(dir, 'risk.ndjson'), 'risk-event');
  const dead = createFileSink<DeadLetterRecord>(join(dir, 'dead.ndjson'), 'dead-letter');
  await lastValueFrom(
    churnScoringTopology(
      { source: createFileSource(file, replayClock), decoder: replayClock.tracking(codec), rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, model: () => model, sinks: { risk, deadLetter: dead, late: dead }, clock: replayClock, validationClock: clock },
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

const scenarios: readonly (readonly [key: string, name: string, run: () => Promise<void>])[] = [
  ['decode', 'decode only (file → ActivityEvent)', decodeOnly],
  ['features_full_pass', 'decode → validate → aggregate → features (full-pass windows)', features(fullPassSpec)],
  ['features', 'decode → validate → aggregate → features', features(spec)],
  ['full', 'full pipeline (… → ONNX score → risk events, no reasons)', full],
  ['replay_no_reasons', 'replay, no reasons (… → risk-events.ndjson, dead letters)', replay(false)],
  ['replay', `replay as shipped (reasons top ${shipped.model.reasons.topK}, published ≥ threshold)`, replay(true)],
];
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter((s) => s !== '');
const unknown = only?.filter((k) => !scenarios.some(([key]) => key === k)) ?? [];
if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map(([k]) => k).join(', ')}`);
const chosen = only === undefined ? scenarios : scenarios.filter(([key]) => only.includes(key));

const wallMs = chosen.map((): number[] => []);
const cpuMs = chosen.map((): number[] => []);
for (let round = -1; round < RUNS; round++) {
  for (const [s, [, , run]] of chosen.entries()) {
    collectGarbage(); // untimed: each run starts from the live heap, not the last run's garbage
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (round < 0) continue; // warm-up
    wallMs[s]!.push(wall);
    cpuMs[s]!.push((c.user + c.system) / 1000);
  }
}
await model.close();

const measured: Measurement[] = chosen.map(([, name], s) => ({ name, items: N, runsMs: wallMs[s]! }));
const byKey = new Map(chosen.map(([key], s) => [key, { wall: measured[s]!, cpuUsPerEvent: (median(cpuMs[s]!) * 1000) / N }]));
const load = loadavg()[0]!.toFixed(2);
report(`pipeline throughput: ${N.toLocaleString('en-US')} records (${sim.customers} customers × ${sim.days} days), batch ${batch.maxSize}, ${RUNS} interleaved rounds, load average ${load}`, measured, measured[0]!, 'event');
console.log(`  CPU time per event (medians): ${chosen.map(([key]) => `${key} ${byKey.get(key)!.cpuUsPerEvent.toFixed(2)} µs`).join(', ')}`);
const cpuBase = byKey.get(chosen[0]![0])!.cpuUsPerEvent;
console.log(`  in CPU time against ${chosen[0]![0]}: ${chosen.map(([key]) => `${key} ${(cpuBase / byKey.get(key)!.cpuUsPerEvent).toFixed(3)}×`).join(', ')}`);

if (only !== undefined) {
  console.log('  BENCH_ONLY: bench/results/pipeline-throughput.json left unchanged (its ratios need every scenario of one run)');
} else {
  const rate = (key: string) => perSecond(byKey.get(key)!.wall);
  const cpu = (key: string) => Number(byKey.get(key)!.cpuUsPerEvent.toFixed(2));
  const decode = rate('decode');
  await writeResults('pipeline-throughput', {
    records: N,
    decode_events_per_s: Math.round(decode),
    features_events_per_s: Math.round(rate('features')),
    features_full_pass_events_per_s: Math.round(rate('features_full_pass')),
    full_events_per_s: Math.round(rate('full')),
    // replay_events_per_s is `churnflow replay` as shipped, the same run as replay_with_reasons_events_per_s.
    replay_events_per_s: Math.round(rate('replay')),
    replay_with_reasons_events_per_s: Math.round(rate('replay')),
    replay_no_reasons_events_per_s: Math.round(rate('replay_no_reasons')),
    features_vs_decode: rate('features') / decode,
    features_full_pass_vs_decode: rate('features_full_pass') / decode,
    features_vs_full_pass: rate('features') / rate('features_full_pass'),
    full_vs_decode: rate('full') / decode,
    replay_vs_decode: rate('replay') / decode,
    replay_with_reasons_vs_decode: rate('replay') / decode,
    replay_no_reasons_vs_decode: rate('replay_no_reasons') / decode,
    // The same ratios in CPU time of this process: on a shared machine, wall time also counts waiting for a core.
    features_vs_decode_cpu: cpu('decode') / cpu('features'),
    replay_with_reasons_vs_decode_cpu: cpu('decode') / cpu('replay'),
    replay_no_reasons_vs_decode_cpu: cpu('decode') / cpu('replay_no_reasons'),
    decode_cpu_us_per_event: cpu('decode'),
    features_cpu_us_per_event: cpu('features'),
    full_cpu_us_per_event: cpu('full'),
    replay_no_reasons_cpu_us_per_event: cpu('replay_no_reasons'),
    replay_with_reasons_cpu_us_per_event: cpu('replay'),
  });
}
