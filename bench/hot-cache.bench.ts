// The state half of a batch on Redis, with and without the hot cache (src/state/hot-cache.ts): the same
// simulated stream (one partition, batches of 512) staged and committed through the plain Redis store
// and through the cached one, runs interleaved, each run on a fresh key prefix. Per event: wall time
// and this process's CPU (the machine is shared; CPU says more about the engine than wall time).
// Needs Redis: `npm run services -- start redis` first.
import { compileSpec } from '../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../src/features/default-churn-spec.js';
import type { ActivityEvent } from '../src/events/activity-event.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import type { StateDelta } from '../src/state/customer-state.js';
import { HotCachedStore } from '../src/state/hot-cache.js';
import { RedisStateStore } from '../src/state/redis-store.js';
import { commitStaged, stageDeltas } from '../src/state/stage-deltas.js';
import type { StateStore } from '../src/state/state-store.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import { benchRedis } from './bench-redis.js';
import { median, writeResults } from './harness.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BATCH = 512;
const admin = await benchRedis('hot-cache', SERVICES.redisUrl);
const spec = compileSpec(DEFAULT_CHURN_SPEC);
const sim = resolveSimulatorOptions({ customers: 400, days: 45, seed: 12 });
const deltas: StateDelta[] = [];
for (const r of simulate(sim)) {
  if (r.type !== 'event') continue;
  const e = r.event;
  const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
  deltas.push(spec.deltaFor(event, { stream: 'activity/0', offset: deltas.length }));
}
const N = deltas.length;

interface Run {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly hits: number;
  readonly misses: number;
}

async function oneRun(cached: boolean): Promise<Run> {
  const prefix = `${uniqueName('hc')}:`;
  const redis = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout });
  let hits = 0;
  let misses = 0;
  const store: StateStore = cached ? new HotCachedStore(redis, { maxCustomers: 50_000, maxBytes: 256 * 1024 * 1024, onHits: (n) => (hits += n), onMisses: (n) => (misses += n) }) : redis;
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i += BATCH) await commitStaged(store, await stageDeltas(store, deltas.slice(i, i + BATCH)));
    const c = process.cpuUsage(c0);
    return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, hits, misses };
  } finally {
    await store.close();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
  }
}

await oneRun(false); // warm-up: JIT, connections
await oneRun(true);
const plain: Run[] = [];
const hot: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  plain.push(await oneRun(false));
  hot.push(await oneRun(true));
}
await admin.quit();

const us = (ms: number) => (ms * 1000) / N;
const row = (name: string, runs: Run[], base: Run[]) => {
  const wall = median(runs.map((r) => r.wallMs));
  const cpu = median(runs.map((r) => r.cpuMs));
  const ratio = median(base.map((r) => r.wallMs)) / wall;
  return `  ${name.padEnd(34)} ${us(wall).toFixed(1).padStart(8)} ${us(cpu).toFixed(1).padStart(8)} ${Math.round(N / (wall / 1000)).toLocaleString('en-US').padStart(10)} ${ratio.toFixed(2).padStart(7)}×`;
};
console.log(`\nstate stage + fenced write on Redis: ${N.toLocaleString('en-US')} events, ${sim.customers} customers × ${sim.days} days, batches of ${BATCH}, medians of ${RUNS} interleaved runs`);
console.log(`  ${'scenario'.padEnd(34)} ${'wall µs'.padStart(8)} ${'CPU µs'.padStart(8)} ${'events/s'.padStart(10)} ${'vs plain'.padStart(8)}`);
console.log(row('Redis store (load + write)', plain, plain));
console.log(row('Redis store + hot cache', hot, plain));
const reads = median(hot.map((r) => r.hits));
const loads = median(hot.map((r) => r.hits + r.misses));
console.log(`  customer loads per run: ${loads.toLocaleString('en-US')} (one per customer per batch); served by the cache: ${reads.toLocaleString('en-US')}, read from Redis: ${(loads - reads).toLocaleString('en-US')}`);
await writeResults('hot-cache', {
  runs: RUNS,
  events: N,
  plain_wall_us_per_event: Number(us(median(plain.map((r) => r.wallMs))).toFixed(2)),
  plain_cpu_us_per_event: Number(us(median(plain.map((r) => r.cpuMs))).toFixed(2)),
  cached_wall_us_per_event: Number(us(median(hot.map((r) => r.wallMs))).toFixed(2)),
  cached_cpu_us_per_event: Number(us(median(hot.map((r) => r.cpuMs))).toFixed(2)),
  cached_vs_plain_throughput: Number((median(plain.map((r) => r.wallMs)) / median(hot.map((r) => r.wallMs))).toFixed(3)),
  reads_avoided_per_run: reads,
});
process.exit(0);
