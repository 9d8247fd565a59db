// churnflow beside a Kafka Streams peer on the same broker, topic and machine: `churnflow run` with
// the shipped configuration (Redis, with and without reasons), churnflow's aggregation alone (Redis
// and memory store), and the peer (bench/peers/kafka-streams: the same 7/30/90-day counts and sums,
// RocksDB store with changelog) at-least-once and exactly-once v2. Every scenario starts from a fresh
// consumer group and ends caught up on a ≥ 1M-event, 3-partition topic; runs are interleaved so load
// from other processes falls on every scenario alike. The peer's totals for a sample of customers are
// checked against churnflow's own feature code. Needs the services (`npm run services -- start all`),
// Java 17 and Maven (the peer's jar is built on first use). BENCH_SCENARIOS picks scenarios by their
// JSON key; BENCH_INSTANCES sets the instances leg's process count and BENCH_JOIN_AT (a fraction of the
// topic) starts one instance alone and the others once that much is applied, printing what the
// partition moves cost (batches retried, hot-cache entries dropped as fenced).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActivityEvent } from '../src/events/activity-event.js';
import { createEngine } from '../src/engine.js';
import { productionEdges } from '../src/engine-production.js';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { createLogger } from '../src/observability/logger.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import { produceActivity } from '../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import type { SimulatedRecord } from '../src/simulator/records.js';
import { streamOf } from '../src/sources/kafka/partition-watermarks.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { median, perSecond, report, writeResults, type Measurement } from './harness.js';
import { benchKafka } from './kafka-admin.js';
import { runAggregationOnly } from './peers/churnflow-aggregation.js';
import { runInstances } from './peers/churnflow-instances.js';
import { changelogTopic, ensurePeerJar, runPeer, type Guarantee, type PeerFigures } from './peers/kafka-streams-peer.js';
import { checkParity, readPeerDump } from './peers/parity.js';
import { shippedConfig, shippedConfigDifferences, type ShippedRun } from './shipped-config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// 120 days: longer than the 90-day window, so expiry runs on both sides. The default size gives ≥ 1M events.
const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 6000), days: Number(process.env.BENCH_DAYS ?? 120), seed: 21 });
const PEER_THREADS = Number(process.env.BENCH_PEER_THREADS ?? 2);
// churnflow's unit of scale-out is an instance (a process in the consumer group); this many of them
// stand beside the peer's stream threads on the same cores.
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? PEER_THREADS);
// BENCH_JOIN_AT=0.25: the instances leg starts one instance alone and the others once a quarter of
// the topic is applied (a scale-out mid-stream); default 0, all at once.
const JOIN_AT = Number(process.env.BENCH_JOIN_AT ?? 0);
// At 1 or more the group would catch up before the others start, and they would wait for a go that never comes.
if (!(JOIN_AT >= 0 && JOIN_AT < 1)) throw new RangeError(`BENCH_JOIN_AT must be a share of the topic in [0, 1), got ${process.env.BENCH_JOIN_AT}`);
const SAMPLE_CUSTOMERS = 200;

ensurePeerJar();
const { admin } = await benchKafka('peers');
const base = uniqueName('peers');
const topics: ShippedRun['topics'] = { activity: `${base}.activity`, risk: `${base}.risk`, deadLetter: `${base}.dead`, drift: `${base}.drift`, shadow: `${base}.shadow` };
await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });

// Produce once; keep the events of every k-th customer for the parity check.
const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-peers' });
const codec = new ActivityCodec();
const sampled = new Map<string, ActivityEvent[]>();
const step = Math.max(1, Math.floor(sim.customers / SAMPLE_CUSTOMERS));
let customersSeen = 0;
const seen = new Set<string>();
function* teeSample(records: Iterable<SimulatedRecord>): Iterable<SimulatedRecord> {
  for (const r of records) {
    if (r.type === 'event') {
      const e = codec.fromJsonObject(r.event);
      if (!seen.has(e.customerId)) {
        seen.add(e.customerId);
        if (customersSeen++ % step === 0) sampled.set(e.customerId, []);
      }
      sampled.get(e.customerId)?.push(e);
    }
    yield r;
  }
}
const producedAt = performance.now();
const produced = await produceActivity(teeSample(simulate(sim)), { pool, topic: topics.activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec), codec });
await pool.close();
await registry.close();
const N = produced.events;
console.log(`produced ${N.toLocaleString('en-US')} events (${sim.customers} customers × ${sim.days} days) to a 3-partition topic in ${((performance.now() - producedAt) / 1000).toFixed(1)} s`);
if (N < 1_000_000) console.log(`  note: fewer than 1M events (BENCH_CUSTOMERS/BENCH_DAYS were lowered); the default size is ≥ 1M`);

const lastOffsets = new Map((await admin.fetchTopicOffsets(topics.activity)).map((p) => [streamOf(topics.activity, p.partition), Number(p.high) - 1]));
const logger = createLogger({ level: 'warn' });
const run = (noReasons = false): ShippedRun => ({ groupId: uniqueName('peers-run'), topics, redisKeyPrefix: `${uniqueName('pr')}:`, noReasons });

/** Engine CPU (this process: the engine runs in it, the producer is done) per event, per run. */
const cpuRun: number[] = [];
const cpuNoReasons: number[] = [];
const cpuRedis: number[] = [];
const cpuMemory: number[] = [];
const cpuInstances: number[] = [];
const rebalanceCosts: { retries: number; fencedDrops: number }[] = [];

/**
 * `churnflow run` as run.ts starts it: createEngine on the config; the clock starts once the engine is
 * built and stops once the job drained after the last event: every state written (write-behind's
 * pending ones too) and every offset committed — caught up as the peer's lag 0 means it.
 */
async function churnflowRun(noReasons: boolean): Promise<number> {
  const engine = await createEngine(shippedConfig(run(noReasons)), { logger, factories: productionEdges() });
  let applied = 0;
  let elapsed = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await engine.run(
    (batch) => {
      applied += batch.items.length;
      if (applied >= N) engine.app.stop('bench: caught up');
    },
    async () => {
      elapsed = performance.now() - t0;
      const c = process.cpuUsage(c0);
      (noReasons ? cpuNoReasons : cpuRun).push((c.user + c.system) / N);
    },
  );
  return elapsed;
}

/** `churnflow run` as INSTANCES processes of one group (bench/peers/churnflow-instances.ts). */
async function churnflowInstances(): Promise<number> {
  const figures = await runInstances(run(), INSTANCES, lastOffsets, Math.round(JOIN_AT * N));
  cpuInstances.push(figures.cpuUs / N);
  rebalanceCosts.push(figures.rebalance);
  const r = figures.rebalance;
  console.log(`    ${INSTANCES} instances${JOIN_AT > 0 ? `, joining after ${Math.round(JOIN_AT * 100)} %` : ''}: ${figures.applied.toLocaleString('en-US')} records applied; batches retried ${r.retries}, cache entries dropped as fenced ${r.fencedDrops}`);
  return figures.ms;
}

async function aggregation(kind: 'redis' | 'memory'): Promise<number> {
  const base = shippedConfig(run());
  const c0 = process.cpuUsage();
  const ms = await runAggregationOnly({ ...base, state: { ...base.state, kind } }, N, logger);
  const c = process.cpuUsage(c0);
  (kind === 'redis' ? cpuRedis : cpuMemory).push((c.user + c.system) / N);
  return ms;
}

const allowedLatenessMs = shippedConfig(run()).engine.allowedLatenessMs;
const dumpDir = mkdtempSync(join(tmpdir(), 'cf-peers-'));
const peerRuns: Record<Guarantee, PeerFigures[]> = { at_least_once: [], exactly_once_v2: [] };
const peerAppIds: string[] = [];
function peer(guarantee: Guarantee, dump: boolean): number {
  const appId = uniqueName(`peer-${guarantee}`);
  peerAppIds.push(appId);
  const figures = runPeer({ topic: topics.activity, expect: N, guarantee, threads: PEER_THREADS, allowedLatenessMs, ...(dump ? { dump: join(dumpDir, `${guarantee}.ndjson`) } : {}) }, appId);
  peerRuns[guarantee].push(figures);
  return figures.caught_up_ms;
}

const scenarios: { name: string; key: string; fn: (round: number) => Promise<number> | number }[] = [
  { name: 'churnflow run, shipped config (Redis, reasons)', key: 'churnflow_run_events_per_s', fn: () => churnflowRun(false) },
  { name: 'churnflow run, shipped config without reasons', key: 'churnflow_run_no_reasons_events_per_s', fn: () => churnflowRun(true) },
  { name: `churnflow run, shipped config, ${INSTANCES} instances (one group)`, key: 'churnflow_run_instances_events_per_s', fn: () => churnflowInstances() },
  { name: 'churnflow aggregation only, Redis store', key: 'churnflow_redis_events_per_s', fn: () => aggregation('redis') },
  { name: 'churnflow aggregation only, memory store', key: 'churnflow_memory_events_per_s', fn: () => aggregation('memory') },
  { name: `Kafka Streams peer, at-least-once, ${PEER_THREADS} threads`, key: 'kafka_streams_events_per_s', fn: (round) => peer('at_least_once', round === 0) },
  { name: `Kafka Streams peer, exactly-once v2, ${PEER_THREADS} threads`, key: 'kafka_streams_eos_events_per_s', fn: (round) => peer('exactly_once_v2', round === 0) },
];
const only = process.env.BENCH_SCENARIOS?.split(',');
const chosen = only ? scenarios.filter((s) => only.includes(s.key)) : scenarios;
const measurements = new Map(chosen.map((s) => [s.key, { name: s.name, items: N, runsMs: [] as number[] } satisfies Measurement]));
for (let round = 0; round < RUNS; round++) {
  for (const s of chosen) {
    const ms = await s.fn(round);
    measurements.get(s.key)!.runsMs.push(ms);
    console.log(`  round ${round + 1}/${RUNS}: ${s.name}: ${(ms / 1000).toFixed(1)} s, ${Math.round(N / (ms / 1000)).toLocaleString('en-US')} events/s`);
  }
}

// Parity: the peer's final totals (first run of each guarantee) against churnflow's feature code.
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs });
let parityDifferences = 0;
let parityCompared = 0;
for (const guarantee of ['at_least_once', 'exactly_once_v2'] as const) {
  if (peerRuns[guarantee].length === 0) continue;
  const parity = checkParity(spec, sampled, readPeerDump(join(dumpDir, `${guarantee}.ndjson`)));
  parityDifferences += parity.differences.length;
  parityCompared += parity.compared;
  console.log(`\nparity (${guarantee}): ${parity.customers} customers × ${parity.features} count/sum window features, ${parity.compared} values compared with churnflow's compileSpec/evaluate: ${parity.differences.length} differ`);
  for (const d of parity.differences.slice(0, 10)) console.log(`  ${d}`);
}
rmSync(dumpDir, { recursive: true, force: true });
for (const [guarantee, runs] of Object.entries(peerRuns)) {
  if (runs.length === 0) continue;
  const last = runs[runs.length - 1]!;
  console.log(`peer ${guarantee}: processed the last record after ${median(runs.map((r) => r.processed_ms)).toFixed(0)} ms (median), lag 0 after ${median(runs.map((r) => r.caught_up_ms)).toFixed(0)} ms; late ${last.late}, undecodable ${last.undecodable}`);
}

const rows = [...measurements.values()];
const baseline = measurements.get('kafka_streams_events_per_s') ?? rows[0]!;
report(`fresh group → caught up, ${N.toLocaleString('en-US')} events, 3 partitions, same broker and machine`, rows, baseline, 'event');
console.log('  churnflow runs deploy/churnflow.yaml except:');
for (const d of shippedConfigDifferences({ noReasons: true })) console.log(`    - ${d}`);
const figures: Record<string, number | string> = { runs: RUNS, events: N, peer_threads: PEER_THREADS, churnflow_instances: INSTANCES, churnflow_instances_join_at: JOIN_AT, parity_values_compared: parityCompared, parity_differences: parityDifferences };
if (rebalanceCosts.length > 0) {
  figures.churnflow_instances_batch_retries = median(rebalanceCosts.map((r) => r.retries));
  figures.churnflow_instances_fenced_drops = median(rebalanceCosts.map((r) => r.fencedDrops));
}
for (const [key, runs] of [
  ['churnflow_run_cpu_us_per_event', cpuRun],
  ['churnflow_run_no_reasons_cpu_us_per_event', cpuNoReasons],
  ['churnflow_run_instances_cpu_us_per_event', cpuInstances],
  ['churnflow_redis_cpu_us_per_event', cpuRedis],
  ['churnflow_memory_cpu_us_per_event', cpuMemory],
] as const) {
  if (runs.length === 0) continue;
  figures[key] = Number(median(runs).toFixed(1));
  console.log(`  ${key.replace(/_/g, ' ')}: ${median(runs).toFixed(1)} µs (median of ${runs.length}; the engine's process, user + system)`);
}
for (const [key, m] of measurements) figures[key] = Math.round(perSecond(m));
const peerRate = measurements.get('kafka_streams_events_per_s');
if (peerRate) for (const [key, m] of measurements) if (m !== peerRate) figures[key.replace(/_events_per_s$/, '_vs_kafka_streams')] = Number((perSecond(m) / perSecond(peerRate)).toFixed(3));
await writeResults('peers', figures);
// The bench's topics and the peers' changelogs (one per application id): nothing left on the broker.
await admin.deleteTopics({ topics: [...Object.values(topics), ...peerAppIds.map(changelogTopic)] }).catch(() => {});
await admin.disconnect();
if (parityDifferences > 0) {
  console.error(`peers: the peer's totals differ from churnflow's on ${parityDifferences} values: its figures do not measure the same work`);
  process.exit(1);
}
process.exit(0);
