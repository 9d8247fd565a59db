// The state encoder on the Redis write path, alone: encodeCustomer (format 2 with the layout, no outbox:
// what RedisStateStore.encodeChanges writes to field `b`) and encodeChanges itself, per customer, on the
// states the engine writes — the shipped configuration's feature spec, simulated customers after
// BENCH_DAYS days applied through the memory store and loaded back as the engine stages them (lent
// copies). CPU time, medians of BENCH_RUNS rounds; each round encodes every state BENCH_REPEAT times.
//
// Always measured beside it, as the same-run baseline: the JSON hash layout the store wrote before the
// binary format (encodeLegacyHash, src/state/codec/legacy-hash.ts), on the same states.
//
//   BENCH_BASELINE=<dir>   a second build's dist/ (e.g. main's): its encoder is run interleaved with this
//                          one, round by round on the same states, and the bytes are compared
//   BENCH_CUSTOMERS, BENCH_DAYS, BENCH_RUNS, BENCH_REPEAT
import { buildSpec } from '../src/compose/feature-spec.js';
import { loadConfig } from '../src/config/load-config.js';
import { stateRules } from '../src/config/state-rules.js';
import type { ActivityEvent } from '../src/events/activity-event.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import { encodeCustomer, type EncodeOptions } from '../src/state/codec/customer-codec.js';
import type { CustomerState, StateDelta } from '../src/state/customer-state.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import { encodeChanges } from '../src/state/redis-store.js';
import { encodeLegacyHash } from '../src/state/codec/legacy-hash.js';
import { median, writeResults } from './harness.js';
import { SHIPPED_CONFIG_FILE } from './shipped-config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 300);
const DAYS = Number(process.env.BENCH_DAYS ?? 120);
const BASELINE = process.env.BENCH_BASELINE;

type Encode = (state: Readonly<CustomerState>, options?: EncodeOptions) => Buffer;
type Changes = typeof encodeChanges;

const config = loadConfig({ file: SHIPPED_CONFIG_FILE, env: {} });
const spec = buildSpec(config);
const layout = spec.layout.merges;
const sim = resolveSimulatorOptions({ customers: CUSTOMERS, days: DAYS, seed: 9 });
const deltas: StateDelta[] = [];
const offsets = new Map<string, number>();
const ids = new Set<string>();
for (const r of simulate(sim)) {
  if (r.type !== 'event') continue;
  const e = r.event;
  const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
  const stream = `p${ids.size % 4}`;
  const offset = offsets.get(stream) ?? 0;
  offsets.set(stream, offset + 1);
  ids.add(e.customer_id);
  deltas.push(spec.deltaFor(event, { stream, offset }));
}
const store = new MemoryStateStore(stateRules(config, spec));
for (let i = 0; i < deltas.length; i += 512) await store.apply(deltas.slice(i, i + 512));
const states = (await store.load([...ids])).map((l) => l.state);
const sizes = states.map((s) => encodeCustomer(s, { outbox: false, layout }).length);

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** µs of CPU per state for one round of `fn` over every state REPEAT times. */
const round = (fn: (s: CustomerState) => unknown) => {
  const t0 = cpuUs();
  for (let k = 0; k < REPEAT; k++) for (const s of states) fn(s);
  return (cpuUs() - t0) / (REPEAT * states.length);
};

interface Side {
  readonly name: string;
  readonly encode: Encode;
  readonly changes: Changes;
  readonly encodeUs: number[];
  readonly changesUs: number[];
}
const side = (name: string, encode: Encode, changes: Changes): Side => ({ name, encode, changes, encodeUs: [], changesUs: [] });
const sides: Side[] = [side('this build', encodeCustomer, encodeChanges)];
if (BASELINE) {
  const codec = (await import(`${BASELINE}/src/state/codec/customer-codec.js`)) as { encodeCustomer: Encode };
  const redis = (await import(`${BASELINE}/src/state/redis-store.js`)) as { encodeChanges: Changes };
  sides.push(side(`baseline ${BASELINE}`, codec.encodeCustomer, redis.encodeChanges));
  let differ = 0;
  for (const s of states) if (!codec.encodeCustomer(s, { outbox: false, layout }).equals(encodeCustomer(s, { outbox: false, layout }))) differ++;
  console.log(`bytes differing from the baseline: ${differ} of ${states.length} states`);
  if (differ > 0) process.exitCode = 1;
}

const jsonUs: number[] = [];
for (let r = 0; r <= RUNS; r++) {
  // Alternate which side goes first, so neither always runs on a warmer or colder machine.
  const order = r % 2 === 0 ? sides : [...sides].reverse();
  const j = round((st) => encodeLegacyHash(st));
  if (r > 0) jsonUs.push(j);
  for (const s of order) {
    const e = round((st) => s.encode(st, { outbox: false, layout }));
    const c = round((st) => s.changes(st, undefined, layout));
    if (r > 0) {
      s.encodeUs.push(e);
      s.changesUs.push(c);
    }
  }
}

console.log(`\nstate encode on the write path: ${states.length} customers × ${DAYS} days (shipped spec), median ${median(sizes)} B; CPU µs per customer, medians of ${RUNS} rounds × ${REPEAT} passes`);
for (const s of sides) console.log(`  ${s.name.padEnd(60)} encodeCustomer ${median(s.encodeUs).toFixed(2).padStart(7)}   encodeChanges ${median(s.changesUs).toFixed(2).padStart(7)}`);
console.log(`  ${'baseline: the JSON hash layout (encodeLegacyHash)'.padEnd(60)} ${median(jsonUs).toFixed(2).padStart(22)}   → encodeCustomer takes ${(median(sides[0]!.encodeUs) / median(jsonUs)).toFixed(2)}× its time`);
if (sides.length === 2) {
  const ratio = (a: number[], b: number[]) => median(a.map((x, i) => b[i]! / x));
  console.log(`  baseline / this build (median of per-round ratios): encodeCustomer ${ratio(sides[0]!.encodeUs, sides[1]!.encodeUs).toFixed(2)}×, encodeChanges ${ratio(sides[0]!.changesUs, sides[1]!.changesUs).toFixed(2)}×`);
}
await writeResults('encode-state', {
  customers: states.length,
  days: DAYS,
  bytes_median: median(sizes),
  encode_us_per_customer: Number(median(sides[0]!.encodeUs).toFixed(2)),
  encode_changes_us_per_customer: Number(median(sides[0]!.changesUs).toFixed(2)),
  json_hash_us_per_customer: Number(median(jsonUs).toFixed(2)),
  encode_vs_json_hash: Number((median(sides[0]!.encodeUs) / median(jsonUs)).toFixed(3)),
  ...(sides.length === 2 ? { baseline_encode_us_per_customer: Number(median(sides[1]!.encodeUs).toFixed(2)) } : {}),
});
