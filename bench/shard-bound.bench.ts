// What sharding the stateful stages by customer across worker threads could give on this machine, an
// upper bound measured with the project's own pipelines: the bench's input split by customer into
// BENCH_SHARDS files (default 2, the machine's cores), each run by the unchanged `features` or `replay`
// scenario (pipeline-scenarios.ts) in a worker thread of its own, all at once; the wall time until the
// last shard is done, against the same scenario on the whole file on one thread and against decode
// only, in the same rounds (interleaved, after a warm-up round).
//
// Not a product mode (the engine runs one thread of stateful stages; `churnflow replay --workers N`,
// measured by replay-workers.bench.ts, is the product form for file replays). It is an upper bound
// because each shard keeps its own event-time frontier and lateness (a sharded engine needs one for
// the whole input), the shards' outputs are not merged back into input order, and each worker reads
// and decodes only its own file (the replay's workers each decode the whole input). It answers
// whether the missed throughput targets of issue 14 can be reached by parallel stateful stages at all
// (docs/architecture.md, "Performance notes", session 22).
import { mkdtempSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { simulationEndTime } from '../src/simulator/index.js';
import { collectGarbage, perSecond, report, writeResults, type Measurement } from './harness.js';
import { benchSimulation, pipelineScenarios, writeBenchInput } from './pipeline-scenarios.js';
import type { ShardJob, ShardScenario } from './shard-bound-worker.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SHARDS = Number(process.env.BENCH_SHARDS ?? Math.max(2, availableParallelism()));
if (!Number.isInteger(SHARDS) || SHARDS < 1) throw new Error(`BENCH_SHARDS must be a positive integer, got ${process.env.BENCH_SHARDS}`);

const sim = benchSimulation();
const dir = mkdtempSync(join(tmpdir(), 'cf-shards-'));
const input = writeBenchInput(sim, dir, SHARDS);
const N = input.records;
const endTime = simulationEndTime(sim);
const pipelines = await pipelineScenarios(endTime);

const workers = await Promise.all(
  input.shards.map(
    () =>
      new Promise<Worker>((resolve, reject) => {
        const w = new Worker(new URL('./shard-bound-worker.js', import.meta.url), { workerData: { endTime } });
        w.once('message', () => resolve(w));
        w.once('error', reject);
      }),
  ),
);
const onShard = (w: Worker, job: ShardJob) =>
  new Promise<number>((resolve, reject) => {
    w.once('message', (m: { ms: number }) => resolve(m.ms));
    w.once('error', reject);
    w.postMessage(job);
  });
const sharded = async (scenario: ShardScenario): Promise<void> => {
  await Promise.all(
    workers.map((w, i) => {
      const outDir = join(dir, `out-${i}`);
      mkdirSync(outDir, { recursive: true });
      return onShard(w, { scenario, file: input.shards[i]!.file, outDir });
    }),
  );
};

const scenarios: readonly (readonly [key: string, name: string, run: () => Promise<void>])[] = [
  ['decode', 'decode only (file → ActivityEvent), one thread', () => pipelines.decode(input.file, dir)],
  ['features', 'decode → validate → aggregate → features, one thread', () => pipelines.features(input.file, dir)],
  ['features_sharded', `the same, ${SHARDS} customer shards on ${SHARDS} threads`, () => sharded('features')],
  ['replay', `replay as shipped (reasons top ${pipelines.reasonsTopK}), one thread of stages`, () => pipelines.replay(input.file, dir)],
  ['replay_sharded', `the same, ${SHARDS} customer shards on ${SHARDS} threads`, () => sharded('replay')],
];
const wallMs = scenarios.map((): number[] => []);
for (let round = -1; round < RUNS; round++) {
  for (const [s, [, , run]] of scenarios.entries()) {
    collectGarbage(); // untimed, as in pipeline-throughput
    const t0 = performance.now();
    await run();
    if (round >= 0) wallMs[s]!.push(performance.now() - t0);
  }
}
for (const w of workers) w.postMessage('close');
await pipelines.close();

const measured: Measurement[] = scenarios.map(([, name], s) => ({ name, items: N, runsMs: wallMs[s]! }));
const rate = (key: string) => perSecond(measured[scenarios.findIndex(([k]) => k === key)]!);
report(
  `shard bound: ${N.toLocaleString('en-US')} records (${sim.customers} customers × ${sim.days} days) in ${SHARDS} shards of ${input.shards.map((s) => s.records.toLocaleString('en-US')).join(' / ')}, ${RUNS} interleaved rounds, load average ${loadavg()[0]!.toFixed(2)}`,
  measured,
  measured[0]!,
  'event',
);
console.log(`  sharded ÷ one thread: features ${(rate('features_sharded') / rate('features')).toFixed(2)}×, replay ${(rate('replay_sharded') / rate('replay')).toFixed(2)}×`);
console.log('  an upper bound, not a product mode: per-shard event time, outputs not merged (see the header of bench/shard-bound.bench.ts)');
await writeResults('shard-bound', {
  runs: RUNS,
  records: N,
  shards: SHARDS,
  decode_events_per_s: Math.round(rate('decode')),
  features_events_per_s: Math.round(rate('features')),
  features_sharded_upper_bound_events_per_s: Math.round(rate('features_sharded')),
  replay_events_per_s: Math.round(rate('replay')),
  replay_sharded_upper_bound_events_per_s: Math.round(rate('replay_sharded')),
  features_vs_decode: rate('features') / rate('decode'),
  features_sharded_upper_bound_vs_decode: rate('features_sharded') / rate('decode'),
  replay_vs_decode: rate('replay') / rate('decode'),
  replay_sharded_upper_bound_vs_decode: rate('replay_sharded') / rate('decode'),
});
process.exit(0);
