// Redis state store: apply throughput against the memory store (same simulated deltas, batches of 512,
// same run) and Redis memory per customer after 120 days (BENCH_DAYS), the binary layout beside the
// JSON hash layout it replaced (the same states written both ways in the same run), extrapolated to 10M and 100M customers.
// Starts nothing: it needs Redis at CHURNFLOW_REDIS_URL (default redis://127.0.0.1:16390), e.g.
//   npm run services -- start redis && npm run bench -- redis-state
// and exits 2 when Redis is unreachable. Everything it writes is under a fresh prefix and removed at the end.
import { availableParallelism } from 'node:os';
import { errorMessage } from '../src/errors.js';
import { DAY_MS, type ActivityEvent } from '../src/events/activity-event.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { compileSpec } from '../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../src/features/default-churn-spec.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import type { CustomerState, StateDelta } from '../src/state/customer-state.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import { RedisStateStore } from '../src/state/redis-store.js';
import { encodeLegacyHash } from '../src/state/codec/legacy-hash.js';
import type { StateStore } from '../src/state/state-store.js';
import { measure, median, report, writeResults, type Measurement } from './harness.js';
import { benchRedis } from './bench-redis.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, lastValueFrom } from 'rxjs';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { configSchema } from '../src/config/config-schema.js';
import { decisionOptions, DEFAULT_EMIT_POLICY } from '../src/config/decision-options.js';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import { recordToNdjson } from '../src/simulator/index.js';
import { createFileSource } from '../src/sources/file-source.js';
import { fixedClock } from '../src/time/clock.js';

const url = process.env.CHURNFLOW_REDIS_URL ?? 'redis://127.0.0.1:16390';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BATCH = 512;
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 300);
const DAYS = Number(process.env.BENCH_DAYS ?? 120);

// ---------------------------------------------------------------- Redis reachable?
const client = await benchRedis('redis-state', url);

// ---------------------------------------------------------------- the stream
const spec = compileSpec(DEFAULT_CHURN_SPEC);
const sim = resolveSimulatorOptions({ customers: CUSTOMERS, days: DAYS, seed: 9 });
const deltas: StateDelta[] = [];
const offsets = new Map<string, number>();
const firstSeen = new Map<string, number>();
for (const r of simulate(sim)) {
  if (r.type !== 'event') continue;
  const e: ActivityEventJson = r.event;
  const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
  let h = 0;
  for (const ch of e.customer_id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const stream = `p${h % 4}`; // customers spread over 4 partitions, as a Kafka source keyed by customer
  const offset = offsets.get(stream) ?? 0;
  offsets.set(stream, offset + 1);
  if (!firstSeen.has(e.customer_id)) firstSeen.set(e.customer_id, e.event_time);
  deltas.push(spec.deltaFor(event, { stream, offset }));
}
const batches: StateDelta[][] = [];
for (let i = 0; i < deltas.length; i += BATCH) batches.push(deltas.slice(i, i + BATCH));
const ids = [...firstSeen.keys()];
const base = `cf-bench-${Date.now().toString(36)}-${process.pid}:`;
let runNo = 0;
const redisStore = (prefix = `${base}r${runNo++}:`) => new RedisStateStore({ redis: client, keyPrefix: prefix, layout: spec.layout });
const features = (state: Readonly<CustomerState>, delta: StateDelta) => {
  spec.evaluate(state, delta.eventTime + 1);
};
const applyAll = async (store: StateStore, observe?: typeof features) => {
  for (const b of batches) await store.apply(b, observe);
};

const cfg = async (name: string) => ((await client.config('GET', name)) as string[])[1] ?? '?';

try {
  // ---------------------------------------------------------------- throughput
  const memPlain = await measure('memory store', deltas.length, RUNS, () => applyAll(new MemoryStateStore({ layout: spec.layout })));
  const memObserved = await measure('memory store + feature row per event', deltas.length, RUNS, () => applyAll(new MemoryStateStore({ layout: spec.layout }), features));
  // Redis' own time per script call (INFO commandstats; includes other clients' script calls, if any).
  const scriptStats = async () => {
    const line = (await client.info('commandstats')).split('\n').filter((l) => /^cmdstat_eval(sha)?:/.test(l));
    let calls = 0;
    let usec = 0;
    for (const l of line) {
      calls += Number(/calls=(\d+)/.exec(l)?.[1] ?? 0);
      usec += Number(/usec=(\d+)/.exec(l)?.[1] ?? 0);
    }
    return { calls, usec };
  };
  const serverSide = async (fn: () => Promise<Measurement>) => {
    const before = await scriptStats();
    const m = await fn();
    const after = await scriptStats();
    const calls = after.calls - before.calls;
    return { m, usPerCall: calls > 0 ? (after.usec - before.usec) / calls : NaN, serverMsPerRun: (after.usec - before.usec) / 1000 / (RUNS + 1) };
  };
  const plain = await serverSide(() => measure('redis store (no observer: no pre-image)', deltas.length, RUNS, () => applyAll(redisStore())));
  const observed = await serverSide(() => measure('redis store + feature row per event', deltas.length, RUNS, () => applyAll(redisStore(), features)));
  const redisPlain = plain.m;
  const redisObserved = observed.m;
  report(
    `state apply: ${deltas.length.toLocaleString('en-US')} deltas of ${ids.length} customers × ${DAYS} days, batches of ${BATCH} (${batches.length} batches, ~${Math.round(median(batches.map((b) => new Set(b.map((d) => d.customerId)).size)))} customers each), Redis at ${url}`,
    [memPlain, memObserved, redisPlain, redisObserved],
    memPlain,
    'delta',
  );
  const rate = (m: Measurement) => m.items / (median(m.runsMs) / 1000);
  console.log(`  redis vs memory, both with the observer (the engine's path): ${(rate(redisObserved) / rate(memObserved)).toFixed(3)}×; one batch = one pipelined round trip, ${(median(redisObserved.runsMs) / batches.length).toFixed(2)} ms median per batch`);
  console.log(`  inside Redis (commandstats): ${plain.usPerCall.toFixed(1)} µs per script call without pre-image, ${observed.usPerCall.toFixed(1)} µs with; ${Math.round(observed.serverMsPerRun)} ms of a run's ${Math.round(median(redisObserved.runsMs))} ms`);
  const persistence = await client.info('persistence');
  const aof = /aof_enabled:(\d)/.exec(persistence)?.[1] === '1';
  console.log(`  Redis persistence: ${aof ? `AOF on, appendfsync ${await cfg('appendfsync')} (an fsync per batch is part of every Redis row)` : 'AOF off'}; client and Redis share this machine's ${availableParallelism()} cores`);

  // ---------------------------------------------------------------- memory per customer
  const end = simulationEndTime(sim);
  const tenured = new Set(ids.filter((id) => firstSeen.get(id)! <= sim.startTime + DAY_MS));
  const usageOf = async (prefix: string) => {
    const keys = ids.map((id) => `${prefix}{c:${id}}`);
    const p = client.pipeline();
    for (const k of keys) p.memory('USAGE', k, 'SAMPLES', '0');
    for (const k of keys) p.object('ENCODING', k);
    const res = (await p.exec()) ?? [];
    const usage = res.slice(0, keys.length).map(([, v]) => Number(v));
    const enc = new Map<string, number>();
    for (const [, v] of res.slice(keys.length)) enc.set(String(v), (enc.get(String(v)) ?? 0) + 1);
    return { usage, tenuredUsage: usage.filter((_, i) => tenured.has(ids[i]!)), encodings: [...enc].map(([e, n]) => `${e} ${n}`).join(', ') };
  };
  const summary = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { mean: Math.round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)), median: Math.round(median(s)), p90: s[Math.floor(s.length * 0.9)] ?? 0 };
  };
  const listpackValue = await cfg('hash-max-listpack-value');
  const listpackEntries = await cfg('hash-max-listpack-entries');

  const rows: { name: string; all: ReturnType<typeof summary>; ten: ReturnType<typeof summary>; encodings: string }[] = [];
  const layoutRow = async (name: string, prefix: string) => {
    const u = await usageOf(prefix);
    rows.push({ name, all: summary(u.usage), ten: summary(u.tenuredUsage), encodings: u.encodings });
  };

  await applyAll(redisStore(`${base}m1:`));
  await layoutRow(`store layout, server config (hash-max-listpack-value ${listpackValue})`, `${base}m1:`);
  let listpackNote = '';
  if (Number(listpackValue) < 1024) {
    try {
      await client.config('SET', 'hash-max-listpack-value', '1024');
      try {
        await applyAll(redisStore(`${base}m2:`));
      } finally {
        await client.config('SET', 'hash-max-listpack-value', listpackValue);
      }
      await layoutRow('store layout, hash-max-listpack-value 1024', `${base}m2:`);
    } catch (err) {
      listpackNote = `  (listpack variant skipped: CONFIG SET refused: ${errorMessage(err)})`;
    }
  }
  // Alternatives, written straight from the memory store's final states (no Lua involved).
  const mem = new MemoryStateStore({ layout: spec.layout });
  await applyAll(mem);
  const states = (await mem.get(ids)).filter((s): s is CustomerState => s !== null);
  const alt = client.pipeline();
  for (const s of states) {
    alt.set(`${base}a1:{c:${s.customerId}}`, JSON.stringify(s));
    const fields: Record<string, string> = { m: String(s.maxEventTime), p: JSON.stringify(s.positions), a: JSON.stringify(s.archive) };
    for (const [day, bucket] of Object.entries(s.buckets)) fields[`b:${day}`] = JSON.stringify(bucket);
    alt.hset(`${base}a2:{c:${s.customerId}}`, fields);
  }
  await alt.exec();
  await layoutRow('alt: one JSON string per customer', `${base}a1:`);
  await layoutRow(`alt: hash of buckets, slot ids not aliased (listpack-value ${listpackValue})`, `${base}a2:`);

  // The engine's path: the scoring topology on the Redis store with the bundled model and the default
  // config's decision options (reasons for events at or above the threshold), so each customer also
  // carries what the engine stores beside its windows: last score, recent event ids, outbox.
  const file = join(mkdtempSync(join(tmpdir(), 'cf-bench-')), 'events.ndjson');
  writeFileSync(file, `${[...simulate(sim)].map(recordToNdjson).join('\n')}\n`);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  const discard = <T>(): RecordSink<T> => ({ name: 'discard', write: async () => {}, flush: async () => {}, close: async () => {} });
  const clock = fixedClock(simulationEndTime(sim));
  const engineRun = async (prefix: string) => {
    await lastValueFrom(
      churnScoringTopology(
        { source: createFileSource(file, clock), decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store: redisStore(prefix), spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock },
        { allowedLatenessMs: 3_600_000, batch: { maxSize: BATCH, maxWaitMs: 20 }, maxInFlight: 4 * BATCH, risk: DEFAULT_EMIT_POLICY, decision: decisionOptions(configSchema.parse({})) },
      ).pipe(count()),
    );
  };
  let engineRunNo = 0;
  // Redis' own time for the engine's commands (INFO commandstats, before and after): a shard is one
  // thread, so this bounds the customer writes per second one shard can take.
  const commandStats = async () => {
    const out = new Map<string, { calls: number; usec: number }>();
    for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
    return out;
  };
  const statsBefore = await commandStats();
  const enginePath = await measure('engine path: topology on Redis (state + decisions), bundled model', deltas.length, RUNS, () => engineRun(`${base}e${engineRunNo++}:`));
  const statsAfter = await commandStats();
  const delta = (cmd: string) => ({ calls: (statsAfter.get(cmd)?.calls ?? 0) - (statsBefore.get(cmd)?.calls ?? 0), usec: (statsAfter.get(cmd)?.usec ?? 0) - (statsBefore.get(cmd)?.usec ?? 0) });
  const writes = delta('evalsha');
  const reads = delta('hgetall');
  // One customer write = its HGETALL at load + its EVALSHA commit (reads of customers not written are counted in too).
  const redisUsecPerCustomerWrite = writes.calls > 0 ? (writes.usec + reads.usec) / writes.calls : Number.NaN;
  await model.close();
  await layoutRow(`engine path: windows + last score + recent ids + outbox`, `${base}e0:`);
  // The same states in the JSON hash layout the binary one replaced (what an older engine wrote).
  const engineStates = (await redisStore(`${base}e0:`).get(ids)).filter((st): st is CustomerState => st !== null);
  const oldLayout = client.pipeline();
  for (const st of engineStates) oldLayout.hset(`${base}j:{c:${st.customerId}}`, { ...encodeLegacyHash(st), v: '1' });
  await oldLayout.exec();
  await layoutRow('old layout (JSON hash, before the binary format), same states', `${base}j:`);
  const parts = client.pipeline();
  for (const id of ids) parts.hgetallBuffer(`${base}e0:{c:${id}}`);
  const hashes = ((await parts.exec()) ?? []).map(([, v]) => Object.entries(v as Record<string, Buffer>));
  const fieldBytes = (match: (field: string) => boolean) => hashes.map((h) => h.filter(([f]) => match(f)).reduce((n, [f, v]) => n + f.length + v.length, 0));
  const outboxSizes = fieldBytes((f) => f.startsWith('o:'));
  const outboxBytes = median(outboxSizes);
  const stateFieldBytes = median(fieldBytes((f) => /^b\d*$/.test(f)));
  const withOutbox = outboxSizes.filter((v) => v > 0).length;
  // What the engine's keys cost Redis as a whole (used_memory: allocator bytes, with the main dict,
  // key objects and allocator size classes that MEMORY USAGE leaves out): the drop when they are deleted.
  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1]);
  const usedBefore = await usedMemory();
  const dropped = client.pipeline();
  for (const id of ids) dropped.del(`${base}e0:{c:${id}}`);
  await dropped.exec();
  const usedMemoryPerCustomer = Math.round((usedBefore - (await usedMemory())) / ids.length);
  report(`engine path vs state apply alone (same deltas, Redis)`, [redisObserved, enginePath], redisObserved, 'event');

  console.log(`\nredis memory per customer after ${DAYS} simulated days (MEMORY USAGE ... SAMPLES 0, bytes; key + value + dict entry)`);
  console.log(`  server: hash-max-listpack-entries ${listpackEntries}, hash-max-listpack-value ${listpackValue}; ${ids.length} customers, ${tenured.size} of them present from day 0`);
  console.log(`  ${'layout'.padEnd(66)} ${'mean'.padStart(6)} ${'median'.padStart(7)} ${'p90'.padStart(6)}  ${'tenured mean'.padStart(12)} ${'median'.padStart(7)}  encodings`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(66)} ${String(r.all.mean).padStart(6)} ${String(r.all.median).padStart(7)} ${String(r.all.p90).padStart(6)}  ${String(r.ten.mean).padStart(12)} ${String(r.ten.median).padStart(7)}  ${r.encodings}`);
  }
  if (listpackNote) console.log(listpackNote);
  console.log(`  engine path, Redis time per customer write (HGETALL + EVALSHA, INFO commandstats): ${redisUsecPerCustomerWrite.toFixed(1)} µs over ${writes.calls} writes, ${(deltas.length * (RUNS + 1) / writes.calls).toFixed(1)} events per write`);
  console.log(`  engine path, used_memory per customer (INFO memory, drop on deleting the keys): ${usedMemoryPerCustomer} B`);
  console.log(`  engine path, median field sizes per customer: binary state (b, b1…) ${stateFieldBytes} B, outbox ${outboxBytes} B (${withOutbox} of ${ids.length} customers hold entries after the last commit)`);
  const oldRow = rows.find((r) => r.name.startsWith('old layout'))!;
  const newRow = rows.find((r) => r.name.startsWith('engine path'))!;
  console.log(`  old (JSON hash) vs new (binary) per customer, same states, MEMORY USAGE median: ${oldRow.all.median} B → ${newRow.all.median} B (${(oldRow.all.median / newRow.all.median).toFixed(2)}× smaller); customers present from day 0: ${oldRow.ten.median} B → ${newRow.ten.median} B`);

  // ---------------------------------------------------------------- extrapolation
  // Per key, beyond MEMORY USAGE: the main dict's bucket array (~8-16 B) and, on Redis Cluster, the
  // slot-to-key link (16 B): 32 B. An idle TTL adds an expires entry (~40 B). Then 1.2× for allocator
  // fragmentation. Shards hold 25 GB of that each (maxmemory; keep host RAM ~1.5× for forks, ×2 with replicas).
  const SHARD = 25e9;
  console.log(`\nextrapolation (per customer: mean MEMORY USAGE of the tenured customers + 32 B dict/cluster overhead, × 1.2 fragmentation; shards of 25 GB)`);
  console.log(`  ${'layout'.padEnd(66)} ${'customers'.padStart(10)} ${'data'.padStart(10)} ${'planned'.padStart(10)} ${'shards'.padStart(7)}`);
  for (const r of rows.filter((x) => x.name.startsWith('store layout'))) {
    for (const n of [10e6, 100e6]) {
      const data = r.ten.mean * n;
      const planned = (r.ten.mean + 32) * n * 1.2;
      console.log(`  ${r.name.padEnd(66)} ${`${n / 1e6}M`.padStart(10)} ${`${(data / 1e9).toFixed(0)} GB`.padStart(10)} ${`${(planned / 1e9).toFixed(0)} GB`.padStart(10)} ${String(Math.ceil(planned / SHARD)).padStart(7)}`);
    }
  }
  console.log(`  (simulated period ends ${new Date(end).toISOString().slice(0, 10)}; retention ${spec.layout.retentionDays} days, ${spec.layout.merges.size} slots)`);
  const row = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!;
  const stateOnly = rows.find((r) => r.name.includes('1024')) ?? row('store layout');
  await writeResults('redis-state', {
    customers: ids.length,
    days: DAYS,
    bytes_per_customer_median: row('engine path').all.median,
    bytes_per_customer_mean: row('engine path').all.mean,
    // customers present all 90 days: the steady state a long-lived customer base settles at
    bytes_per_customer_tenured_mean: row('engine path').ten.mean,
    used_memory_per_customer: usedMemoryPerCustomer,
    hash_max_listpack_value: Number(listpackValue),
    redis_usec_per_customer_write: Number(redisUsecPerCustomerWrite.toFixed(2)),
    events_per_customer_write: Number(((deltas.length * (RUNS + 1)) / writes.calls).toFixed(2)),
    events: deltas.length,
    state_only_bytes_per_customer_median: stateOnly.all.median,
    // The same engine states written in the JSON hash layout the binary format replaced, same run.
    json_layout_bytes_per_customer_median: row('old layout').all.median,
    json_layout_bytes_per_customer_tenured_mean: row('old layout').ten.mean,
    state_field_bytes_per_customer_median: stateFieldBytes,
    outbox_bytes_per_customer_median: outboxBytes,
    engine_path_events_per_s: Math.round(enginePath.items / (median(enginePath.runsMs) / 1000)),
    state_apply_events_per_s: Math.round(redisObserved.items / (median(redisObserved.runsMs) / 1000)),
  });
} finally {
  // Remove everything this run wrote.
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
  await client.quit();
}
