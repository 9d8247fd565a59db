// /healthz latency while `churnflow run` consumes ~100k events (Kafka → Redis → Kafka on this
// machine): a probe hits /healthz every 20 ms from this process; a long synchronous stretch on the
// engine's event loop shows up as a slow probe. Baseline: the same probe against the idle engine
// (caught up) in the same run. Needs the services: `npm run services -- start all` first.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import { produceActivity } from '../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { benchKafka } from './kafka-admin.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 750);
/** engine.batch.maxSize of the engine under test (default: the config default). */
const BATCH = process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined;
const { kafka, admin } = await benchKafka('healthz-under-load');

const base = uniqueName('bench');
const topics = { activity: `${base}.activity`, risk: `${base}.risk`, dead: `${base}.dead`, drift: `${base}.drift` };
await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });
const registry = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-bench-producer' });
const codec = new ActivityCodec();
const produced = await produceActivity(simulate(resolveSimulatorOptions({ customers: CUSTOMERS, days: 90, seed: 12 })), {
  pool,
  topic: topics.activity,
  format: 'confluent-avro',
  encoder: activityEventEncoder({ registry, topic: topics.activity, autoRegister: true }, codec),
  codec,
});
await pool.close();
await registry.close();

const groupId = uniqueName('bench-group');
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-'));
const configFile = join(dir, 'churnflow.yaml');
writeFileSync(
  configFile,
  YAML.stringify({
    source: { kind: 'kafka' },
    kafka: { brokers: [...SERVICES.kafkaBrokers], groupId, topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.dead, drift: topics.drift } },
    schemaRegistry: { url: SERVICES.schemaRegistryUrl },
    state: { kind: 'redis', redis: { url: SERVICES.redisUrl, keyPrefix: `${uniqueName('b')}:` } },
    http: { port: 0 },
    log: { level: 'info' },
    ...(BATCH ? { engine: { batch: { maxSize: BATCH }, maxInFlight: Math.max(4 * BATCH, 2048) } } : {}),
  }),
);
// BENCH_ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the engine to find the long stretches.
const nodeArgs = (process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const child = spawn(process.execPath, [...nodeArgs, 'bin/churnflow.js', 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
let logs = '';
child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
child.stderr.on('data', (d: Buffer) => (logs += d.toString()));

let url: string | undefined;
while (!(url = /"http":"(http:\/\/[^"]+)"/.exec(logs)?.[1])) {
  if (child.exitCode !== null) throw new Error(`engine exited:\n${logs}`);
  await new Promise((r) => setTimeout(r, 20));
}

async function committed(): Promise<number> {
  const c = await admin.fetchOffsets({ groupId, topics: [topics.activity] });
  return (c[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** Probes /healthz every 20 ms until `done()`; returns each probe's latency in ms. */
async function probe(done: () => boolean): Promise<number[]> {
  const out: number[] = [];
  while (!done()) {
    const t0 = performance.now();
    try {
      await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    } catch {
      // A timed-out probe counts with its full wait.
    }
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

const total = produced.events + produced.invalid;
let caughtUp = false;
const started = performance.now();
const watcher = (async () => {
  while ((await committed()) < total) await new Promise((r) => setTimeout(r, 200));
  caughtUp = true;
})();
const busy = await probe(() => caughtUp);
await watcher;
const seconds = (performance.now() - started) / 1000;
let idleDone = false;
setTimeout(() => (idleDone = true), 3000);
const idle = await probe(() => idleDone);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
await admin.disconnect();

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const row = (name: string, xs: number[]) =>
  console.log(`  ${name.padEnd(34)} ${String(xs.length).padStart(7)} ${pct(xs, 0.5).toFixed(1).padStart(8)} ${pct(xs, 0.99).toFixed(1).padStart(8)} ${Math.max(...xs).toFixed(1).padStart(8)} ${String(xs.filter((x) => x > 100).length).padStart(8)}`);
console.log(`\n/healthz probe latency, ms (engine.batch.maxSize ${BATCH ?? 'default'}; ${total} events consumed in ${seconds.toFixed(1)} s, ${(total / seconds).toFixed(0)} events/s)`);
console.log(`  ${'engine'.padEnd(34)} ${'probes'.padStart(7)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'>100ms'.padStart(8)}`);
row('busy (consuming)', busy);
row('idle (caught up, baseline)', idle);
console.log(`  busy p99 / idle p99: ${(pct(busy, 0.99) / pct(idle, 0.99)).toFixed(1)}×`);
