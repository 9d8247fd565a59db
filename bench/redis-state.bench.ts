// Redis state store: apply throughput against the memory store (same simulated deltas, batches of 512,
// same run) and Redis memory per customer after 120 days (BENCH_DAYS) on the engine's path with the
// shipped configuration (deploy/churnflow.yaml: its feature spec and lateness, decisions, dedupe, hot
// cache): binary format 2 beside format 1 and the JSON hash layout before both (the same states, same
// run), the engine path's events/s and CPU per event writing format 1 and format 2 (runs interleaved),
// where a median customer's bytes go, extrapolated to 10M and 100M customers.
// Starts nothing: it needs Redis at CHURNFLOW_REDIS_URL (default redis://127.0.0.1:16390), e.g.
//   npm run services -- start redis && npm run bench -- redis-state
// and exits 2 when Redis is unreachable. Everything it writes is under a fresh prefix and removed at the end.
import { availableParallelism } from 'node:os';
import { errorMessage } from '../src/errors.js';
import { DAY_MS, type ActivityEvent } from '../src/events/activity-event.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { buildSpec } from '../src/compose/feature-spec.js';
import { loadConfig } from '../src/config/load-config.js';
import { stateRules } from '../src/config/state-rules.js';
import { decisionOptions, emitPolicy } from '../src/config/decision-options.js';
import { decodeCustomer, encodeCustomer } from '../src/state/codec/customer-codec.js';
import { hotCachedStore } from '../src/state/hot-cache-from-config.js';
import { createEngineMetrics } from '../src/observability/metrics.js';
import { benchBatchOverride, SHIPPED_CONFIG_FILE } from './shipped-config.js';
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
// The shipped configuration (only the Redis URL differs; CHURNFLOW_* variables of the shell are ignored).
// BENCH_BATCH_MAX_SIZE (shipped-config.ts) changes engine.batch.maxSize and maxInFlight alike, for a batch-size comparison.
const batchSize = benchBatchOverride();
const config = loadConfig({ file: SHIPPED_CONFIG_FILE, env: {}, overrides: { state: { redis: { url } }, ...(batchSize ? { engine: { batch: { maxSize: batchSize.maxSize }, maxInFlight: batchSize.maxInFlight } } : {}) } });
if (batchSize) console.log(`engine.batch.maxSize → ${batchSize.maxSize}, engine.maxInFlight → ${batchSize.maxInFlight} (BENCH_BATCH_MAX_SIZE)`);
const spec = buildSpec(config);
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
const redisStore = (prefix = `${base}r${runNo++}:`, writeFormatVersion: 1 | 2 = 2) => new RedisStateStore({ redis: client, keyPrefix: prefix, ...stateRules(config, spec), writeFormatVersion });
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

  type Row = { name: string; all: ReturnType<typeof summary>; ten: ReturnType<typeof summary>; encodings: string };
  const rows: Row[] = [];
  const layoutRow = async (name: string, prefix: string): Promise<Row> => {
    const u = await usageOf(prefix);
    const row = { name, all: summary(u.usage), ten: summary(u.tenuredUsage), encodings: u.encodings };
    rows.push(row);
    return row;
  };

  await applyAll(redisStore(`${base}m1:`));
  const windowsOnly = await layoutRow(`windows only (state apply: no last score, no outbox), format 2`, `${base}m1:`);
  if (Number(listpackValue) < 1024) console.log(`  NOTE: this Redis runs hash-max-listpack-value ${listpackValue}; the store's hashes need 1024 to stay listpacks (docs/architecture.md)`);

  // The engine's path: the scoring topology with the shipped configuration's spec, lateness, batch,
  // decisions (reasons for events at or above the threshold) and hot cache, so each customer also
  // carries what the engine stores beside its windows: last score, recent event ids, outbox. Runs
  // writing format 1 and format 2 alternate, so machine noise falls on both alike.
  const file = join(mkdtempSync(join(tmpdir(), 'cf-bench-')), 'events.ndjson');
  writeFileSync(file, `${[...simulate(sim)].map(recordToNdjson).join('\n')}\n`);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  const discard = <T>(): RecordSink<T> => ({ name: 'discard', write: async () => {}, flush: async () => {}, close: async () => {} });
  const clock = fixedClock(simulationEndTime(sim));
  const engineRun = async (prefix: string, version: 1 | 2) => {
    const store = hotCachedStore(redisStore(prefix, version), config, createEngineMetrics({ defaultMetrics: false, instance: 'bench' }));
    await lastValueFrom(
      churnScoringTopology(
        { source: createFileSource(file, clock), decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store, spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock },
        { allowedLatenessMs: config.engine.allowedLatenessMs, batch: config.engine.batch, maxInFlight: config.engine.maxInFlight, risk: emitPolicy(config.engine.risk), decision: decisionOptions(config) },
      ).pipe(count()),
    );
  };
  // Redis' own time for the engine's commands (INFO commandstats, before and after): a shard is one
  // thread, so this bounds the customer writes per second one shard can take.
  const commandStats = async () => {
    const out = new Map<string, { calls: number; usec: number }>();
    for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
    return out;
  };
  const engine = { 1: { runsMs: [] as number[], cpuMs: [] as number[], redisUsec: 0, writes: 0, hdelUsec: 0, hdels: 0 }, 2: { runsMs: [] as number[], cpuMs: [] as number[], redisUsec: 0, writes: 0, hdelUsec: 0, hdels: 0 } };
  for (let run = 0; run <= RUNS; run++) {
    for (const version of run % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      const before = await commandStats();
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      await engineRun(`${base}e${version}-${run}:`, version);
      const ms = performance.now() - t0;
      const used = process.cpuUsage(cpu);
      const after = await commandStats();
      if (run === 0) continue; // warm-up; its keys stay for the memory rows below
      const delta = (cmd: string) => ({ calls: (after.get(cmd)?.calls ?? 0) - (before.get(cmd)?.calls ?? 0), usec: (after.get(cmd)?.usec ?? 0) - (before.get(cmd)?.usec ?? 0) });
      engine[version].runsMs.push(ms);
      engine[version].cpuMs.push((used.user + used.system) / 1000);
      // HDEL too: since session 9 each commit is followed by the deletes of its committed outbox entries.
      engine[version].redisUsec += delta('evalsha').usec + delta('hgetall').usec + delta('hdel').usec;
      engine[version].writes += delta('evalsha').calls;
      // The deletes of committed outbox entries after each commit (outbox-trimmer.ts; HDELs inside the script count here too).
      engine[version].hdelUsec += delta('hdel').usec;
      engine[version].hdels += delta('hdel').calls;
    }
  }
  await model.close();
  const enginePath = { name: 'engine path, writing format 2 (this engine)', items: deltas.length, runsMs: engine[2].runsMs };
  const enginePathV1 = { name: 'engine path, writing format 1 (the engines before)', items: deltas.length, runsMs: engine[1].runsMs };
  report(`engine path: the scoring topology on Redis with the shipped configuration (state + decisions, bundled model, hot cache), runs interleaved`, [enginePathV1, enginePath, redisObserved], enginePathV1, 'event');
  const cpuUsPerEvent = (v: 1 | 2) => (median(engine[v].cpuMs) * 1000) / deltas.length;
  const redisUsecPerWrite = (v: 1 | 2) => (engine[v].writes > 0 ? engine[v].redisUsec / engine[v].writes : Number.NaN);
  console.log(`  CPU of this process per event (median of runs): format 1 ${cpuUsPerEvent(1).toFixed(1)} µs, format 2 ${cpuUsPerEvent(2).toFixed(1)} µs (${(cpuUsPerEvent(2) / cpuUsPerEvent(1)).toFixed(3)}×)`);
  console.log(`  Redis time per customer write (HGETALL + EVALSHA + the HDELs after the commits, INFO commandstats): format 1 ${redisUsecPerWrite(1).toFixed(1)} µs, format 2 ${redisUsecPerWrite(2).toFixed(1)} µs; ${(deltas.length * RUNS / engine[2].writes).toFixed(1)} events per write`);
  console.log(`  HDEL (committed outbox entries deleted after each commit, and the scripts' own): ${(engine[2].hdels / RUNS).toFixed(0)} calls a run (${((engine[2].hdels / Math.max(1, engine[2].writes)) * 100).toFixed(1)} per 100 customer writes), ${(engine[2].hdels > 0 ? engine[2].hdelUsec / engine[2].hdels : 0).toFixed(1)} µs each`);

  // The same final states (each run's are identical: the same stream, deterministic) in every layout.
  const v2Prefix = `${base}e2-0:`;
  const v2Row = await layoutRow('engine path, format 2 (b + v + outbox fields)', v2Prefix);
  const v1Row = await layoutRow('engine path, format 1 (same states, as the engines before wrote them)', `${base}e1-0:`);
  const engineStates = (await redisStore(v2Prefix).get(ids)).filter((st): st is CustomerState => st !== null);
  const alt = client.pipeline();
  for (const st of engineStates) {
    alt.hset(`${base}j:{c:${st.customerId}}`, { ...encodeLegacyHash(st), v: '1' });
    alt.set(`${base}a1:{c:${st.customerId}}`, JSON.stringify(st));
    // The alternative to the hash: one string key holding the state alone (no version, no outbox fields).
    alt.set(`${base}s:{c:${st.customerId}}`, encodeCustomer(st, { outbox: false, layout: spec.layout.merges }));
  }
  await alt.exec();
  const jsonRow = await layoutRow('JSON hash layout (before the binary formats), same states', `${base}j:`);
  await layoutRow('alt: one JSON string per customer', `${base}a1:`);
  const stringRow = await layoutRow('alt: format 2 state alone in a string key (no v, no outbox)', `${base}s:`);
  const fieldSizes = async (prefix: string) => {
    const p = client.pipeline();
    for (const id of ids) p.hgetallBuffer(`${prefix}{c:${id}}`);
    const hashes = ((await p.exec()) ?? []).map(([, v]) => Object.entries(v as Record<string, Buffer>));
    const bytes = (match: (field: string) => boolean) => hashes.map((h) => h.filter(([f]) => match(f)).reduce((n, [f, v]) => n + f.length + v.length, 0));
    const entries = hashes.flatMap((h) => h.filter(([f]) => f.startsWith('o:')).map(([f, v]) => f.length + v.length));
    return { state: median(bytes((f) => /^b\d*$/.test(f))), outbox: bytes((f) => f.startsWith('o:')), entries, fields: median(hashes.map((h) => h.length)) };
  };
  const v2Fields = await fieldSizes(v2Prefix);
  const v1Fields = await fieldSizes(`${base}e1-0:`);
  const v2Usage = (await usageOf(v2Prefix)).usage; // read before the keys are dropped below
  // What the engine's keys cost Redis as a whole (used_memory: allocator bytes, with the main dict,
  // key objects and allocator size classes that MEMORY USAGE leaves out): the drop when they are deleted.
  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1]);
  const usedBefore = await usedMemory();
  const dropped = client.pipeline();
  for (const id of ids) dropped.del(`${v2Prefix}{c:${id}}`);
  await dropped.exec();
  const usedMemoryPerCustomer = Math.round((usedBefore - (await usedMemory())) / ids.length);

  const keyBytes = Math.round(median(ids.map((id) => Buffer.byteLength(`${v2Prefix}{c:${id}}`))));
  console.log(`\nredis memory per customer after ${DAYS} simulated days (MEMORY USAGE ... SAMPLES 0, bytes: key + value + allocator size classes)`);
  console.log(`  server: hash-max-listpack-entries ${listpackEntries}, hash-max-listpack-value ${listpackValue}; ${ids.length} customers, ${tenured.size} of them present from day 0; keys of ${keyBytes} bytes (median)`);
  console.log(`  ${'layout'.padEnd(72)} ${'mean'.padStart(6)} ${'median'.padStart(7)} ${'p90'.padStart(6)}  ${'tenured mean'.padStart(12)} ${'median'.padStart(7)}  encodings`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(72)} ${String(r.all.mean).padStart(6)} ${String(r.all.median).padStart(7)} ${String(r.all.p90).padStart(6)}  ${String(r.ten.mean).padStart(12)} ${String(r.ten.median).padStart(7)}  ${r.encodings}`);
  }
  console.log(`  median per customer, MEMORY USAGE: JSON hash ${jsonRow.all.median} B → format 1 ${v1Row.all.median} B → format 2 ${v2Row.all.median} B (${(v1Row.all.median / v2Row.all.median).toFixed(2)}× smaller than format 1, ${(jsonRow.all.median / v2Row.all.median).toFixed(2)}× than JSON); p90 ${jsonRow.all.p90} → ${v1Row.all.p90} → ${v2Row.all.p90} B`);
  console.log(`  median field bytes (name + value): state fields b, b1… format 1 ${v1Fields.state} B, format 2 ${v2Fields.state} B; ${v2Fields.fields} fields per hash; outbox entries held by ${v2Fields.outbox.filter((n) => n > 0).length} of ${ids.length} customers after the last commit (median ${median(v2Fields.outbox)} B)`);
  // What the outbox entries left at rest weigh: one entry (field name + stored decision), and their share of all customers' bytes.
  const outboxTotal = v2Fields.outbox.reduce((a, b) => a + b, 0);
  const usageTotal = v2Usage.reduce((a, b) => a + b, 0);
  const holders = v2Fields.outbox.map((n, i) => [n, v2Usage[i]!] as const).filter(([n]) => n > 0);
  const entryMedian = v2Fields.entries.length > 0 ? Math.round(median(v2Fields.entries)) : 0;
  console.log(`  outbox at rest: ${v2Fields.entries.length} entries, ${entryMedian} B median each (field name + value; max ${Math.max(0, ...v2Fields.entries)}), ${((100 * outboxTotal) / Math.max(1, usageTotal)).toFixed(1)} % of all customers' MEMORY USAGE; a holder's entries ${holders.length > 0 ? Math.round(median(holders.map(([n]) => n))) : 0} B of its ${holders.length > 0 ? Math.round(median(holders.map(([, u]) => u))) : 0} B (medians)`);
  console.log(`  hash vs string key for the format 2 state: ${v2Row.all.median} B vs ${stringRow.all.median} B median (the string holds neither v nor outbox entries)`);
  console.log(`  engine path, used_memory per customer (INFO memory, drop on deleting the format 2 keys): ${usedMemoryPerCustomer} B`);

  // Where a customer's format 2 bytes go: the encoded size without each part, medians over the customers.
  const size = (st: CustomerState) => encodeCustomer(st, { outbox: false, layout: spec.layout.merges }).length;
  const without = (change: (st: CustomerState) => void) =>
    Math.round(
      median(
        engineStates.map((st) => {
          const copy = structuredClone(st);
          change(copy);
          return size(st) - size(copy);
        }),
      ),
    );
  const bySlotMerge = (merge: string) => (st: CustomerState) => {
    for (const b of Object.values(st.buckets)) for (const slot in b) if (spec.layout.merges.get(slot) === merge) delete b[slot];
  };
  const parts: [string, number][] = [
    ['day buckets: counts and sums (add)', without(bySlotMerge('add'))],
    ['day buckets: latest event times (max)', without(bySlotMerge('max'))],
    ['day buckets: profile values (last)', without(bySlotMerge('last'))],
    ['day buckets: distinct-count sets (bits)', without(bySlotMerge('bits'))],
    ['day buckets: all (with day indices, column headers)', without((st) => void (st.buckets = {}))],
    ['archive (older than the retention)', without((st) => void (st.archive = {}))],
    ['last score', without((st) => void (st.lastScore = null))],
    ['recent event ids (dedupe)', without((st) => void (st.recentEvents = []))],
    ['source positions', without((st) => void (st.positions = {}))],
  ];
  console.log(`\nwhere a format 2 state's bytes go (median encoded size ${Math.round(median(engineStates.map(size)))} B; median bytes each part adds)`);
  for (const [name, bytes] of parts) console.log(`  ${name.padEnd(56)} ${String(bytes).padStart(5)}`);

  // The codec's own cost per customer, both formats on the same states (medians of RUNS passes, after one warm-up).
  const codecUs = (fn: (st: CustomerState, i: number) => void) => {
    const passes: number[] = [];
    for (let p = 0; p <= RUNS; p++) {
      const t0 = performance.now();
      for (let k = 0; k < 20; k++) engineStates.forEach(fn);
      if (p > 0) passes.push(((performance.now() - t0) * 1000) / (20 * engineStates.length));
    }
    return median(passes);
  };
  const layout = spec.layout.merges;
  const v1Bytes = engineStates.map((st) => encodeCustomer(st, { outbox: false, formatVersion: 1 }));
  const v2Bytes = engineStates.map((st) => encodeCustomer(st, { outbox: false, layout }));
  const codec = {
    encode1: codecUs((st) => encodeCustomer(st, { outbox: false, formatVersion: 1 })),
    encode2: codecUs((st) => encodeCustomer(st, { outbox: false, layout })),
    decode1: codecUs((st, i) => decodeCustomer(st.customerId, v1Bytes[i]!, layout)),
    decode2: codecUs((st, i) => decodeCustomer(st.customerId, v2Bytes[i]!, layout)),
  };
  console.log(`\ncodec per customer (µs, medians of ${RUNS} passes over the ${engineStates.length} states): encode format 1 ${codec.encode1.toFixed(1)}, format 2 ${codec.encode2.toFixed(1)} (${(codec.encode2 / codec.encode1).toFixed(2)}×); decode format 1 ${codec.decode1.toFixed(1)}, format 2 ${codec.decode2.toFixed(1)} (${(codec.decode2 / codec.decode1).toFixed(2)}×)`);

  // ---------------------------------------------------------------- extrapolation
  // Per key, beyond MEMORY USAGE: the main dict's bucket array (~8-16 B) and, on Redis Cluster, the
  // slot-to-key link (16 B): 32 B. An idle TTL adds an expires entry (~40 B). Then 1.2× for allocator
  // fragmentation. Shards hold 25 GB of that each (maxmemory; keep host RAM ~1.5× for forks, ×2 with replicas).
  const SHARD = 25e9;
  console.log(`\nextrapolation (per customer: mean MEMORY USAGE of the tenured customers + 32 B dict/cluster overhead, × 1.2 fragmentation; shards of 25 GB)`);
  console.log(`  ${'layout'.padEnd(72)} ${'customers'.padStart(10)} ${'data'.padStart(10)} ${'planned'.padStart(10)} ${'shards'.padStart(7)}`);
  for (const r of [v2Row, v1Row, jsonRow]) {
    for (const n of [10e6, 100e6]) {
      const data = r.ten.mean * n;
      const planned = (r.ten.mean + 32) * n * 1.2;
      console.log(`  ${r.name.padEnd(72)} ${`${n / 1e6}M`.padStart(10)} ${`${(data / 1e9).toFixed(0)} GB`.padStart(10)} ${`${(planned / 1e9).toFixed(0)} GB`.padStart(10)} ${String(Math.ceil(planned / SHARD)).padStart(7)}`);
    }
  }
  console.log(`  (simulated period ends ${new Date(end).toISOString().slice(0, 10)}; retention ${spec.layout.retentionDays} days, ${spec.layout.merges.size} slots)`);
  await writeResults('redis-state', {
    customers: ids.length,
    days: DAYS,
    config: 'deploy/churnflow.yaml',
    engine_batch_max_size: config.engine.batch.maxSize,
    key_bytes_median: keyBytes,
    bytes_per_customer_median: v2Row.all.median,
    bytes_per_customer_p90: v2Row.all.p90,
    bytes_per_customer_mean: v2Row.all.mean,
    // customers present all simulated days: the steady state a long-lived customer base settles at
    bytes_per_customer_tenured_mean: v2Row.ten.mean,
    format1_bytes_per_customer_median: v1Row.all.median,
    format1_bytes_per_customer_p90: v1Row.all.p90,
    format1_bytes_per_customer_tenured_mean: v1Row.ten.mean,
    json_layout_bytes_per_customer_median: jsonRow.all.median,
    json_layout_bytes_per_customer_p90: jsonRow.all.p90,
    json_layout_bytes_per_customer_tenured_mean: jsonRow.ten.mean,
    string_key_bytes_per_customer_median: stringRow.all.median,
    state_only_bytes_per_customer_median: windowsOnly.all.median,
    used_memory_per_customer: usedMemoryPerCustomer,
    hash_max_listpack_value: Number(listpackValue),
    state_field_bytes_per_customer_median: v2Fields.state,
    format1_state_field_bytes_per_customer_median: v1Fields.state,
    outbox_bytes_per_customer_median: median(v2Fields.outbox),
    outbox_entries_at_rest: v2Fields.entries.length,
    outbox_holders_at_rest: v2Fields.outbox.filter((n) => n > 0).length,
    outbox_entry_bytes_median: entryMedian,
    outbox_share_of_bytes: Number((outboxTotal / Math.max(1, usageTotal)).toFixed(4)),
    redis_usec_per_customer_write: Number(redisUsecPerWrite(2).toFixed(2)),
    format1_redis_usec_per_customer_write: Number(redisUsecPerWrite(1).toFixed(2)),
    hdel_calls_per_customer_write: Number((engine[2].hdels / Math.max(1, engine[2].writes)).toFixed(3)),
    hdel_usec_per_call: Number((engine[2].hdels > 0 ? engine[2].hdelUsec / engine[2].hdels : 0).toFixed(2)),
    events_per_customer_write: Number(((deltas.length * RUNS) / engine[2].writes).toFixed(2)),
    events: deltas.length,
    engine_path_events_per_s: Math.round(deltas.length / (median(engine[2].runsMs) / 1000)),
    format1_engine_path_events_per_s: Math.round(deltas.length / (median(engine[1].runsMs) / 1000)),
    engine_path_cpu_us_per_event: Number(cpuUsPerEvent(2).toFixed(2)),
    format1_engine_path_cpu_us_per_event: Number(cpuUsPerEvent(1).toFixed(2)),
    state_apply_events_per_s: Math.round(redisObserved.items / (median(redisObserved.runsMs) / 1000)),
    encode_us_per_customer: Number(codec.encode2.toFixed(2)),
    format1_encode_us_per_customer: Number(codec.encode1.toFixed(2)),
    decode_us_per_customer: Number(codec.decode2.toFixed(2)),
    format1_decode_us_per_customer: Number(codec.decode1.toFixed(2)),
    ...Object.fromEntries(parts.map(([name, bytes]) => [`breakdown_${name.replace(/\(.*\)/, '').trim().replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`, bytes])),
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
