// Embedded pipeline throughput: file → decode → validate → event time → aggregate (memory store) →
// features → ONNX score → decide → sinks, against decode-only on the same file, measured in the same
// run. Scenarios run interleaved (each round runs every scenario once, after a warm-up round) so load
// from other work on a shared machine falls on all of them alike; each run is timed in wall time and
// in CPU time of this process (onnxruntime's threads included).
//
// BENCH_ONLY=features (or a comma-separated list of scenario keys: decode, features_full_pass,
// features, full, replay_no_reasons, replay) runs only those, e.g. under `node --cpu-prof`; the results
// file is then left alone, since its ratios need every scenario of one run.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulationEndTime } from '../src/simulator/index.js';
import { collectGarbage, median, perSecond, report, writeResults, type Measurement } from './harness.js';
import { benchSimulation, pipelineScenarios, writeBenchInput, type PipelineRun } from './pipeline-scenarios.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const sim = benchSimulation();
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-'));
const { file, records: N } = writeBenchInput(sim, dir);
const pipelines = await pipelineScenarios(simulationEndTime(sim));

const scenarios: readonly (readonly [key: string, name: string, run: PipelineRun])[] = [
  ['decode', 'decode only (file → ActivityEvent)', pipelines.decode],
  ['features_full_pass', 'decode → validate → aggregate → features (full-pass windows)', pipelines.featuresFullPass],
  ['features', 'decode → validate → aggregate → features', pipelines.features],
  ['full', 'full pipeline (… → ONNX score → risk events, no reasons)', pipelines.full],
  ['replay_no_reasons', 'replay, no reasons (… → risk-events.ndjson, dead letters)', pipelines.replayNoReasons],
  ['replay', `replay as shipped (reasons top ${pipelines.reasonsTopK}, published ≥ threshold)`, pipelines.replay],
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
    await run(file, dir);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (round < 0) continue; // warm-up
    wallMs[s]!.push(wall);
    cpuMs[s]!.push((c.user + c.system) / 1000);
  }
}
await pipelines.close();

const measured: Measurement[] = chosen.map(([, name], s) => ({ name, items: N, runsMs: wallMs[s]! }));
const byKey = new Map(chosen.map(([key], s) => [key, { wall: measured[s]!, cpuUsPerEvent: (median(cpuMs[s]!) * 1000) / N }]));
const load = loadavg()[0]!.toFixed(2);
report(`pipeline throughput: ${N.toLocaleString('en-US')} records (${sim.customers} customers × ${sim.days} days), batch ${pipelines.batchSize}, ${RUNS} interleaved rounds, load average ${load}`, measured, measured[0]!, 'event');
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
