// Write-behind on the real Redis (src/state/hot-cache.ts defer/flush, src/state/pending-states.ts,
// src/operators/commit-schedule.ts): undecided states wait in the cache and are written once; a batch
// that fails while holding one, and a flush fenced by another writer, rebuild it from Redis and its redo
// log, so every event counts exactly once; commits stop before the first unwritten record; and the
// scoring topology writes the same states and risk events with write-behind as without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../src/simulator/index.js';
import { FLUSH_CHUNK, HotCachedStore, type RedoHook, type WriteReturningStore } from '../../src/state/hot-cache.js';
import { publishedLastScore, restoreEmitMemory } from '../../src/scoring/restore-emit-memory.js';
import { lastScoreOf } from '../../src/scoring/current-risk.js';
import { encodeDecision } from '../../src/scoring/stored-decision.js';
import { outboxKey } from '../../src/state/customer-state.js';
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { commitStaged, stageDeltas } from '../../src/state/stage-deltas.js';
import type { CustomerWrite, LoadedCustomer } from '../../src/state/state-store.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import { fixedClock } from '../../src/time/clock.js';
import { day, ev } from '../helpers/events.js';
import { outboxAtRest, redisTestKeys } from '../helpers/redis.js';
import { runScoring } from '../helpers/run-scoring.js';
import { SERVICES } from '../helpers/services.js';
import { simulatedStreamDeltas } from '../helpers/simulated-deltas.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const { admin, newPrefix } = redisTestKeys('cf-wb');

const logins7d = spec.columns.findIndex((c) => c.name === 'logins_7d');
const login = (customer: string, d: number, offset: number, stream = 'activity/0') =>
  spec.deltaFor(ev('login', customer, day(d), { device: 'web', success: true }, `${customer}-${stream}-${offset}`), { stream, offset });

/** Counts the customers written and read. */
class CountingRedis extends RedisStateStore implements WriteReturningStore {
  reads = 0;
  writes = 0;
  /** Customers per writeReturning call. */
  readonly calls: number[] = [];
  override async load(ids: readonly string[]): Promise<LoadedCustomer[]> {
    this.reads += ids.length;
    return super.load(ids);
  }
  override async writeReturning(writes: readonly CustomerWrite[]): Promise<readonly (LoadedCustomer | undefined)[]> {
    this.writes += writes.length;
    this.calls.push(writes.length);
    return super.writeReturning(writes);
  }
}

function cached(prefix: string, options: { readonly restore?: RedoHook } = {}) {
  const redis = new CountingRedis({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout });
  return { redis, store: new HotCachedStore(redis, { maxCustomers: 10_000, maxBytes: 256 * 1024 * 1024, ...options }) };
}

/** An engine killed before any of its pending states was written: flushes store nothing. */
class NeverFlushed extends HotCachedStore {
  override async flush(): Promise<void> {}
}

test('undecided states wait unwritten and are written once; Redis then holds exactly the memory store\'s states', async () => {
  const { redis, store } = cached(newPrefix());
  const sim = resolveSimulatorOptions({ customers: 40, days: 30, seed: 9 });
  const deltas = simulatedStreamDeltas(spec, sim);
  const memory = new MemoryStateStore({ layout: spec.layout });
  try {
    let t = 0;
    for (let i = 0; i < deltas.length; i += 100) {
      const batch = deltas.slice(i, i + 100);
      const staged = await stageDeltas(store, batch);
      assert.deepEqual(store.defer(staged, t++), [], 'every customer loaded in this epoch is taken');
      await memory.apply(batch);
    }
    const customers = [...new Set(deltas.map((d) => d.customerId))];
    assert.equal(redis.writes, 0, 'nothing written before the flush');
    assert.equal(redis.reads, customers.length, 'each customer read once: later batches got the pending copy');
    assert.equal(store.pendingCustomers, customers.length);
    await store.flush();
    assert.equal(redis.writes, customers.length, 'each customer written once');
    assert.equal(store.pendingCustomers, 0);
    assert.deepEqual(await store.get(customers), await memory.get(customers));
  } finally {
    await store.close();
  }
});

test('a flush writes in pipelined writes of at most FLUSH_CHUNK customers, oldest first, and stores every state', async () => {
  const { redis, store } = cached(newPrefix());
  const n = 2 * FLUSH_CHUNK + 37;
  const deltas = Array.from({ length: n }, (_, i) => login(`c${i}`, 1, i));
  const memory = new MemoryStateStore({ layout: spec.layout });
  try {
    store.defer(await stageDeltas(store, deltas), 100);
    await memory.apply(deltas);
    await store.flush();
    assert.deepEqual(redis.calls, [FLUSH_CHUNK, FLUSH_CHUNK, 37], 'three writes, none above the chunk');
    assert.equal(store.pendingCustomers, 0);
    const ids = deltas.map((d) => d.customerId);
    assert.deepEqual(await store.get(ids), await memory.get(ids));
  } finally {
    await store.close();
  }
});

test('flush(until) writes only the states pending since then, oldest first; firstUnwritten follows them', async () => {
  const { redis, store } = cached(newPrefix());
  try {
    store.defer(await stageDeltas(store, [login('a', 1, 10), login('b', 1, 11)]), 100);
    store.defer(await stageDeltas(store, [login('c', 1, 12), login('a', 2, 13)]), 200);
    assert.equal(store.firstUnwritten('activity/0'), 10, "a's first unwritten record");
    assert.equal(store.firstUnwritten('activity/1'), undefined);
    await store.flush(150);
    assert.equal(redis.writes, 2, 'a and b (pending since 100), not c');
    assert.equal(store.firstUnwritten('activity/0'), 12, "c's record is the first unwritten now");
    const [a] = await store.get(['a']);
    assert.equal(spec.evaluate(a!, day(2) + 1)[logins7d], 2, "a's later delta (offset 13) went with its write");
    await store.flush(undefined, 1);
    assert.equal(store.firstUnwritten('activity/0'), undefined);
  } finally {
    await store.close();
  }
});

test('a batch that fails while holding a pending state: the next load rebuilds it from Redis and the redo log', async () => {
  const { redis, store } = cached(newPrefix());
  try {
    await store.apply([login('r1', 1, 0)]); // written: version 1
    store.defer(await stageDeltas(store, [login('r1', 2, 1)]), 0);
    store.defer(await stageDeltas(store, [login('r1', 3, 2)]), 1);
    // A batch takes the pending state, changes it, and fails before its write or defer.
    const failed = await stageDeltas(store, [login('r1', 4, 3)]);
    assert.deepEqual(failed[0]!.outcomes, ['applied']);
    const reads = redis.reads;
    const rerun = await stageDeltas(store, [login('r1', 4, 3)]);
    assert.equal(redis.reads, reads + 1, 'rebuilt from Redis');
    assert.deepEqual(rerun[0]!.outcomes, ['applied'], 'offset 3 was not kept from the failed batch');
    assert.equal(spec.evaluate(rerun[0]!.state, day(4) + 1)[logins7d], 4, 'the deferred logins of days 2 and 3 are back');
    await commitStaged(store, rerun);
    assert.equal(store.pendingCustomers, 0, 'written with the batch: nothing pending');
    assert.deepEqual((await store.get(['r1']))[0]!.positions, { 'activity/0': 3 });
  } finally {
    await store.close();
  }
});

test('decisions written ahead of the state: a rebuild (a batch failed while holding it) restores the emit memory they left; the flush then stores it with the state', async () => {
  const prefix = newPrefix();
  const { redis, store } = cached(prefix, { restore: restoreEmitMemory });
  const risk = (id: string, score: number, t: number) => ({ event_id: id, customer_id: 'd1', score, band: 'high', model_name: 'm', model_version: '1', event_time: t }) as unknown as RiskEventRecord;
  try {
    // A batch decides offset 0: its entry and last score as persist-decisions sets them, then only the entry is written.
    const first = await stageDeltas(store, [login('d1', 1, 0)]);
    first[0]!.state.outbox[outboxKey({ stream: 'activity/0', offset: 0 })] = encodeDecision({ risk: risk('r0', 0.9, day(1)) });
    first[0]!.state.lastScore = lastScoreOf(risk('r0', 0.9, day(1)));
    const { rest, fenced } = await store.writeDecisions(first, 0);
    assert.deepEqual([rest.length, fenced.length], [0, 0], 'taken: decisions written, the state pending');
    assert.equal(redis.writes, 0, 'no state write');
    assert.equal(store.pendingCustomers, 1);
    assert.equal(store.firstUnwritten('activity/0'), 0, 'commits stay below the decided record');
    // Redis holds the entry and a version, no state: a load elsewhere reads an empty state with that outbox.
    const elsewhere = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout });
    try {
      const [seen] = await elsewhere.load(['d1']);
      assert.equal(seen!.version, 1);
      assert.deepEqual(Object.keys(seen!.state.outbox), ['activity/0@0']);
      assert.equal(seen!.state.lastScore, null);
      assert.deepEqual(publishedLastScore(seen!.state), lastScoreOf(risk('r0', 0.9, day(1))), 'the lookup answers the decision stored ahead');
    } finally {
      await elsewhere.close();
    }
    // A batch takes the pending state and fails; the rerun rebuilds it from Redis and the redo log.
    await stageDeltas(store, [login('d1', 2, 1)]);
    const rerun = await stageDeltas(store, [login('d1', 2, 1)]);
    assert.deepEqual(rerun[0]!.outcomes, ['applied']);
    assert.deepEqual(rerun[0]!.state.lastScore, lastScoreOf(risk('r0', 0.9, day(1))), 'the memory the stored decision left');
    assert.equal(spec.evaluate(rerun[0]!.state, day(2) + 1)[logins7d], 2, 'offset 0 re-applied from the redo log');
    store.defer(rerun, 1);
    await store.flush();
    assert.equal(store.pendingCustomers, 0);
    const [stored] = await redis.get(['d1']);
    assert.deepEqual(stored!.lastScore, lastScoreOf(risk('r0', 0.9, day(1))), 'written with the state');
    assert.deepEqual(stored!.positions, { 'activity/0': 1 });
  } finally {
    await store.close();
  }
});

test('a flush fenced by another writer (a partition that moved) rebuilds on its copy: each event counts once', async () => {
  const prefix = newPrefix();
  const a = cached(prefix);
  const b = cached(prefix);
  const c = cached(prefix);
  try {
    await a.store.apply([login('f1', 1, 0)]);
    a.store.defer(await stageDeltas(a.store, [login('f1', 2, 1), login('f1', 3, 2)]), 0);
    // The partition moved: b replays from the last commit (offset 1) and gets one record further than a.
    await b.store.apply([login('f1', 2, 1)]);
    await b.store.apply([login('f1', 3, 2), login('f1', 4, 3)]);
    await a.store.flush();
    assert.equal(a.store.pendingCustomers, 0);
    const [state] = await a.store.get(['f1']);
    assert.deepEqual(state!.positions, { 'activity/0': 3 });
    assert.equal(spec.evaluate(state!, day(4) + 1)[logins7d], 4, 'four logins, none twice');
    // And a writer behind (a third instance, reading fresh): a applied more than it did; a's flush adds what it lacks.
    a.store.defer(await stageDeltas(a.store, [login('f1', 5, 4), login('f1', 6, 5)]), 0);
    await c.store.apply([login('f1', 5, 4)]);
    await a.store.flush();
    const [after] = await a.store.get(['f1']);
    assert.deepEqual(after!.positions, { 'activity/0': 5 });
    assert.equal(spec.evaluate(after!, day(6) + 1)[logins7d], 6);
  } finally {
    await a.store.close();
    await b.store.close();
    await c.store.close();
  }
});

test('get() answers a pending customer as applied (Redis lacks its latest events), also while a batch holds it', async () => {
  const { store } = cached(newPrefix());
  try {
    await store.apply([login('g1', 1, 0)]);
    store.defer(await stageDeltas(store, [login('g1', 2, 1), login('new', 2, 2)]), 0);
    const [g1, fresh] = await store.get(['g1', 'new']);
    assert.equal(spec.evaluate(g1!, day(2) + 1)[logins7d], 2, 'the pending login counts');
    assert.ok(fresh, 'a customer Redis does not know yet, pending: answered');
    const held = await stageDeltas(store, [login('g1', 3, 3)]); // a batch holds g1 now
    const [during] = await store.get(['g1']);
    assert.notEqual(during, held[0]!.state, 'a copy, not the object the batch changes');
    assert.equal(spec.evaluate(during!, day(3) + 1)[logins7d], 2, 'Redis plus the redo log: what was applied before this batch');
    store.defer(held, 1);
    await store.flush();
    assert.equal(spec.evaluate((await store.get(['g1']))[0]!, day(3) + 1)[logins7d], 3);
  } finally {
    await store.close();
  }
});

test('customers loaded before a revocation are not taken: the caller writes them at once', async () => {
  const { store } = cached(newPrefix());
  try {
    const staged = await stageDeltas(store, [login('v1', 1, 0)]);
    store.revoke(['activity/0']);
    const rest = store.defer(staged, 0);
    assert.equal(rest.length, 1);
    assert.equal(store.pendingCustomers, 0);
  } finally {
    await store.close();
  }
});

test('dropOutbox reaches a pending copy: its flush neither re-sends nor restores the entries', async () => {
  const prefix = newPrefix();
  const { store } = cached(prefix);
  try {
    const staged = await stageDeltas(store, [login('o1', 1, 0)]);
    staged[0]!.state.outbox['activity/0@0'] = 'd0';
    await commitStaged(store, staged);
    store.defer(await stageDeltas(store, [login('o1', 2, 1)]), 0);
    await store.dropOutbox([{ customerId: 'o1', keys: ['activity/0@0'] }]);
    await store.flush();
    assert.deepEqual({ ...(await store.get(['o1']))[0]!.outbox }, {});
  } finally {
    await store.close();
  }
});

test('the scoring topology with write-behind writes the same states and risk events as without (early flushes too)', async () => {
  const sim = resolveSimulatorOptions({ customers: 80, days: 45, seed: 17 });
  const now = simulationEndTime(sim);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  const runs: { risk: string[]; states: unknown[]; writes: number }[] = [];
  const variants = [undefined, { delayMs: 60_000, maxPending: 10_000 }, { delayMs: 60_000, maxPending: 7 }, { delayMs: 60_000, maxPending: 10_000 }, { delayMs: 60_000, maxPending: 7 }];
  try {
    for (const [v, writeBehind] of variants.entries()) {
      const prefix = newPrefix();
      // The last two: decided customers store their decisions ahead of their states (as the engine does).
      const { redis, store } = cached(prefix, v >= 3 ? { restore: restoreEmitMemory } : {});
      try {
        const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), store, spec, model, now, { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 256, ...(writeBehind ? { writeBehind } : {}) });
        assert.equal(store.pendingCustomers, 0, 'drained: nothing left unwritten');
        // Commits trail the decisions with write-behind; the entries of every commit still go.
        assert.deepEqual((await outboxAtRest(admin, prefix)).fields, [], 'no outbox field left at rest');
        const customers = [...new Set(simulatedStreamDeltas(spec, sim).map((d) => d.customerId))].sort();
        // Outbox entries aside: they are deleted after commits, which come at different points.
        runs.push({ risk: run.risk.map((r) => JSON.stringify(r)), states: (await store.get(customers)).map((s) => s && { ...s, outbox: {} }), writes: redis.writes });
      } finally {
        await store.close();
      }
    }
  } finally {
    await model.close();
  }
  const [plain, behind, early, ahead, aheadEarly] = runs;
  assert.ok(plain!.risk.length > 10);
  assert.deepEqual(behind!.risk, plain!.risk, 'the same risk events, byte for byte');
  assert.deepEqual(behind!.states, plain!.states, 'the same states in Redis');
  assert.deepEqual(early!.risk, plain!.risk);
  assert.deepEqual(early!.states, plain!.states);
  assert.ok(behind!.writes < plain!.writes / 2, `write-behind wrote ${behind!.writes} customers, per batch ${plain!.writes}`);
  assert.deepEqual(ahead!.risk, plain!.risk, 'decisions ahead of states: the same risk events');
  assert.deepEqual(ahead!.states, plain!.states, 'decisions ahead of states: the same states');
  assert.deepEqual(aheadEarly!.risk, plain!.risk);
  assert.deepEqual(aheadEarly!.states, plain!.states);
  assert.ok(ahead!.writes < behind!.writes, `decided customers' states wait too: ${ahead!.writes} state writes, ${behind!.writes} with decided ones written at once`);
});

test('decisions stored ahead of their states: an engine killed before any state write; the next one re-applies every record and re-emits the stored decisions byte for byte, deciding the rest against the memory they left', async () => {
  const sim = resolveSimulatorOptions({ customers: 60, days: 45, seed: 23 });
  const now = simulationEndTime(sim);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  const options = { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 256, writeBehind: { delayMs: 60_000, maxPending: 10_000 } };
  const customers = [...new Set(simulatedStreamDeltas(spec, sim).map((d) => d.customerId))].sort();
  try {
    // The reference: an uninterrupted run.
    const plainPrefix = newPrefix();
    const plain = cached(plainPrefix);
    let reference: { risk: string[]; states: unknown[] };
    try {
      const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), plain.store, spec, model, now, options);
      reference = { risk: run.risk.map((r) => JSON.stringify(r)), states: (await plain.store.get(customers)).map((s) => s && { ...s, outbox: {} }) };
    } finally {
      await plain.store.close();
    }
    const prefix = newPrefix();
    // The first engine: its decisions reach Redis, none of its states does.
    const redis1 = new CountingRedis({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout });
    const killed = new NeverFlushed(redis1, { maxCustomers: 10_000, maxBytes: 256 * 1024 * 1024, restore: restoreEmitMemory });
    try {
      const first = await runScoring(createSimulatorSource(sim, fixedClock(now)), killed, spec, model, now, options);
      assert.deepEqual(first.risk.map((r) => JSON.stringify(r)), reference.risk, 'the first engine published what an uninterrupted run does');
      assert.equal(redis1.writes, 0, 'no state written');
      assert.ok(killed.pendingCustomers > 0);
    } finally {
      await killed.close();
    }
    const stored = await outboxAtRest(admin, prefix);
    assert.ok(stored.fields.length >= reference.risk.length, `every decision stored (${stored.fields.length} entries for ${reference.risk.length} risk events)`);
    // The next engine reads the same records again (nothing was committed past them).
    const next = cached(prefix, { restore: restoreEmitMemory });
    try {
      const second = await runScoring(createSimulatorSource(sim, fixedClock(now + 3_600_000)), next.store, spec, model, now + 3_600_000, options);
      assert.deepEqual(second.risk.map((r) => JSON.stringify(r)), reference.risk, 'the same risk events again, byte for byte (processing_time included: stored, not decided again)');
      assert.deepEqual((await next.store.get(customers)).map((s) => s && { ...s, outbox: {} }), reference.states, 'the states of an uninterrupted run');
      const last = await next.store.get([customers[0]!]);
      assert.ok(last[0]?.lastScore, 'the emit memory is stored');
    } finally {
      await next.store.close();
    }
  } finally {
    await model.close();
  }
});
