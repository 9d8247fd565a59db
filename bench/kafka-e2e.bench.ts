// Production path end to end on this machine (broker, registry and Redis on the same 2 cores):
// Kafka → decode (registry) → Redis state → features → ONNX → Kafka, against raw kafkajs consume-only
// on the same broker and topic in the same run; then event-to-risk-event latency at a fixed offered
// load below saturation. The engine runs the shipped configuration, deploy/churnflow.yaml, with the
// differences printed at the end (shipped-config.ts), so the figure is the one users get.
// Needs the services: `npm run services -- start all` first.
import { createEngine } from '../src/engine.js';
import { productionEdges } from '../src/engine-production.js';
import { createLogger } from '../src/observability/logger.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import { produceActivity } from '../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { type Measurement, median, perSecond, report, writeResults } from './harness.js';
import { breakdown, latencyPhase, PATH, percentile, printPhase, simulatedEvents, warmEvents, type LatencyPhaseResult } from './latency-phase.js';
import { benchKafka, rawConsume } from './kafka-admin.js';
import { shippedConfig, shippedConfigDifferences } from './shipped-config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const { kafka, admin } = await benchKafka('kafka-e2e');

const base = uniqueName('bench');
const topics = { activity: `${base}.activity`, risk: `${base}.risk`, dead: `${base}.dead`, drift: `${base}.drift`, shadow: `${base}.shadow` };
await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });

const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-producer' });
const codec = new ActivityCodec();
// A realistic size (BENCH_CUSTOMERS, BENCH_DAYS): 2,000 customers over 90 days, ≈300k events, a run of
// several seconds. The 27k-event topic used before (400 × 45) was consumed in ≈0.7 s, where start-up
// and the last write-behind weighed on the figure and the raw consume baseline (≈0.1 s) moved 2× from
// run to run.
const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 2000), days: Number(process.env.BENCH_DAYS ?? 90), seed: 12 });
const produced = await produceActivity(simulate(sim), { pool, topic: topics.activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec), codec });
const N = produced.events;
const logger = createLogger({ level: 'warn' });

function engineConfig(groupId: string, activity: string, risk: string) {
  return shippedConfig({
    groupId,
    topics: { activity, risk, deadLetter: topics.dead, drift: topics.drift, shadow: topics.shadow },
    redisKeyPrefix: `${uniqueName('b')}:`,
  });
}

const consumeOnly = async (): Promise<number> => (await rawConsume(kafka, topics.activity, N)).ms;

/** Start-up (model load, group join) happens before the clock starts; the run ends when the last batch is acknowledged. */
async function fullPipeline(): Promise<number> {
  const engine = await createEngine(engineConfig(uniqueName('eng'), topics.activity, topics.risk), { logger, factories: productionEdges() });
  let applied = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let elapsed = 0;
  await engine.run((batch) => {
    applied += batch.items.length;
    if (applied >= N && elapsed === 0) {
      elapsed = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      engineCpuMs.push((cpu.user + cpu.system) / 1000);
      engine.app.stop('bench: all records processed');
    }
  });
  return elapsed;
}
/**
 * CPU time of the engine's process (all its threads: JS, ONNX, GC, libuv) per full run. On a machine
 * shared with the broker, Redis and other work, wall-clock throughput says more about the neighbours
 * than about the engine; events per CPU-second is what a core given to one instance sustains.
 */
const engineCpuMs: number[] = [];

const raw = await measureRuns('raw kafkajs consume-only (same topic)', consumeOnly);
const full = await measureRuns('Kafka → registry decode → Redis → features → ONNX → Kafka', fullPipeline);
report(`production path, shipped configuration: ${N.toLocaleString('en-US')} events on a 3-partition topic (${sim.customers} customers × ${sim.days} days)`, [raw, full], raw, 'event');
const eventsPerCpuSecond = Math.round(N / (median(engineCpuMs) / 1000));
console.log(`  engine CPU (user + system, all threads): median ${median(engineCpuMs).toFixed(0)} ms per run → ${eventsPerCpuSecond.toLocaleString('en-US')} events per CPU-second`);

// Latency at a fixed offered load, in the shipped configuration (the one whose maximum was just
// measured), at half that maximum (the operating point: headroom for bursts) unless BENCH_RATE
// fixes it, so runs on faster or slower code are each measured at their own half-load. Two phases,
// each with its own engine and topics (bench/latency-phase.ts), each event followed stage by stage:
// - warm customers, the steady state users get (a campaign engine's customers are mostly known): the
//   customers' history is consumed before the clock starts, then their next events are offered;
//   p50_ms / p99_ms are this phase's event → risk event figures;
// - new customers, the burst: 2,000 customers never seen, whose first events all publish with reasons.
// Timed as latency are the events that yield a risk event, from their send to their risk event read back.
const rate = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : Math.max(100, Math.round(perSecond(full) / 2));
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const total = rate * seconds;
const phase = { admin, registry, codec, pool, logger, engineConfig, rate };
// Both phases' events are built inside the phase and dropped before the clock starts (latency-phase.ts says why).
const warm = await latencyPhase({ ...phase, title: 'warm customers (2,000 customers: their history consumed before the clock, then their next events)', events: () => warmEvents(codec, total) });
printPhase(warm);
const burst = await latencyPhase({ ...phase, title: 'new customers (2,000 never seen: every first event publishes with reasons)', events: () => ({ prelude: [], live: simulatedEvents(codec, 2000, 30, 13).slice(0, total) }) });
printPhase(burst);
console.log('\n  the engines ran deploy/churnflow.yaml except:');
for (const d of shippedConfigDifferences()) console.log(`    - ${d}`);
await pool.close();
await registry.close();
await admin.deleteTopics({ topics: [...Object.values(topics), ...warm.topics, ...burst.topics] }).catch(() => {});
await admin.disconnect();
const riskLatency = (r: LatencyPhaseResult, p: number) => Number(percentile(r.risky.map((x) => x[PATH.indexOf('read')]!), p).toFixed(2));
/** Per stage of the path: p50/p99 of the step from the previous point, over the events that yielded a risk event. */
const stageFigures = (prefix: string, r: LatencyPhaseResult) =>
  Object.fromEntries(
    breakdown(r.risky, PATH).flatMap((b) => [
      [`${prefix}_${b.point}_step_p50_ms`, Number(b.step[0].toFixed(2))],
      [`${prefix}_${b.point}_step_p99_ms`, Number(b.step[1].toFixed(2))],
    ]),
  );
await writeResults('kafka-e2e', {
  runs: RUNS,
  events: N,
  e2e_events_per_s: Math.round(perSecond(full)),
  raw_consume_events_per_s: Math.round(perSecond(raw)),
  e2e_vs_raw_consume: Number((perSecond(full) / perSecond(raw)).toFixed(4)),
  // docs/capacity.md (bench/capacity.ts) plans instances from CPU time, not wall clock.
  full_events_per_s: Math.round(perSecond(full)),
  full_events_per_cpu_second: eventsPerCpuSecond,
  load_events_per_s: Math.round(warm.loadRate),
  load_share_of_max: Number((warm.loadRate / perSecond(full)).toFixed(3)),
  // p50_ms / p99_ms: warm customers (the steady state), event sent → its risk event read back.
  latency_events_timed: warm.risky.length,
  p50_ms: riskLatency(warm, 50),
  p99_ms: riskLatency(warm, 99),
  warm_p50_ms: riskLatency(warm, 50),
  warm_p90_ms: riskLatency(warm, 90),
  warm_p99_ms: riskLatency(warm, 99),
  // The new-customer burst (the figure this bench reported before the split).
  new_customers_load_events_per_s: Math.round(burst.loadRate),
  new_customers_events_timed: burst.risky.length,
  new_customers_p50_ms: riskLatency(burst, 50),
  new_customers_p90_ms: riskLatency(burst, 90),
  new_customers_p99_ms: riskLatency(burst, 99),
  ...stageFigures('warm', warm),
  ...stageFigures('new_customers', burst),
});
process.exit(0);

async function measureRuns(name: string, fn: () => Promise<number>): Promise<Measurement> {
  const runsMs: number[] = [];
  for (let i = 0; i < RUNS; i++) runsMs.push(await fn());
  return { name, items: N, runsMs };
}
