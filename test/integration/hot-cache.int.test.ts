// The hot cache (src/state/hot-cache.ts) on the real Redis: a customer already written is served without
// a read and its state stays what Redis holds (a batch that fails before its write leaves no changed
// copy behind); a partition that moves away and back while another
// instance changed the customer is read fresh; a missed revocation is caught by the fence; a write
// that failed or may have failed is never trusted; the bounds hold. (The store contract runs through
// the cache in redis-store.int.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import type { ChurnflowError } from '../../src/errors.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../src/simulator/index.js';
import { HotCachedStore, type HotCacheOptions, type WriteReturningStore } from '../../src/state/hot-cache.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { encodeChanges, RedisStateStore } from '../../src/state/redis-store.js';
import { commitStaged, stageDeltas } from '../../src/state/stage-deltas.js';
import type { CustomerWrite, LoadedCustomer } from '../../src/state/state-store.js';
import { day, ev } from '../helpers/events.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import { fixedClock } from '../../src/time/clock.js';
import { outboxAtRest, redisTestKeys } from '../helpers/redis.js';
import { runScoring } from '../helpers/run-scoring.js';
import { SERVICES } from '../helpers/services.js';
import { simulatedStreamDeltas } from '../helpers/simulated-deltas.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const { admin, newPrefix } = redisTestKeys('cf-hot');
const logins7d = spec.columns.findIndex((c) => c.name === 'logins_7d');
const login = (customer: string, d: number, offset: number, stream = 'activity/0') =>
  spec.deltaFor(ev('login', customer, day(d), { device: 'web', success: true }, `${customer}-${stream}-${offset}`), { stream, offset });

/** A Redis store that counts the customers it reads (load) and can fail a write after it reached Redis. */
class CountingRedis extends RedisStateStore implements WriteReturningStore {
  reads = 0;
  failNextWriteAfterApplying = false;
  override async load(ids: readonly string[]): Promise<LoadedCustomer[]> {
    this.reads += ids.length;
    return super.load(ids);
  }
  /** Per write, the outbox fields it set or deleted (what encodeChanges sends for it). */
  outboxFieldsSent: string[][] = [];
  override async writeReturning(writes: readonly CustomerWrite[]): Promise<readonly (LoadedCustomer | undefined)[]> {
    for (const w of writes) {
      const { set, del } = encodeChanges(w.state, w.loaded.stored as Parameters<typeof encodeChanges>[1], spec.layout.merges);
      this.outboxFieldsSent.push([...set.filter((f, i) => i % 2 === 0 && String(f).startsWith('o:')).map(String), ...del.filter((f) => f.startsWith('o:')).map((f) => `-${f}`)]);
    }
    const after = await super.writeReturning(writes);
    if (this.failNextWriteAfterApplying) {
      this.failNextWriteAfterApplying = false;
      throw new Error('connection lost before the reply (the script ran)');
    }
    return after;
  }
}

function cached(prefix: string, options: Partial<HotCacheOptions> = {}) {
  const redis = new CountingRedis({ url: SERVICES.redisUrl, keyPrefix: prefix, layout: spec.layout });
  const hits = { n: 0 };
  const store = new HotCachedStore(redis, { maxCustomers: 10_000, maxBytes: 256 * 1024 * 1024, onHits: (n) => (hits.n += n), ...options });
  return { redis, store, hits };
}

test('a customer already written is not read again; every state equals the memory store after a simulated stream', async () => {
  const { redis, store, hits } = cached(newPrefix());
  const sim = resolveSimulatorOptions({ customers: 60, days: 40, seed: 5 });
  const deltas = simulatedStreamDeltas(spec, sim);
  const memory = new MemoryStateStore({ layout: spec.layout });
  try {
    for (let i = 0; i < deltas.length; i += 200) {
      const batch = deltas.slice(i, i + 200);
      await store.apply(batch);
      await memory.apply(batch);
    }
    const customers = [...new Set(deltas.map((d) => d.customerId))];
    assert.equal(redis.reads, customers.length, 'each customer read from Redis once, on its first batch');
    assert.ok(hits.n > customers.length, `reads avoided: ${hits.n}`);
    assert.deepEqual(await store.get(customers), await memory.get(customers), 'Redis holds exactly the memory store\'s states');
  } finally {
    await store.close();
  }
});

test('a partition that moves away and back while the other instance changed the customer: the stale copy is not used', async () => {
  const prefix = newPrefix();
  const a = cached(prefix);
  const b = cached(prefix);
  try {
    await a.store.apply([login('c1', 1, 0), login('c1', 2, 1)]);
    assert.equal(a.store.size, 1);
    // Rebalance: activity/0 moves to b, which applies the next records.
    a.store.revoke(['activity/0', 'activity/2']);
    assert.equal(a.store.size, 0, 'the revoked partition\'s customers left the cache');
    await b.store.apply([login('c1', 3, 2), login('c1', 4, 3)]);
    // And back to a.
    const readsBefore = a.redis.reads;
    const [res] = await a.store.apply([login('c1', 5, 4)]);
    assert.deepEqual(res!.outcomes, ['applied']);
    assert.equal(a.redis.reads, readsBefore + 1, 'read from Redis, not from the cache');
    const [state] = await a.store.get(['c1']);
    assert.deepEqual(state!.positions, { 'activity/0': 4 });
    assert.equal(spec.evaluate(state!, day(6))[logins7d], 5, "b's two logins count");
  } finally {
    await a.store.close();
    await b.store.close();
  }
});

test('a revocation the instance missed: its stale copy fails the fence (CF_STATE_FENCED), the cache is dropped, the rerun sees the other writer', async () => {
  const prefix = newPrefix();
  const a = cached(prefix);
  const b = cached(prefix);
  try {
    await a.store.apply([login('c2', 1, 0), login('d2', 1, 0, 'activity/1')]);
    await b.store.apply([login('c2', 2, 1)]); // a never heard of the rebalance
    await assert.rejects(a.store.apply([login('c2', 3, 2)]), (err: ChurnflowError) => err.code === 'CF_STATE_FENCED' && err.retriable);
    assert.equal(a.store.size, 0, 'a fence failure drops every cached copy');
    const [res] = await a.store.apply([login('c2', 3, 2)]);
    assert.deepEqual(res!.outcomes, ['applied']);
    const [state] = await a.store.get(['c2']);
    assert.equal(spec.evaluate(state!, day(4))[logins7d], 3);
  } finally {
    await a.store.close();
    await b.store.close();
  }
});

test('a batch that fails between staging and its write leaves nothing changed behind: the customer is read again, as Redis holds it', async () => {
  const a = cached(newPrefix());
  try {
    await a.store.apply([login('c5', 1, 0)]);
    // The cache hands its own object to the batch (no copy): staging changes it in place...
    const staged = await stageDeltas(a.store, [login('c5', 2, 1), login('c5', 3, 2)]);
    assert.equal(a.redis.reads, 1, 'served from the cache');
    assert.equal(spec.evaluate(staged[0]!.state, day(3) + 1)[logins7d], 3);
    // ...and the batch fails before commitStaged (scoring, a sink): the changed object must not be served again.
    assert.equal(a.store.size, 0, 'a loaded customer is out of the cache until its write');
    const again = await stageDeltas(a.store, [login('c5', 2, 1)]);
    assert.equal(a.redis.reads, 2, 'read from Redis after the failed batch');
    assert.deepEqual(again[0]!.outcomes, ['applied'], 'Redis does not hold offset 1: it is applied now, once');
    await commitStaged(a.store, again);
    assert.equal(spec.evaluate((await a.store.get(['c5']))[0]!, day(2) + 1)[logins7d], 2);
    await a.store.apply([login('c5', 3, 2)]);
    assert.equal(a.redis.reads, 2, 'cached again after the successful write');
    assert.equal(spec.evaluate((await a.store.get(['c5']))[0]!, day(3) + 1)[logins7d], 3);
  } finally {
    await a.store.close();
  }
});

test('customers loaded before a revocation are written but not kept', async () => {
  const a = cached(newPrefix());
  try {
    await a.store.apply([login('c3', 1, 0)]);
    const staged = await stageDeltas(a.store, [login('c3', 2, 1)]);
    a.store.revoke(['activity/0']);
    await commitStaged(a.store, staged); // the in-flight batch finishes, as without the cache
    assert.equal(a.store.size, 0);
    const reads = a.redis.reads;
    await a.store.apply([login('c3', 3, 2)]);
    assert.equal(a.redis.reads, reads + 1);
  } finally {
    await a.store.close();
  }
});

test('a write that failed after reaching Redis drops its customers: the next batch reloads and is not fenced', async () => {
  const a = cached(newPrefix());
  try {
    await a.store.apply([login('c4', 1, 0), login('e4', 1, 0, 'activity/1')]);
    a.redis.failNextWriteAfterApplying = true;
    await assert.rejects(a.store.apply([login('c4', 2, 1)]), /connection lost/);
    assert.equal(a.store.size, 1, 'only the customer of the failed write left');
    const reads = a.redis.reads;
    // The batch runs again: Redis has the write, so the rerun finds its position applied.
    const [res] = await a.store.apply([login('c4', 2, 1)]);
    assert.deepEqual(res!.outcomes, ['duplicate']);
    assert.equal(a.redis.reads, reads + 1);
    const [next] = await a.store.apply([login('c4', 3, 2)]);
    assert.deepEqual(next!.outcomes, ['applied']);
    assert.equal(spec.evaluate((await a.store.get(['c4']))[0]!, day(4))[logins7d], 3);
  } finally {
    await a.store.close();
  }
});

test('the cache keeps at most maxCustomers (least recently used leave first) and maxBytes', async () => {
  const a = cached(newPrefix(), { maxCustomers: 2 });
  try {
    await a.store.apply([login('x1', 1, 0), login('x2', 1, 1), login('x3', 1, 2)]);
    assert.equal(a.store.size, 2);
    const reads = a.redis.reads;
    await a.store.apply([login('x3', 2, 3), login('x1', 2, 4)]);
    assert.equal(a.redis.reads, reads + 1, 'x3 was kept, x1 (the oldest) was not');
  } finally {
    await a.store.close();
  }
  const small = cached(newPrefix(), { maxBytes: 3000 });
  try {
    await small.store.apply(['y1', 'y2', 'y3', 'y4', 'y5'].map((c, i) => login(c, 1, i)));
    assert.ok(small.store.size >= 1 && small.store.size < 5, `kept ${small.store.size} within 3000 bytes`);
  } finally {
    await small.store.close();
  }
});

test('dropOutbox deletes the fields in Redis and in the cached copy: the next write neither re-sends nor deletes them again', async () => {
  const prefix = newPrefix();
  const a = cached(prefix);
  try {
    const staged = await stageDeltas(a.store, [login('o1', 1, 0), login('o1', 2, 1)]);
    staged[0]!.state.outbox['activity/0@0'] = 'd0';
    staged[0]!.state.outbox['activity/0@1'] = 'd1';
    await commitStaged(a.store, staged);
    assert.deepEqual(a.redis.outboxFieldsSent.at(-1), ['o:activity/0@0', 'o:activity/0@1']);
    await a.store.dropOutbox([{ customerId: 'o1', keys: ['activity/0@0', 'activity/0@1'] }]);
    assert.deepEqual((await admin.hkeys(`${prefix}{c:o1}`)).sort(), ['b', 'v'], 'the fields are gone from Redis; the state and version stay');
    const reads = a.redis.reads;
    const next = await stageDeltas(a.store, [login('o1', 3, 2)]);
    assert.equal(a.redis.reads, reads, 'served from the cache');
    assert.deepEqual({ ...next[0]!.state.outbox }, {}, 'the cached copy lost them too');
    next[0]!.state.outbox['activity/0@2'] = 'd2';
    await commitStaged(a.store, next);
    assert.deepEqual(a.redis.outboxFieldsSent.at(-1), ['o:activity/0@2'], 'only the new entry is sent: no re-send, no second delete');
    assert.equal(await admin.hget(`${prefix}{c:o1}`, 'v'), '2', 'the deletes moved no version; both writes passed the fence');
  } finally {
    await a.store.close();
  }
});

test('the scoring topology on Redis with the hot cache leaves no committed outbox field once drained', async () => {
  const prefix = newPrefix();
  const a = cached(prefix);
  const sim = resolveSimulatorOptions({ customers: 60, days: 30, seed: 11 });
  const now = simulationEndTime(sim);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  try {
    const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), a.store, spec, model, now, { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 256 });
    assert.ok(run.risk.length > 10, `decisions stored: ${run.risk.length}`);
    assert.ok(a.redis.outboxFieldsSent.some((f) => f.length > 0), 'outbox entries were written');
    const { customers, fields } = await outboxAtRest(admin, prefix);
    assert.ok(customers > 30, `customers stored: ${customers}`);
    assert.deepEqual(fields, [], 'no outbox field left at rest');
  } finally {
    await model.close();
    await a.store.close();
  }
});
