// The drift monitor's midnight sample at scale: the old way (load every customer's state, then keep a
// hash-picked share) against the new one (enumerate ids only, keep this instance's customers within
// the rate and the cap, then load only those in chunks), on BENCH_CUSTOMERS customers (default 100,000)
// in Redis with realistic states (copies of simulated 90-day customers). The per-customer costs and
// heap sizes measured here are extrapolated to 10M customers and 1, 3 and 12 instances.
// Needs Redis at CHURNFLOW_REDIS_URL (default redis://127.0.0.1:16390; exits 2 without it); everything
// it writes is under a fresh prefix and removed at the end.
//   npm run services -- start redis && npm run bench -- drift-sample
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { errorMessage } from '../src/errors.js';
import type { ActivityEvent } from '../src/events/activity-event.js';
import { compileSpec } from '../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../src/features/default-churn-spec.js';
import { fnv1a, observationSample } from '../src/monitoring/drift/observation-sample.js';
import { SampleSelection } from '../src/monitoring/drift/sample-selection.js';
import { takeMidnightSample } from '../src/operators/monitor-drift.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import { keyPartition } from '../src/sources/kafka/customer-ownership.js';
import type { CustomerState } from '../src/state/customer-state.js';
import { RedisStateStore } from '../src/state/redis-store.js';
import { measure, median, microsPerItem, report, writeResults, type Measurement } from './harness.js';
import { benchRedis } from './bench-redis.js';

const url = process.env.CHURNFLOW_REDIS_URL ?? 'redis://127.0.0.1:16390';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const TEMPLATES = 200;
const RATE = 0.1;
const CAP = 50_000;
const PARTITIONS = 24;
const INSTANCES_MEASURED = 3;
const TOPIC = 'churnflow.activity';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const client = await benchRedis('drift-sample', url);

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const base = `cf-bench-drift-${Date.now().toString(36)}-${process.pid}:`;
const templatePrefix = `${base}t:`;
const prefix = `${base}c:`;

async function unlink(p: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
}

try {
  // ------------------------------------------------------------ realistic states, copied to CUSTOMERS keys
  const sim = resolveSimulatorOptions({ customers: TEMPLATES, days: 90, seed: 5 });
  const templates = new RedisStateStore({ redis: client, keyPrefix: templatePrefix, layout: spec.layout });
  const offsets = new Map<string, number>();
  let batch = [];
  for (const r of simulate(sim)) {
    if (r.type !== 'event') continue;
    const e = r.event;
    const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
    const offset = offsets.get('p') ?? 0;
    offsets.set('p', offset + 1);
    batch.push(spec.deltaFor(event, { stream: 'p', offset }));
    if (batch.length === 512) {
      await templates.apply(batch);
      batch = [];
    }
  }
  if (batch.length) await templates.apply(batch);
  // As bytes: the state field is binary.
  const templateHashes: Record<string, Buffer>[] = [];
  for await (const ids of templates.scanIds(1000)) {
    const p = client.pipeline();
    for (const id of ids) p.hgetallBuffer(`${templatePrefix}{c:${id}}`);
    for (const [, h] of (await p.exec()) ?? []) templateHashes.push(h as Record<string, Buffer>);
  }
  const t0 = performance.now();
  for (let i = 0; i < CUSTOMERS; i += 1000) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(CUSTOMERS, i + 1000); j++) p.hset(`${prefix}{c:cust-${j}}`, templateHashes[j % templateHashes.length]!);
    await p.exec();
  }
  const usage = (await Promise.all(Array.from({ length: 50 }, (_, i) => client.memory('USAGE', `${prefix}{c:cust-${i}}`, 'SAMPLES', '0')))).map(Number);
  console.log(`\nloaded ${CUSTOMERS.toLocaleString('en-US')} customers (copies of ${templateHashes.length} simulated 90-day customers, ≈${Math.round(median(usage))} B each in Redis) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const store = new RedisStateStore({ redis: client, keyPrefix: prefix, layout: spec.layout });
  const asOf = simulationEndTime(sim);
  const owns = (id: string) => keyPartition(TOPIC, id, PARTITIONS) % INSTANCES_MEASURED === 0; // one instance of 3 over 24 partitions

  // ------------------------------------------------------------ the old sample: every state loaded
  let oldRows = 0;
  const old = await measure(`old: load all ${CUSTOMERS.toLocaleString('en-US')} states, keep ${RATE * 100} %`, CUSTOMERS, RUNS, async () => {
    const states: CustomerState[] = [];
    for await (const page of store.scan(1000)) states.push(...page);
    oldRows = observationSample(spec, states, asOf, { sampleRate: RATE }).rows.length;
  }, 0); // no warm-up: a run reads every state, the scans below warm the same paths
  // Heap the old way holds at its peak: every decoded state at once.
  const h0 = heapAfterGc();
  const held: CustomerState[] = [];
  for await (const page of store.scan(1000)) held.push(...page);
  const heapPerState = (heapAfterGc() - h0) / held.length;
  held.length = 0;

  // ------------------------------------------------------------ the new sample, step by step
  let enumerated = 0;
  const enumerate = await measure('ids only (SCAN, no state read)', CUSTOMERS, RUNS, async () => {
    enumerated = 0;
    for await (const ids of store.scanIds(1000, { unique: false })) enumerated += ids.length;
  });
  let selected = 0;
  const select = await measure(`ids + pick (rate ${RATE}, 1 instance of ${INSTANCES_MEASURED}, cap ${CAP.toLocaleString('en-US')})`, CUSTOMERS, RUNS, async () => {
    const s = new SampleSelection({ rate: RATE, maxCustomers: CAP, owns });
    for await (const ids of store.scanIds(1000, { unique: false })) s.offer(ids);
    selected = s.ids().length;
  });
  let newRows = 0;
  const full = await measure('new: ids + pick + chunked loads + rows', CUSTOMERS, RUNS, async () => {
    newRows = (await takeMidnightSample(store, spec, asOf, { rate: RATE, bounds: { owns, maxCustomers: CAP } })).rows.length;
  });
  // Load + row cost per sampled customer, measured on its own over a fixed 10 % of the ids.
  const loadIds = Array.from({ length: CUSTOMERS }, (_, i) => `cust-${i}`).filter((id) => fnv1a(id) / 2 ** 32 < RATE);
  const load = await measure(`state load + row, chunks of 500 (${loadIds.length.toLocaleString('en-US')} customers)`, loadIds.length, RUNS, async () => {
    for (let i = 0; i < loadIds.length; i += 500) {
      const states = (await store.get(loadIds.slice(i, i + 500))).filter((s): s is CustomerState => s !== null);
      observationSample(spec, states, asOf);
    }
  });
  // Heap the new way holds: the selection at its largest (2 × cap ids) and the rows of a full sample.
  const h1 = heapAfterGc();
  const big = new SampleSelection({ rate: 1, maxCustomers: CAP });
  big.offer(Array.from({ length: 2 * CAP - 1 }, (_, i) => `cust-${i}`));
  const heapPerKeptId = (heapAfterGc() - h1) / (2 * CAP - 1);
  const h2 = heapAfterGc();
  const rowsHeld = await takeMidnightSample(store, spec, asOf, { rate: 1, bounds: { maxCustomers: 20_000 } });
  const heapPerRow = (heapAfterGc() - h2) / rowsHeld.rows.length;
  void big;
  void rowsHeld;

  report(`midnight drift sample over ${CUSTOMERS.toLocaleString('en-US')} customers in Redis (items = customers in the store)`, [old, enumerate, select, full], old, 'customer');
  report('state load + feature row per sampled customer', [load], load, 'customer');
  console.log(`  old sample kept ${oldRows.toLocaleString('en-US')} rows of ${CUSTOMERS.toLocaleString('en-US')} loaded; new: ${enumerated.toLocaleString('en-US')} ids seen, ${selected.toLocaleString('en-US')} picked for this instance, ${newRows.toLocaleString('en-US')} rows`);
  console.log(`  heap: ${Math.round(heapPerState).toLocaleString('en-US')} B per decoded state (old: all held at once), ${Math.round(heapPerKeptId)} B per id kept by the selection, ${Math.round(heapPerRow)} B per sample row`);

  // ------------------------------------------------------------ extrapolation to 10M customers
  const N = 10_000_000;
  const usOld = microsPerItem(old);
  const usSelect = microsPerItem(select);
  const usLoad = microsPerItem(load);
  console.log(`\nextrapolated to ${N.toLocaleString('en-US')} customers, cap ${CAP.toLocaleString('en-US')} per instance (measured per-customer costs above; Redis and client on one shared machine)`);
  console.log(`  ${'rate'.padEnd(6)} ${'instances'.padEnd(10)} ${'old s/instance'.padStart(15)} ${'old heap GB'.padStart(12)} ${'new sampled'.padStart(12)} ${'new s/instance'.padStart(15)} ${'new heap MB'.padStart(12)}`);
  const figures: Record<string, number | string> = {
    customers_measured: CUSTOMERS,
    redis_bytes_per_customer: Math.round(median(usage)),
    old_us_per_customer: +usOld.toFixed(2),
    ids_only_us_per_customer: +microsPerItem(enumerate).toFixed(3),
    ids_and_pick_us_per_customer: +usSelect.toFixed(3),
    new_total_us_per_customer: +microsPerItem(full).toFixed(3),
    load_and_row_us_per_sampled_customer: +usLoad.toFixed(2),
    heap_bytes_per_decoded_state: Math.round(heapPerState),
    heap_bytes_per_kept_id: Math.round(heapPerKeptId),
    heap_bytes_per_row: Math.round(heapPerRow),
    old_rows: oldRows,
    new_rows_one_of_three: newRows,
  };
  for (const rate of [RATE, RATE / 10]) {
    for (const instances of [1, 3, 12]) {
      const oldS = (N * usOld) / 1e6; // every instance loads every customer, whatever the rate
      const oldGb = (N * heapPerState) / 1e9;
      const sampled = Math.min(CAP, Math.round((N * rate) / instances));
      const newS = (N * usSelect + sampled * usLoad) / 1e6;
      const newMb = (2 * Math.min(CAP, sampled) * heapPerKeptId + sampled * heapPerRow + 500 * heapPerState) / 1e6;
      console.log(`  ${String(rate).padEnd(6)} ${String(instances).padEnd(10)} ${oldS.toFixed(0).padStart(15)} ${oldGb.toFixed(1).padStart(12)} ${sampled.toLocaleString('en-US').padStart(12)} ${newS.toFixed(1).padStart(15)} ${newMb.toFixed(0).padStart(12)}`);
      const key = `at_10m_rate_${rate}_${instances}_instances`;
      figures[`${key}_old_seconds`] = Math.round(oldS);
      figures[`${key}_old_heap_gb`] = +oldGb.toFixed(1);
      figures[`${key}_new_sampled`] = sampled;
      figures[`${key}_new_seconds`] = +newS.toFixed(1);
      figures[`${key}_new_heap_mb`] = Math.round(newMb);
    }
  }
  console.log('  new: every instance still SCANs the whole keyspace (ids only); its state reads and heap are bounded by the cap, not by the customer count');
  await writeResults('drift-sample', figures);
} finally {
  await unlink(base).catch((err: unknown) => console.error(`drift-sample bench: removing ${base}* failed (${errorMessage(err)}); remove those keys by hand`));
  client.disconnect();
}
