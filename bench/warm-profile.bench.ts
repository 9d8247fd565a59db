// The warm phase of bench/kafka-e2e alone, at a fixed offered rate, with a CPU profile of the live
// window (prelude excluded) tabulated by area: where a warm customer's event goes in the production
// engine (the shipped configuration, Redis, Kafka). BENCH_RATE (default 8000, saturating on the shared
// 2-core machine), BENCH_SECONDS (15), BENCH_PROFILE=0 to time without the profiler; the profile is
// written to bench/results/warm-profile.cpuprofile. Needs the services: `npm run services -- start all`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createLogger } from '../src/observability/logger.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { writeResults } from './harness.js';
import { printProfileAreas } from './cpu-profile-areas.js';
import { breakdown, latencyPhase, PATH, printPhase, warmEvents } from './latency-phase.js';
import { benchKafka } from './kafka-admin.js';
import { shippedConfig } from './shipped-config.js';

const rate = Number(process.env.BENCH_RATE ?? 8000);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const profile = process.env.BENCH_PROFILE !== '0';
const total = rate * seconds;
const { admin } = await benchKafka('warm-profile');
const base = uniqueName('bench');
const side = { dead: `${base}.dead`, drift: `${base}.drift`, shadow: `${base}.shadow` };
await admin.createTopics({ waitForLeaders: true, topics: Object.values(side).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });
const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-producer' });
const codec = new ActivityCodec();
const logger = createLogger({ level: 'warn' });
const engineConfig = (groupId: string, activity: string, risk: string) =>
  shippedConfig({ groupId, topics: { activity, risk, deadLetter: side.dead, drift: side.drift, shadow: side.shadow }, redisKeyPrefix: `${uniqueName('b')}:` });
// The same warm events as kafka-e2e, built inside the phase.
const warm = await latencyPhase({
  admin, registry, codec, pool, logger, engineConfig, rate, profile,
  title: 'warm customers (2,000 customers: their history consumed before the clock, then their next events)',
  events: () => warmEvents(codec, total),
});
printPhase(warm);
console.log(`  bench process CPU over the live window: ${((warm.cpuMs * 1000) / warm.offered).toFixed(1)} µs per offered event`);
if (warm.profile) {
  printProfileAreas(warm.profile, warm.offered);
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('warm-profile.cpuprofile', dir), JSON.stringify(warm.profile));
}
await pool.close();
await registry.close();
await admin.deleteTopics({ topics: [...Object.values(side), ...warm.topics] }).catch(() => {});
await admin.disconnect();
const steps = Object.fromEntries(breakdown(warm.risky, PATH).map((b) => [`${b.point}_step_p50_ms`, Number(b.step[0].toFixed(2))]));
await writeResults('warm-profile', { rate, seconds, profiled: profile ? 1 : 0, offered: warm.offered, load_events_per_s: Math.round(warm.loadRate), bench_cpu_ms_per_s: Math.round(warm.engineCpuMsPerS), bench_cpu_us_per_event: Number(((warm.cpuMs * 1000) / warm.offered).toFixed(1)), ...steps });
process.exit(0);
