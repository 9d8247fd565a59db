// What persisting state to Redis costs per event, and how much larger micro-batches save: churnflow's
// aggregation alone over Kafka (bench/peers/churnflow-aggregation.ts, the peers bench's "aggregation
// only" legs) with the memory store and with the Redis store at several engine.batch.maxSize values,
// interleaved round by round on one topic (the peers bench's: 120 simulated days, 3 partitions, ≥ 1M
// events by default). Per leg: wall events/s, this process's CPU per event, Redis' own CPU per event
// (INFO cpu) and per script call (INFO commandstats), and events per state write (how much a batch
// coalesces: one write per customer per batch). Needs the services (`npm run services -- start all`).
//
//   BENCH_SIZES=512,2048,8192   the Redis legs' batch sizes (maxInFlight scaled to keep the shipped ratio)
//   BENCH_MEMORY=0              leave out the memory-store leg
//   BENCH_KEEP=1                keep the produced topic (its name is printed) for BENCH_TOPIC
//   BENCH_TOPIC=<name>          reuse a topic an earlier run kept (not deleted)
//   BENCH_CUSTOMERS, BENCH_DAYS, BENCH_RUNS as in the peers bench
import { Redis } from 'ioredis';
import { createLogger } from '../src/observability/logger.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import { produceActivity } from '../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { median, writeResults } from './harness.js';
import { benchKafka } from './kafka-admin.js';
import { runAggregationOnly } from './peers/churnflow-aggregation.js';
import { shippedConfig, type ShippedRun } from './shipped-config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZES = (process.env.BENCH_SIZES ?? '512,2048,8192').split(',').map(Number);
const WITH_MEMORY = process.env.BENCH_MEMORY !== '0';
const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 6000), days: Number(process.env.BENCH_DAYS ?? 120), seed: 21 });

const { admin } = await benchKafka('redis-coalesce');
const reused = process.env.BENCH_TOPIC;
const base = reused ? reused.replace(/\.activity$/, '') : uniqueName('coalesce');
const topics: ShippedRun['topics'] = { activity: `${base}.activity`, risk: `${base}.risk`, deadLetter: `${base}.dead`, drift: `${base}.drift`, shadow: `${base}.shadow` };
let N: number;
if (reused) {
  const offsets = await admin.fetchTopicOffsets(topics.activity);
  N = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  console.log(`reusing ${topics.activity}: ${N.toLocaleString('en-US')} events`);
} else {
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });
  const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
  const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-coalesce' });
  const codec = new ActivityCodec();
  const produced = await produceActivity(simulate(sim), { pool, topic: topics.activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec), codec });
  await pool.close();
  await registry.close();
  N = produced.events;
  console.log(`produced ${N.toLocaleString('en-US')} events (${sim.customers} customers × ${sim.days} days) to ${topics.activity} (BENCH_TOPIC=${topics.activity} reuses it)`);
}

const logger = createLogger({ level: 'warn' });
const redis = new Redis(SERVICES.redisUrl);

interface RedisCounters {
  readonly cpuS: number;
  readonly evalCalls: number;
  readonly evalUsec: number;
}
async function redisCounters(): Promise<RedisCounters> {
  const info = await redis.info('all');
  const num = (re: RegExp) => Number(re.exec(info)?.[1] ?? 0);
  return {
    cpuS: num(/used_cpu_user:([\d.]+)/) + num(/used_cpu_sys:([\d.]+)/),
    evalCalls: num(/cmdstat_evalsha:calls=(\d+)/),
    evalUsec: num(/cmdstat_evalsha:calls=\d+,usec=(\d+)/),
  };
}

interface Leg {
  readonly name: string;
  readonly key: string;
  readonly kind: 'redis' | 'memory';
  readonly maxSize: number;
}
const legs: Leg[] = [
  ...(WITH_MEMORY ? [{ name: `memory store, batch ${SIZES[0]}`, key: `memory_${SIZES[0]}`, kind: 'memory' as const, maxSize: SIZES[0]! }] : []),
  ...SIZES.map((s) => ({ name: `Redis store, batch ${s}`, key: `redis_${s}`, kind: 'redis' as const, maxSize: s })),
];
interface LegRun {
  readonly ms: number;
  readonly cpuUsPerEvent: number;
  readonly redisCpuUsPerEvent: number;
  readonly usPerCall: number;
  readonly eventsPerWrite: number;
}
const results = new Map<string, LegRun[]>(legs.map((l) => [l.key, []]));

async function runLeg(leg: Leg): Promise<LegRun> {
  const run: ShippedRun = { groupId: uniqueName('coalesce-run'), topics, redisKeyPrefix: `${uniqueName('co')}:` };
  const cfg = shippedConfig(run);
  // maxInFlight scaled with the size, keeping the shipped ratio of the two (as BENCH_BATCH_MAX_SIZE does).
  const maxInFlight = Math.max(2 * leg.maxSize, Math.round((cfg.engine.maxInFlight * leg.maxSize) / cfg.engine.batch.maxSize));
  const config = { ...cfg, state: { ...cfg.state, kind: leg.kind }, engine: { ...cfg.engine, batch: { ...cfg.engine.batch, maxSize: leg.maxSize }, maxInFlight } };
  const r0 = await redisCounters();
  const c0 = process.cpuUsage();
  const ms = await runAggregationOnly(config, N, logger);
  const c = process.cpuUsage(c0);
  const r1 = await redisCounters();
  const calls = r1.evalCalls - r0.evalCalls;
  // The run's keys: not left behind for the next leg's Redis to carry.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run.redisKeyPrefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  return {
    ms,
    cpuUsPerEvent: (c.user + c.system) / N,
    redisCpuUsPerEvent: ((r1.cpuS - r0.cpuS) * 1e6) / N,
    usPerCall: calls > 0 ? (r1.evalUsec - r0.evalUsec) / calls : 0,
    eventsPerWrite: calls > 0 ? N / calls : 0,
  };
}

for (let round = 0; round < RUNS; round++) {
  for (const leg of legs) {
    const r = await runLeg(leg);
    results.get(leg.key)!.push(r);
    console.log(
      `  round ${round + 1}/${RUNS}: ${leg.name.padEnd(26)} ${(r.ms / 1000).toFixed(1).padStart(6)} s ${Math.round(N / (r.ms / 1000)).toLocaleString('en-US').padStart(8)} events/s  engine CPU ${r.cpuUsPerEvent.toFixed(1)} µs/event  Redis CPU ${r.redisCpuUsPerEvent.toFixed(1)} µs/event, ${r.usPerCall.toFixed(1)} µs/call  ${r.eventsPerWrite.toFixed(2)} events/write`,
    );
  }
}

const figures: Record<string, number | string> = { runs: RUNS, events: N };
console.log(`\nmedians of ${RUNS} round(s), ${N.toLocaleString('en-US')} events, fresh group → caught up, aggregation only:`);
const ref = legs[0]!;
const refRate = N / (median(results.get(ref.key)!.map((r) => r.ms)) / 1000);
for (const leg of legs) {
  const rs = results.get(leg.key)!;
  const rate = N / (median(rs.map((r) => r.ms)) / 1000);
  const cpu = median(rs.map((r) => r.cpuUsPerEvent));
  const rcpu = median(rs.map((r) => r.redisCpuUsPerEvent));
  const epw = median(rs.map((r) => r.eventsPerWrite));
  console.log(`  ${leg.name.padEnd(26)} ${Math.round(rate).toLocaleString('en-US').padStart(8)} events/s (${(rate / refRate).toFixed(3)}× ${ref.name})  engine CPU ${cpu.toFixed(1)} µs/event  Redis CPU ${rcpu.toFixed(1)} µs/event  ${epw.toFixed(2)} events/write`);
  figures[`${leg.key}_events_per_s`] = Math.round(rate);
  figures[`${leg.key}_cpu_us_per_event`] = Number(cpu.toFixed(1));
  figures[`${leg.key}_redis_cpu_us_per_event`] = Number(rcpu.toFixed(1));
  if (leg.kind === 'redis') figures[`${leg.key}_events_per_write`] = Number(epw.toFixed(2));
}
await writeResults('redis-coalesce', figures);
redis.disconnect();
if (!reused && process.env.BENCH_KEEP !== '1') await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
await admin.disconnect();
process.exit(0);
