// CPU per event of `churnflow run` in the shipped configuration (deploy/churnflow.yaml: Redis with
// the hot cache, reasons top 3, Kafka sinks) on a larger topic than kafka-e2e's: 2,000 customers ×
// 90 days by default (BENCH_CUSTOMERS, BENCH_DAYS), 3 partitions. Per run: raw kafkajs consume of
// the same topic (the baseline, same run), then the engine from a fresh group to the last batch
// acknowledged. Reports wall-clock events/s, engine CPU per event (process.cpuUsage: every thread),
// the micro-batch size histogram, and with BENCH_PROFILE=1 a CPU profile of the last engine run
// (node:inspector, main thread) tabulated by area (cpu-profile-areas.ts), written to
// bench/results/engine-cpu.cpuprofile. BENCH_TOPIC reuses a topic produced by an earlier run
// (BENCH_KEEP=1 keeps it); BENCH_PROFILE_TAG names the profile file (engine-cpu-<tag>.cpuprofile). Needs the services: `npm run services -- start all`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Session } from 'node:inspector/promises';
import { createEngine } from '../src/engine.js';
import { productionEdges } from '../src/engine-production.js';
import { createLogger } from '../src/observability/logger.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import { produceActivity } from '../src/sinks/activity-producer.js';
import { loadConfig } from '../src/config/load-config.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { printProfileAreas, type CpuProfile } from './cpu-profile-areas.js';
import { median, writeResults } from './harness.js';
import { benchKafka, rawConsume } from './kafka-admin.js';
import { benchBatchOverride, shippedConfig, SHIPPED_CONFIG_FILE } from './shipped-config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PROFILE = process.env.BENCH_PROFILE === '1';
// BENCH_HEAP=1: a sampling heap profile of the last engine run instead (where the bytes the GC collects are allocated).
const HEAP = process.env.BENCH_HEAP === '1';
const { kafka, admin } = await benchKafka('engine-cpu');
const base = uniqueName('ecpu');
const side = { risk: `${base}.risk`, dead: `${base}.dead`, drift: `${base}.drift`, shadow: `${base}.shadow` };
let activity = process.env.BENCH_TOPIC;
let N: number;
if (activity) {
  const offsets = await admin.fetchTopicOffsets(activity);
  N = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
} else {
  activity = `${base}.activity`;
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: activity, numPartitions: 3, replicationFactor: 1 }] });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-producer' });
  const codec = new ActivityCodec();
  const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 2000), days: Number(process.env.BENCH_DAYS ?? 90), seed: 21 });
  N = (await produceActivity(simulate(sim), { pool, topic: activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic: activity, autoRegister: true }, codec), codec })).events;
  await pool.close();
  await registry.close();
  console.log(`produced ${N.toLocaleString('en-US')} events to ${activity} (${sim.customers} customers × ${sim.days} days)`);
}
await admin.createTopics({ waitForLeaders: true, topics: Object.values(side).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });
const logger = createLogger({ level: 'warn' });

interface EngineRun {
  ms: number;
  cpuMs: number;
  batches: number[];
  profile?: CpuProfile;
  heap?: unknown;
}

async function engineRun(profile: boolean, heap = false): Promise<EngineRun> {
  const config = shippedConfig({ groupId: uniqueName('eng'), topics: { activity: activity!, risk: side.risk, deadLetter: side.dead, drift: side.drift, shadow: side.shadow }, redisKeyPrefix: `${uniqueName('ec')}:` });
  const engine = await createEngine(config, { logger, factories: productionEdges() });
  const session = profile || heap ? new Session() : undefined;
  if (session) session.connect();
  if (session && profile) {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
    await session.post('Profiler.start');
  }
  // Every allocation counted (not only what survives): the GC's work is the bytes allocated.
  if (session && heap) await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const batches: number[] = [];
  let applied = 0;
  let ms = 0;
  let cpuMs = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  // The main thread's utilisation over the run: what is not busy waited for I/O or for a worker thread.
  const elu0 = performance.eventLoopUtilization();
  let elu = 0;
  await engine.run((batch) => {
    batches.push(batch.items.length);
    applied += batch.items.length;
    if (applied >= N && ms === 0) {
      ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpuMs = (c.user + c.system) / 1000;
      elu = performance.eventLoopUtilization(elu0).utilization;
      engine.app.stop('bench: all records processed');
    }
  });
  // Where the wall time of the run went, from the engine's own histograms (seconds summed over batches).
  const sumOf = async (h: { get(): Promise<{ values: { metricName?: string; value: number }[] }> }) => (await h.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const countOf = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
  const m = engine.metrics;
  console.log(
    `  run: ${(ms / 1000).toFixed(1)} s wall, ${(cpuMs / 1000).toFixed(1)} s CPU, main thread busy ${(100 * elu).toFixed(1)} %; in batches ${(await sumOf(m.batchSeconds)).toFixed(1)} s (state ${(await sumOf(m.stateApplySeconds)).toFixed(1)} s, scoring ${(await sumOf(m.scoringSeconds)).toFixed(1)} s); cache hits ${await countOf(m.stateCacheHits)}, misses ${await countOf(m.stateCacheMisses)}; retries ${await countOf(m.batchRetries)}`,
  );
  let prof: CpuProfile | undefined;
  let heapProfile: unknown;
  if (session && profile) prof = (await session.post('Profiler.stop')).profile as unknown as CpuProfile;
  if (session && heap) heapProfile = (await session.post('HeapProfiler.stopSampling')).profile;
  session?.disconnect();
  return { ms, cpuMs, batches, ...(prof ? { profile: prof } : {}), ...(heapProfile ? { heap: heapProfile } : {}) };
}

const raw: { ms: number; cpuMs: number }[] = [];
const full: EngineRun[] = [];
for (let i = 0; i < RUNS; i++) {
  // Interleaved, so a neighbour's burst hits both sides alike.
  raw.push(await rawConsume(kafka, activity!, N));
  full.push(await engineRun(PROFILE && i === RUNS - 1, HEAP && i === RUNS - 1));
}
const rawPerS = N / (median(raw.map((r) => r.ms)) / 1000);
const fullPerS = N / (median(full.map((r) => r.ms)) / 1000);
const cpuPerEventUs = (median(full.map((r) => r.cpuMs)) * 1000) / N;
const load = loadavg()[0]!;
console.log(`\nchurnflow run, shipped configuration: ${N.toLocaleString('en-US')} events on 3 partitions, ${RUNS} runs (load average ${load.toFixed(2)})`);
console.log(`  ${'scenario'.padEnd(40)} ${'median ms'.padStart(10)} ${'events/s'.padStart(10)} ${'CPU µs/event'.padStart(13)} ${'vs raw'.padStart(8)}`);
console.log(`  ${'raw kafkajs consume (same topic)'.padEnd(40)} ${median(raw.map((r) => r.ms)).toFixed(0).padStart(10)} ${Math.round(rawPerS).toLocaleString('en-US').padStart(10)} ${((median(raw.map((r) => r.cpuMs)) * 1000) / N).toFixed(1).padStart(13)} ${'1.000×'.padStart(8)}`);
console.log(`  ${'churnflow run (engine)'.padEnd(40)} ${median(full.map((r) => r.ms)).toFixed(0).padStart(10)} ${Math.round(fullPerS).toLocaleString('en-US').padStart(10)} ${cpuPerEventUs.toFixed(1).padStart(13)} ${`${(fullPerS / rawPerS).toFixed(3)}×`.padStart(8)}`);
const sizes = full.flatMap((r) => r.batches);
// Bins up to the batch size the engine ran with (a full batch is the last bin): fixed bins that
// stopped at 512 showed every batch of the shipped 8,192 outside the table.
const maxSize = benchBatchOverride()?.maxSize ?? loadConfig({ file: SHIPPED_CONFIG_FILE, env: {} }).engine.batch.maxSize;
const edges = [...[1, 8, 32, 128, 512, 2048].filter((e) => e < maxSize - 1), maxSize - 1, maxSize];
console.log(`  micro-batches: ${sizes.length / RUNS} per run, median ${median(sizes)} records; histogram (records ≤ edge):`);
let prev = 0;
for (const e of edges) {
  const n = sizes.filter((s) => s > prev && s <= e).length;
  console.log(`    ${`${prev + 1}–${e}`.padStart(9)}: ${String(n).padStart(6)} batches, ${sizes.filter((s) => s > prev && s <= e).reduce((a, b) => a + b, 0).toLocaleString('en-US').padStart(9)} records`);
  prev = e;
}
const last = full[full.length - 1]!;
if (last.profile) {
  printProfileAreas(last.profile, N);
  const name = `engine-cpu${process.env.BENCH_PROFILE_TAG ? `-${process.env.BENCH_PROFILE_TAG}` : ''}.cpuprofile`;
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(name, dir), JSON.stringify(last.profile));
  console.log(`  profile written to bench/results/${name}`);
}
if (last.heap) {
  const name = `engine-cpu${process.env.BENCH_PROFILE_TAG ? `-${process.env.BENCH_PROFILE_TAG}` : ''}.heapprofile`;
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(name, dir), JSON.stringify(last.heap));
  console.log(`  heap profile written to bench/results/${name}`);
}
await writeResults('engine-cpu', {
  runs: RUNS,
  events: N,
  raw_consume_events_per_s: Math.round(rawPerS),
  full_events_per_s: Math.round(fullPerS),
  full_vs_raw_consume: Number((fullPerS / rawPerS).toFixed(4)),
  full_cpu_us_per_event: Number(cpuPerEventUs.toFixed(1)),
  full_events_per_cpu_second: Math.round(1e6 / cpuPerEventUs),
  median_batch_records: median(sizes),
});
const toDelete = [...Object.values(side), ...(process.env.BENCH_TOPIC || process.env.BENCH_KEEP === '1' ? [] : [activity])];
if (process.env.BENCH_KEEP === '1' && !process.env.BENCH_TOPIC) console.log(`  kept ${activity}: BENCH_TOPIC=${activity} reuses it`);
await admin.deleteTopics({ topics: toDelete }).catch(() => {});
await admin.disconnect();
process.exit(0);
