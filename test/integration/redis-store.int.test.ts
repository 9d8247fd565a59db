// RedisStateStore against the real Redis on loopback (npm run services -- start redis). The shared
// contract suite, equivalence with the memory store at scale (states and per-event feature rows),
// redelivery, two round trips per batch (load, fenced write), hash slots, exact numbers, budget, TTL,
// errors, and Redis restarting and crashing mid-stream (the restart cases drive scripts/services/services.sh).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { DAY_MS, type ActivityEvent } from '../../src/events/activity-event.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { ChurnflowError } from '../../src/errors.js';
import { resolveSimulatorOptions, simulate } from '../../src/simulator/index.js';
import type { ApplyOutcome, CustomerState, StateDelta, StateLayout } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import keySlot from 'cluster-key-slot';
import { RedisStateStore, type RedisStoreOptions } from '../../src/state/redis-store.js';
import { HotCachedStore } from '../../src/state/hot-cache.js';
import type { StateStore } from '../../src/state/state-store.js';
import { commitStaged, stageDeltas } from '../../src/state/stage-deltas.js';
import { stateStoreContract } from '../contract/state-store.contract.js';
import { SERVICES } from '../helpers/services.js';
import { redisTestKeys } from '../helpers/redis.js';
import { encodeLegacyHash } from '../../src/state/codec/legacy-hash.js';
import { encodeCustomer } from '../../src/state/codec/customer-codec.js';
import { readFileSync } from 'node:fs';
import { refreshStateGauges } from '../../src/state/state-gauges.js';
import { createEngineMetrics } from '../../src/observability/metrics.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const SERVICES_SH = fileURLToPath(new URL('../../../scripts/services/services.sh', import.meta.url));
const { admin, newPrefix } = redisTestKeys('cf-it');
const redisStore = (extra: Partial<RedisStoreOptions> = {}, layout: StateLayout = spec.layout) =>
  new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: newPrefix(), layout, ...extra });


// ---------------------------------------------------------------- the shared contract
stateStoreContract('redis store', async (layout) => redisStore({}, layout));
// The same suite through the hot cache (src/state/hot-cache.ts): reads of customers it wrote never reach Redis.
stateStoreContract('redis store with the hot cache', async (layout) => new HotCachedStore(redisStore({}, layout), { maxCustomers: 1000, maxBytes: 64 * 1024 * 1024 }));

// ---------------------------------------------------------------- simulated streams
function toEvent(e: ActivityEventJson): ActivityEvent {
  return { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
}

/**
 * Deltas of a simulated stream as a 4-partition source would deliver them: late events on, and at the
 * end a few stragglers per tenth customer — one before its signup (refused), one soon after its signup
 * (for long-standing customers a day that expired long ago: straight into the archive).
 */
function simulatedDeltas(customers: number, days: number, seed: number): StateDelta[] {
  const sim = resolveSimulatorOptions({ customers, days, seed, lateEvents: { rate: 0.05, maxDelayMs: 2 * DAY_MS } });
  const offsets = new Map<string, number>();
  const out: StateDelta[] = [];
  const signups = new Map<string, number>();
  const push = (e: ActivityEvent) => {
    let h = 0;
    for (const ch of e.customerId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    const stream = `p${h % 4}`;
    const offset = offsets.get(stream) ?? 0;
    offsets.set(stream, offset + 1);
    out.push(spec.deltaFor(e, { stream, offset }));
  };
  for (const r of simulate(sim)) {
    if (r.type !== 'event') continue;
    const e = toEvent(r.event);
    if (e.kind === 'profile' && typeof e.payload.signup_time === 'number') signups.set(e.customerId, e.payload.signup_time);
    push(e);
  }
  let n = 0;
  for (const [customerId, signup] of signups) {
    if (n++ % 10 !== 0) continue;
    push({ eventId: `late-a-${customerId}`, customerId, eventTime: signup - 2 * DAY_MS, kind: 'login', payload: { device: 'web', success: true } });
    push({ eventId: `late-b-${customerId}`, customerId, eventTime: signup + 3_600_000, kind: 'login', payload: { device: 'ios', success: true } });
  }
  return out;
}

function batches<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

type Row = [eventId: string, outcome: ApplyOutcome, features: number[]];

/** Applies the batches with the engine's observer: one feature row per delta, as of event time + 1 ms. */
async function run(store: StateStore, bs: readonly (readonly StateDelta[])[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const b of bs) {
    await store.apply(b, (state, delta, outcome) => {
      rows.push([delta.eventId, outcome, Array.from(spec.evaluate(state, delta.eventTime + 1))]);
    });
  }
  return rows;
}

const idsOf = (deltas: readonly StateDelta[]) => [...new Set(deltas.map((d) => d.customerId))];

async function referenceStates(deltas: readonly StateDelta[], options: Partial<ConstructorParameters<typeof MemoryStateStore>[0]> = {}): Promise<(CustomerState | null)[]> {
  const mem = new MemoryStateStore({ layout: spec.layout, ...options });
  for (const b of batches(deltas, 256)) await mem.apply(b);
  return mem.get(idsOf(deltas));
}

/** Retries a batch on a retriable error, as the engine's retryBatch does. */
async function applyWithRetry(store: StateStore, batch: readonly StateDelta[], attempts = 40): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.apply(batch);
      return attempt - 1;
    } catch (err) {
      if (!(err instanceof ChurnflowError && err.retriable) || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

// ---------------------------------------------------------------- equivalence, redelivery
describe('redis store: equivalence with the memory store', () => {
  const deltas = simulatedDeltas(150, 60, 11);
  const bs = batches(deltas, 256);

  test('150 customers × 60 days in batches of 256: identical states and per-event feature rows', async () => {
    const mem = new MemoryStateStore({ layout: spec.layout });
    const redis = redisStore();
    try {
      const memRows = await run(mem, bs);
      const redisRows = await run(redis, bs);
      const outcomes = memRows.map((r) => r[1]);
      assert.ok(outcomes.includes('before_signup'), 'the stream exercises the signup guard');
      assert.equal(redisRows.length, deltas.length);
      assert.deepStrictEqual(redisRows, memRows);
      const ids = idsOf(deltas);
      assert.ok(ids.length >= 150);
      const [memStates, redisStates] = [await mem.get(ids), await redis.get(ids)];
      assert.ok(memStates.some((s) => s !== null && Object.keys(s.archive).length > 0), 'some buckets expired into the archive');
      assert.deepStrictEqual(redisStates, memStates);
    } finally {
      await redis.close();
    }
  });

  test('redelivery: every batch twice, then overlapping batches — nothing counted twice', async () => {
    const sub = deltas.filter((d) => d.customerId < 'c000060');
    const redis = redisStore();
    try {
      for (const b of batches(sub, 200)) {
        const first = await redis.apply(b);
        const again = await redis.apply(b);
        assert.ok(first.flatMap((r) => r.outcomes).every((o) => o !== 'duplicate'));
        assert.ok(again.flatMap((r) => r.outcomes).every((o) => o === 'duplicate'), 'a redelivered batch is all duplicates');
      }
      for (let i = 0; i < sub.length; i += 150) await redis.apply(sub.slice(Math.max(0, i - 100), i + 150)); // 100 redelivered each time
      assert.deepStrictEqual(await redis.get(idsOf(sub)), await referenceStates(sub));
    } finally {
      await redis.close();
    }
  });
});

// ---------------------------------------------------------------- round trips, keys
describe('redis store: wire and keys', () => {
  test('a batch is two pipelines: one HGETALL per customer, then one fenced script call per customer', async () => {
    const deltas = simulatedDeltas(80, 20, 5);
    const batch = deltas.slice(deltas.length - 256);
    const customers = idsOf(batch).length;
    assert.ok(customers > 20);
    const client = new Redis(SERVICES.redisUrl);
    const store = new RedisStateStore({ redis: client, keyPrefix: newPrefix(), layout: spec.layout });
    const monitor = await admin.monitor();
    try {
      await client.ping();
      await store.apply(deltas.slice(0, 100)); // the script is loaded on this connection (EVAL once, then EVALSHA)
      // What MONITOR reports from this client between two ECHO markers is exactly what apply sent.
      const me = `${client.stream.localAddress}:${client.stream.localPort}`;
      const between: string[] = [];
      let phase = 0;
      const marks = ['mark-begin', 'mark-end'];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== me) return;
        if (args[0]?.toLowerCase() === 'echo' && args[1] === marks[phase]) phase++;
        else if (phase === 1) between.push(String(args[0]).toLowerCase());
      });
      await client.echo(marks[0]!);
      const socket = client.stream;
      const write = socket.write;
      let writes = 0;
      socket.write = function (this: typeof socket, ...args: Parameters<typeof write>) {
        writes++;
        return write.apply(this, args);
      } as typeof write;
      const rows: number[] = [];
      await store.apply(batch, (_s, d) => rows.push(d.eventTime));
      socket.write = write;
      await client.echo(marks[1]!);
      for (let i = 0; i < 100 && phase < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(phase, 2, 'MONITOR saw both markers');
      const seen = between;
      assert.equal(writes, 2, 'the batch goes out in two writes: load, then write');
      assert.equal(seen.length, 2 * customers, 'two commands per customer, nothing else');
      assert.ok(seen.slice(0, customers).every((c) => c === 'hgetall'), `first the loads: ${[...new Set(seen.slice(0, customers))].join(',')}`);
      assert.ok(seen.slice(customers).every((c) => c === 'evalsha' || c === 'eval'), `then only script calls: ${[...new Set(seen.slice(customers))].join(',')}`);
      assert.equal(rows.length, batch.length);
    } finally {
      monitor.disconnect();
      await store.close();
      await client.quit();
    }
  });

  test('every key of a customer carries the hash tag {c:<id>} (one cluster slot per customer)', async () => {
    // cluster-key-slot computes the slots the store groups pipelines by; these are Redis' own examples
    assert.equal(keySlot('123456789'), 12739); // CRC16/XMODEM check value 0x31C3
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot('bar'), 5061);
    assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
    assert.equal(keySlot('{bar}x'), 5061); // only the tag is hashed
    assert.equal(keySlot('foo{{bar}}zap'), keySlot('{bar')); // the tag ends at the first '}'
    const prefix = newPrefix();
    const tagged = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout, idleTtlSeconds: 3600 });
    try {
      const deltas = simulatedDeltas(30, 10, 3);
      const staged = await stageDeltas(tagged, deltas);
      staged[0]!.state.lastScore = { score: 0.5, band: 'medium', modelName: 'm', modelVersion: '1', eventTime: 1, riskEventId: 'r' };
      staged[0]!.state.outbox['p0@0'] = '{}';
      await commitStaged(tagged, staged);
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      const ids = idsOf(deltas);
      assert.equal(keys.length, ids.length, 'one key per customer');
      for (const key of keys) {
        const m = /^(.*)\{c:([^}]*)\}$/.exec(key);
        assert.ok(m && m[1] === prefix && ids.includes(m[2]!), `key ${key} is <prefix>{c:<id>}`);
        assert.equal(keySlot(key), keySlot(`{c:${m[2]}}`));
      }
      assert.throws(() => new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: 'x{y}:', layout: spec.layout }), /must not contain/);
    } finally {
      await tagged.close();
    }
  });

  test('scan yields every customer once in pages of at most pageSize; stats counts them', async () => {
    const store = redisStore();
    try {
      const ids = Array.from({ length: 1200 }, (_, i) => `s${String(i).padStart(5, '0')}`);
      const t = Date.UTC(2025, 0, 10);
      for (const b of batches(ids, 400)) {
        await store.apply(b.map((id, i) => spec.deltaFor({ eventId: `e-${id}`, customerId: id, eventTime: t + i, kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: i })));
      }
      const seen: string[] = [];
      for await (const page of store.scan(100)) {
        assert.ok(page.length > 0 && page.length <= 100);
        seen.push(...page.map((s) => s.customerId));
      }
      assert.equal(seen.length, 1200);
      assert.deepEqual([...seen].sort(), ids);
      const stats = await store.stats();
      assert.equal(stats.customers, 1200);
      assert.ok(stats.bytes > 1200 * 100, `bytes ${stats.bytes}`);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- values, budget, TTL
describe('redis store: values and limits', () => {
  const layout: StateLayout = {
    retentionDays: 3,
    merges: new Map([
      ['sum', 'add'],
      ['ord', 'add'],
      ['hi', 'max'],
      ['lo', 'min'],
      ['tag', 'last'],
      ['set', 'bits'],
    ]),
  };

  test('numbers beyond cjson\'s 14 digits, fractions, strings, booleans, null and high bits round-trip exactly', async () => {
    const big = 123_456_789_012_345; // 15 digits
    const t0 = Date.UTC(2025, 0, 1);
    let seq = 0;
    const mk = (days: number, ops: Record<string, unknown>[]): StateDelta => ({
      customerId: 'x"y\\z/ü{}',
      eventId: `v${++seq}`,
      eventTime: t0 + days * DAY_MS,
      position: { stream: 'strm "1"', offset: 2 ** 53 - 10 + seq },
      ops: ops as unknown as StateDelta['ops'],
    });
    const deltas: StateDelta[] = [
      mk(0, [{ slot: 'sum', merge: 'add', value: big }, { slot: 'hi', merge: 'max', value: 0.1 }, { slot: 'lo', merge: 'min', value: -1e-7 }, { slot: 'tag', merge: 'last', value: [t0, 'naïve "quoted" \\ / \n'] }, { slot: 'set', merge: 'bits', value: 31 }, { slot: 'ord', merge: 'add', value: 1 }]),
      mk(0.5, [{ slot: 'sum', merge: 'add', value: big }, { slot: 'sum', merge: 'add', value: 0.2 }, { slot: 'hi', merge: 'max', value: 2 ** 53 + 2 }, { slot: 'tag', merge: 'last', value: [t0 + 1, true] }, { slot: 'set', merge: 'bits', value: 255 }, { slot: 'set', merge: 'bits', value: 63 }]),
      mk(1, [{ slot: 'ord', merge: 'add', value: 1 }, { slot: 'sum', merge: 'add', value: 1 / 3 }, { slot: 'tag', merge: 'last', value: [t0 + DAY_MS, null] }, { slot: 'set', merge: 'bits', value: 0 }]),
      mk(2, [{ slot: 'tag', merge: 'last', value: [t0 + 2 * DAY_MS, 98_765_432_109_876.5] }, { slot: 'lo', merge: 'min', value: -(2 ** 60) }, { slot: 'ord', merge: 'add', value: 2 ** 53 }]),
      mk(9, [{ slot: 'sum', merge: 'add', value: 5e-324 }, { slot: 'set', merge: 'bits', value: 200 }]), // expires days 0..2 into the archive
      mk(10, []), // no ops: an empty bucket, as the memory store keeps it
    ];
    const store = redisStore({}, layout);
    const mem = new MemoryStateStore({ layout });
    try {
      const memRows: unknown[] = [];
      const redisRows: unknown[] = [];
      const snap = (rows: unknown[]) => (s: Readonly<CustomerState>) => rows.push(structuredClone(s));
      for (const b of [deltas.slice(0, 3), deltas.slice(3)]) {
        await mem.apply(b, snap(memRows));
        await store.apply(b, snap(redisRows));
      }
      assert.deepStrictEqual(redisRows, memRows);
      const [got] = await store.get([deltas[0]!.customerId]);
      const [want] = await mem.get([deltas[0]!.customerId]);
      assert.deepStrictEqual(got, want);
      assert.equal(got!.archive.sum, big + big + 0.2 + 1 / 3);
      assert.equal(got!.archive.ord, 2 ** 53 + 2, 'buckets fold oldest first (float sums are order-sensitive)');
      assert.deepStrictEqual(got!.archive.set, [2147483649, 2147483648, 0, 0, 0, 0, 0, 2147483648]);
      assert.deepStrictEqual(got!.archive.tag, [t0 + 2 * DAY_MS, 98_765_432_109_876.5]);
      assert.deepStrictEqual(got!.buckets[String(Math.floor((t0 + 10 * DAY_MS) / DAY_MS))], {});
    } finally {
      await store.close();
    }
  });

  test('byte budget: the same buckets fold as in the memory store, counted the same', async () => {
    const deltas = simulatedDeltas(40, 90, 21);
    const memHits: string[] = [];
    const redisHits: string[] = [];
    const mem = new MemoryStateStore({ layout: spec.layout, maxBytesPerCustomer: 4000, onBudgetExceeded: (id) => memHits.push(id) });
    const redis = redisStore({ maxBytesPerCustomer: 4000, onBudgetExceeded: (id) => redisHits.push(id) });
    try {
      const memRows = await run(mem, batches(deltas, 256));
      const redisRows = await run(redis, batches(deltas, 256));
      assert.ok(memHits.length > 0, 'the budget was exceeded');
      assert.deepStrictEqual(redisHits, memHits);
      assert.deepStrictEqual(redisRows, memRows);
      assert.deepStrictEqual(await redis.get(idsOf(deltas)), await mem.get(idsOf(deltas)));
    } finally {
      await redis.close();
    }
  });

  test('idle TTL: set and refreshed by every write', async () => {
    const prefix = newPrefix();
    const store = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout, idleTtlSeconds: 600 });
    try {
      const d = spec.deltaFor({ eventId: 't1', customerId: 'ttl', eventTime: Date.UTC(2025, 0, 2), kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: 1 });
      await store.apply([d]);
      const key = store.keyOf('ttl');
      const ttl1 = await admin.ttl(key);
      assert.ok(ttl1 > 590 && ttl1 <= 600, `ttl ${ttl1}`);
      await admin.expire(key, 10);
      await store.apply([{ ...d, position: { stream: 'p0', offset: 2 } }]);
      assert.ok((await admin.ttl(key)) > 590);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- stored format, gauges
describe('redis store: stored format and state gauges', () => {
  test('a customer in the JSON hash layout is read as the same state and migrated by its next write (binary field b, old fields gone)', async () => {
    const store = redisStore();
    const memory = new MemoryStateStore({ layout: spec.layout });
    try {
      const deltas = simulatedDeltas(20, 40, 21);
      const cut = Math.floor(deltas.length * 0.7);
      await memory.apply(deltas.slice(0, cut));
      const ids = idsOf(deltas.slice(0, cut));
      // What an engine before the binary format left in Redis: JSON fields, version 3.
      const before = (await memory.get(ids)) as CustomerState[];
      for (const state of before) await admin.hset(store.keyOf(state.customerId), { ...encodeLegacyHash(state), v: '3' });
      assert.deepEqual(await store.get(ids), before, 'read as the same states');
      await store.apply(deltas.slice(cut));
      await memory.apply(deltas.slice(cut));
      const all = idsOf(deltas);
      assert.deepEqual(await store.get(all), await memory.get(all), 'the rest of the stream applies on top of the migrated states');
      for (const id of ids) {
        const fields = Object.keys(await admin.hgetallBuffer(store.keyOf(id))).sort();
        const touched = deltas.slice(cut).some((d) => d.customerId === id);
        if (touched) {
          assert.deepEqual(fields.filter((f) => !f.startsWith('o:') && !/^b\d+$/.test(f)), ['b', 'v'], `${id} migrated (state in b, b1...)`);
          assert.equal(await admin.hget(store.keyOf(id), 'v'), '4', 'the fence went on from the old version');
        } else assert.ok(fields.includes('m') && fields.includes('p'), `${id} untouched: still the JSON layout`);
      }
    } finally {
      await store.close();
    }
  });

  test('a customer in binary format 1 is read as the same state and migrated to format 2 by its next write', async () => {
    const store = redisStore();
    const memory = new MemoryStateStore({ layout: spec.layout });
    try {
      const deltas = simulatedDeltas(20, 40, 23);
      const cut = Math.floor(deltas.length * 0.7);
      await memory.apply(deltas.slice(0, cut));
      const ids = idsOf(deltas.slice(0, cut));
      // What an engine of format 1 left in Redis: the state in b (parts of 1,000 bytes), version 5.
      const before = (await memory.get(ids)) as CustomerState[];
      for (const state of before) {
        const bytes = encodeCustomer(state, { outbox: false, formatVersion: 1 });
        const fields: Record<string, Buffer | string> = { v: '5' };
        for (let at = 0, i = 0; at < bytes.length; at += 1000, i++) fields[i === 0 ? 'b' : `b${i}`] = bytes.subarray(at, at + 1000);
        await admin.hset(store.keyOf(state.customerId), fields);
      }
      assert.deepEqual(await store.get(ids), before, 'read as the same states');
      await store.apply(deltas.slice(cut));
      await memory.apply(deltas.slice(cut));
      const all = idsOf(deltas);
      assert.deepEqual(await store.get(all), await memory.get(all), 'the rest of the stream applies on top of the migrated states');
      for (const id of ids) {
        const touched = deltas.slice(cut).some((d) => d.customerId === id);
        const b = (await admin.hgetBuffer(store.keyOf(id), 'b'))!;
        assert.equal(b[0], touched ? 2 : 1, `${id}: ${touched ? 'migrated' : 'untouched, still format 1'}`);
        if (touched) assert.equal(await admin.hget(store.keyOf(id), 'v'), '6', 'the fence went on from the old version');
      }
    } finally {
      await store.close();
    }
  });

  test('the committed format-1 fixture (real bytes of the engines before): its Redis hashes load as the fixture states, and a write migrates them', async () => {
    const store = redisStore();
    const memory = new MemoryStateStore({ layout: spec.layout });
    const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/state/customer-v1.json', import.meta.url), 'utf8')) as {
      customers: { state: CustomerState; redisHash: Record<string, string> }[];
    };
    try {
      for (const { state, redisHash } of fixture.customers) {
        await admin.hset(store.keyOf(state.customerId), Object.fromEntries(Object.entries(redisHash).map(([f, v]) => [f, Buffer.from(v, 'base64')])));
        const [loaded] = await store.load([state.customerId]);
        assert.deepEqual(loaded!.state, state);
        assert.equal(loaded!.version, 7);
        const [empty] = await memory.load([state.customerId]);
        await memory.write([{ loaded: empty!, state: structuredClone(state) }]);
      }
      // One more login per customer, a day after its latest event, on a stream of its own.
      const next = fixture.customers.map(({ state }, i) =>
        spec.deltaFor({ eventId: `fx-${i}`, customerId: state.customerId, eventTime: state.maxEventTime + DAY_MS, kind: 'login', payload: { device: 'web', success: true } }, { stream: 'fixture/0', offset: i }),
      );
      await store.apply(next);
      await memory.apply(next);
      const ids = fixture.customers.map((c) => c.state.customerId);
      assert.deepEqual(await store.get(ids), await memory.get(ids));
      for (const id of ids) assert.equal((await admin.hgetBuffer(store.keyOf(id), 'b'))![0], 2, `${id} migrated to format 2`);
    } finally {
      await store.close();
    }
  });

  test('a format-2 state read with another feature spec\'s layout is refused with CF_STATE_LAYOUT naming the rebuild', async () => {
    const keyPrefix = newPrefix();
    const store = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix, layout: spec.layout });
    try {
      await store.apply([spec.deltaFor({ eventId: 'l1', customerId: 'other-layout', eventTime: Date.UTC(2025, 0, 2), kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: 1 })]);
      const other = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix, layout: { ...spec.layout, merges: new Map([...spec.layout.merges].reverse()) } });
      try {
        await assert.rejects(other.load(['other-layout']), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_LAYOUT' && !err.retriable && /replaying the activity topic from Kafka/.test(err.message));
      } finally {
        await other.close();
      }
    } finally {
      await store.close();
    }
  });

  test('a state field of a newer format version is refused with CF_STATE_FORMAT naming the rebuild, not misread', async () => {
    const store = redisStore();
    try {
      await store.apply([spec.deltaFor({ eventId: 'f1', customerId: 'newer', eventTime: Date.UTC(2025, 0, 2), kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: 1 })]);
      const key = store.keyOf('newer');
      const b = (await admin.hgetBuffer(key, 'b'))!;
      b[0] = 9;
      await admin.hset(key, 'b', b);
      await assert.rejects(store.load(['newer']), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_FORMAT' && !err.retriable && /format version 9/.test(err.message) && /replaying the activity topic from Kafka/.test(err.message));
    } finally {
      await store.close();
    }
  });

  test('state gauges: customers and MEMORY USAGE per customer follow the data written', async () => {
    const store = redisStore();
    const metrics = createEngineMetrics({ defaultMetrics: false, instance: 'it' });
    const read = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;
    try {
      await refreshStateGauges(() => store.stats(), metrics);
      assert.equal(await read('churnflow_state_customers'), 0);
      const deltas = simulatedDeltas(30, 10, 17);
      await store.apply(deltas);
      const ids = idsOf(deltas);
      await refreshStateGauges(() => store.stats(), metrics);
      assert.equal(await read('churnflow_state_customers'), ids.length);
      const usage = await Promise.all(ids.map(async (id) => Number(await admin.memory('USAGE', store.keyOf(id), 'SAMPLES', '0'))));
      const perCustomer = (await read('churnflow_state_bytes_per_customer'))!;
      assert.equal(perCustomer, usage.reduce((a, b) => a + b, 0) / ids.length, 'the mean MEMORY USAGE of the keys');
      const more = simulatedDeltas(30, 60, 17).map((d) => ({ ...d, position: { ...d.position, stream: `${d.position.stream}b` } }));
      await store.apply(more);
      await refreshStateGauges(() => store.stats(), metrics);
      assert.ok((await read('churnflow_state_bytes_per_customer'))! > perCustomer, 'more days, more bytes per customer');
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- errors, restart
describe('redis store: failures', () => {
  test('a wrong-typed key is a conflict (not retriable); a closed store refuses; close is idempotent', async () => {
    const store = redisStore();
    await admin.set(store.keyOf('wrong'), 'not a hash');
    const d = spec.deltaFor({ eventId: 'w', customerId: 'wrong', eventTime: Date.UTC(2025, 0, 2), kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: 1 });
    await assert.rejects(store.apply([d]), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_CONFLICT' && !err.retriable);
    await store.close();
    await store.close();
    await assert.rejects(store.apply([d]), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_UNAVAILABLE');
  });

  test('no Redis listening: apply fails retriably with CF_STATE_UNAVAILABLE within seconds', async () => {
    const store = new RedisStateStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'nowhere:', layout: spec.layout, redisOptions: { maxRetriesPerRequest: 2 } });
    try {
      const d = spec.deltaFor({ eventId: 'n', customerId: 'n', eventTime: Date.UTC(2025, 0, 2), kind: 'login', payload: { device: 'web', success: true } }, { stream: 'p0', offset: 1 });
      const t0 = Date.now();
      await assert.rejects(store.apply([d]), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_UNAVAILABLE' && err.retriable);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await store.close();
    }
  });

  const port = Number(new URL(SERVICES.redisUrl).port || 6379);
  const scriptManaged = port === Number(process.env.CHURNFLOW_REDIS_PORT ?? 16390);
  test('Redis restarted and crashed (AOF) mid-stream: batches retried, final state exact', { skip: scriptManaged ? false : `Redis at ${SERVICES.redisUrl} is not managed by scripts/services/services.sh` }, async () => {
    const services = (...args: string[]) => promisify(execFile)('bash', [SERVICES_SH, ...args]);
    const aofBefore = ((await admin.config('GET', 'appendonly')) as string[])[1];
    if (aofBefore !== 'yes') await services('restart', 'redis', '--aof');
    const deltas = simulatedDeltas(60, 45, 17);
    const bs = batches(deltas, 256);
    const store = redisStore({ redisOptions: { maxRetriesPerRequest: 2 } });
    let retries = 0;
    try {
      const third = Math.floor(bs.length / 3);
      for (const b of bs.slice(0, third)) retries += await applyWithRetry(store, b);
      // 1. clean restart while a batch is in flight
      const inFlight = applyWithRetry(store, bs[third]!);
      await services('restart', 'redis');
      retries += await inFlight;
      for (const b of bs.slice(third + 1, 2 * third)) retries += await applyWithRetry(store, b);
      // 2. crash (SIGKILL): while down, a batch fails retriably; after the AOF replay it goes through
      await services('kill', 'redis');
      await assert.rejects(store.apply(bs[2 * third]!), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_UNAVAILABLE' && err.retriable);
      await services('start', 'redis');
      for (const b of bs.slice(2 * third)) retries += await applyWithRetry(store, b);
      assert.deepStrictEqual(await store.get(idsOf(deltas)), await referenceStates(deltas));
    } finally {
      await store.close();
      if (aofBefore !== 'yes') await services('restart', 'redis', '--no-aof');
      await admin.ping();
    }
    console.log(`# restart test: ${retries} batch retries`);
  });
});
