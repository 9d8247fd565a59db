// The `produced` step of an event's path in isolation: one batch's risk events and their current-risk
// records written and acknowledged (acks=all, idempotent producer, one request in flight), as two
// writes issued together (the sinks alone: two produce requests one after the other) against one
// joint write (sinks/joint-kafka-sink.ts: one request). Alternated write by write on the same
// producer, so both sides see the same machine load; the wall time per write is the latency the step
// adds to every risk event. Needs the services: `npm run services -- start all` first.
import { type RecordEncoder } from '../src/serde/record-encoder.js';
import { jointKafkaSink } from '../src/sinks/joint-kafka-sink.js';
import { createKafkaSink, KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { writeResults } from './harness.js';
import { benchKafka } from './kafka-admin.js';
import { percentile } from './latency-phase.js';

const WRITES = Number(process.env.BENCH_WRITES ?? 400);
/** Risk events per batch: about what a 10 ms tick at 2,000 events/s yields in the kafka-e2e bench's warm phase. */
const PER_BATCH = Number(process.env.BENCH_BATCH ?? 4);
const { admin } = await benchKafka('risk-outputs');
const base = uniqueName('bench-outputs');
const topics = { risk: `${base}.risk`, current: `${base}.current` };
await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });

interface Risk {
  readonly id: string;
  readonly customer: string;
}
/** Bytes of about a risk event's size (≈400 B with reasons) and a current-risk record's (≈80 B); the encoding is not what is timed. */
const encoder = (size: number): RecordEncoder<Risk> => ({ prepare: async () => {}, encode: (r) => Buffer.from(`${r.id}${'.'.repeat(size)}`) });
const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-outputs' });
const risk = createKafkaSink<Risk>(pool, { topic: topics.risk, encoder: encoder(400), key: (r) => r.customer });
const current = createKafkaSink<Risk>(pool, { topic: topics.current, encoder: encoder(80), key: (r) => r.customer });
const joint = jointKafkaSink(pool, risk, current, (r) => r);
/** What write-outputs did before the pairing: both writes issued at once, resolved when both are acknowledged. */
const separate: RecordSink<Risk> = { name: 'separate', write: async (rs) => void (await Promise.all([risk.write(rs), current.write(rs)])), flush: async () => {}, close: async () => {} };

let n = 0;
const batch = (): Risk[] => Array.from({ length: PER_BATCH }, () => ({ id: `r${n++}`, customer: `c${n % 997}` }));
const timeWrite = async (sink: RecordSink<Risk>): Promise<number> => {
  const rs = batch();
  const t0 = performance.now();
  await sink.write(rs);
  return performance.now() - t0;
};
for (let i = 0; i < 20; i++) await timeWrite(i % 2 ? joint : separate); // connections, metadata, producer id
const times = { separate: [] as number[], joint: [] as number[] };
const cpu0 = process.cpuUsage();
for (let i = 0; i < WRITES; i++) {
  // Alternated (and the order flipped every other pair), so drifts in machine load hit both sides alike.
  const first = i % 2 === 0 ? 'separate' : 'joint';
  const second = first === 'separate' ? 'joint' : 'separate';
  times[first].push(await timeWrite(first === 'separate' ? separate : joint));
  times[second].push(await timeWrite(second === 'separate' ? separate : joint));
}
const cpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;
const p = (xs: number[], q: number) => Number(percentile(xs, q).toFixed(3));
console.log(`risk events and current risk, ${PER_BATCH} records a write, ${WRITES} writes each, alternated (load average ${(await import('node:os')).loadavg()[0]!.toFixed(2)})`);
for (const k of ['separate', 'joint'] as const) console.log(`  ${k.padEnd(9)} p50 ${p(times[k], 50)} ms   p90 ${p(times[k], 90)} ms   p99 ${p(times[k], 99)} ms`);
console.log(`  joint / separate at p50: ${(percentile(times.joint, 50) / percentile(times.separate, 50)).toFixed(3)} (bench process CPU ${cpuMs.toFixed(0)} ms)`);
await pool.close();
await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
await admin.disconnect();
await writeResults('risk-outputs', {
  writes: WRITES,
  records_per_write: PER_BATCH,
  separate_p50_ms: p(times.separate, 50),
  separate_p99_ms: p(times.separate, 99),
  joint_p50_ms: p(times.joint, 50),
  joint_p99_ms: p(times.joint, 99),
});
