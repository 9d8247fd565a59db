// The one behaviour every StateStore must have (memory here; Redis runs the same suite against a real
// server). Each case builds deltas through the real compiled spec, so slots and merges are the production ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { DAY_MS, type ActivityEvent } from '../../src/events/activity-event.js';
import { DEFAULT_DEDUPE, outboxKey, type CustomerState } from '../../src/state/customer-state.js';
import { commitStaged, stageDeltas } from '../../src/state/stage-deltas.js';
import type { ChurnflowError } from '../../src/errors.js';
import type { StateStore } from '../../src/state/state-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { day, ev, profile } from '../helpers/events.js';

export type StoreFactory = (layout: ReturnType<typeof compileSpec>['layout']) => Promise<StateStore>;

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const at = (e: ActivityEvent, offset: number, stream = 'p0') => spec.deltaFor(e, { stream, offset });

/** The reference answer: the same deltas applied by the memory store. */
async function reference(deltas: Parameters<StateStore['apply']>[0]): Promise<(CustomerState | null)[]> {
  const mem = new MemoryStateStore({ layout: spec.layout });
  await mem.apply(deltas);
  return mem.get([...new Set(deltas.map((d) => d.customerId))]);
}

export function stateStoreContract(name: string, make: StoreFactory): void {
  const withStore = async (fn: (s: StateStore) => Promise<void>) => {
    const store = await make(spec.layout);
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };

  test(`${name}: applies deltas and returns features-ready state`, () =>
    withStore(async (store) => {
      const deltas = [at(profile('a', day(0)), 0), at(ev('login', 'a', day(1), { device: 'web', success: true }), 1), at(ev('login', 'a', day(2), { device: 'ios', success: true }), 2)];
      const res = await store.apply(deltas);
      assert.deepEqual(res.map((r) => r.outcomes), [['applied', 'applied', 'applied']]);
      const [state] = await store.get(['a']);
      assert.ok(state);
      const f = spec.evaluate(state, day(3));
      assert.equal(f[spec.columns.findIndex((c) => c.name === 'logins_7d')], 2);
    }));

  test(`${name}: a redelivered position is not applied twice (effectively once)`, () =>
    withStore(async (store) => {
      const d1 = at(ev('login', 'b', day(1), { device: 'web', success: true }), 10);
      const d2 = at(ev('login', 'b', day(1, 13), { device: 'web', success: true }), 11);
      await store.apply([d1, d2]);
      const again = await store.apply([d1, d2, at(ev('login', 'b', day(1, 14), { device: 'web', success: true }), 12)]);
      assert.deepEqual(again[0]!.outcomes, ['duplicate', 'duplicate', 'applied']);
      const [state] = await store.get(['b']);
      assert.equal(spec.evaluate(state!, day(2))[spec.columns.findIndex((c) => c.name === 'logins_7d')], 3);
      assert.deepEqual(state!.positions, { p0: 12 });
    }));

  test(`${name}: positions are tracked per source stream`, () =>
    withStore(async (store) => {
      await store.apply([at(ev('login', 'c', day(1), { device: 'web', success: true }), 5, 'p0')]);
      const res = await store.apply([at(ev('login', 'c', day(1, 13), { device: 'web', success: true }), 5, 'p1')]);
      assert.deepEqual(res[0]!.outcomes, ['applied']);
    }));

  test(`${name}: observer sees the state after each delta, in order`, () =>
    withStore(async (store) => {
      const seen: number[] = [];
      const idx = spec.columns.findIndex((c) => c.name === 'logins_30d');
      await store.apply(
        [1, 2, 3].map((n) => at(ev('login', 'd', day(n), { device: 'web', success: true }), n)),
        (state, delta) => seen.push(spec.evaluate(state, delta.eventTime + 1)[idx]!),
      );
      assert.deepEqual(seen, [1, 2, 3]);
    }));

  test(`${name}: an event before the customer's signup is refused and counted once`, () =>
    withStore(async (store) => {
      const p = profile('e', day(10), { signup_time: day(5) });
      const res = await store.apply([at(p, 0), at(ev('login', 'e', day(11), { device: 'web', success: true }), 1), at(ev('login', 'e', day(2), { device: 'web', success: true }), 2)]);
      assert.deepEqual(res[0]!.outcomes, ['applied', 'applied', 'before_signup']);
      const again = await store.apply([at(ev('login', 'e', day(2), { device: 'web', success: true }), 2)]);
      assert.deepEqual(again[0]!.outcomes, ['duplicate']);
    }));

  test(`${name}: buckets beyond retention fold into the archive; recency survives`, () =>
    withStore(async (store) => {
      const deltas = [at(ev('login', 'f', day(0), { device: 'web', success: true }), 0), at(ev('session', 'f', day(200), { duration_seconds: 60, content_items: 1, content_id: 'x' }), 1)];
      await store.apply(deltas);
      const [state] = await store.get(['f']);
      const keys = Object.keys(state!.buckets).map(Number);
      assert.ok(keys.every((k) => k >= Math.floor(day(200) / DAY_MS) - spec.layout.retentionDays), 'old buckets expired');
      const f = spec.evaluate(state!, day(201));
      assert.equal(f[spec.columns.findIndex((c) => c.name === 'logins_90d')], 0);
      assert.ok(Math.abs(f[spec.columns.findIndex((c) => c.name === 'days_since_last_login')]! - 201) < 1e-9);
      assert.deepEqual(state, (await reference(deltas))[0]);
    }));

  test(`${name}: same final state as the reference for an interleaved multi-customer batch`, () =>
    withStore(async (store) => {
      const events = [profile('g', day(0)), profile('h', day(0))];
      for (let i = 1; i < 60; i++) {
        events.push(ev('session', i % 2 ? 'g' : 'h', day(i % 40, i % 24), { duration_seconds: i * 10, content_items: 1, content_id: `m${i % 7}` }));
        events.push(ev('payment', i % 3 ? 'g' : 'h', day(i % 40, 3), { status: i % 5 ? 'SUCCEEDED' : 'FAILED', amount_cents: 999, discount_cents: 0, currency: 'USD' }));
      }
      const deltas = events.map((e, i) => at(e, i));
      await store.apply(deltas.slice(0, 50));
      await store.apply(deltas.slice(30)); // overlap: 30..49 are redeliveries
      assert.deepEqual(await store.get(['g', 'h']), await reference(deltas));
    }));

  test(`${name}: decisions and the last score are stored with the state change; get of unknown customer is null`, () =>
    withStore(async (store) => {
      const d = at(ev('login', 'i', day(1), { device: 'web', success: true }), 7);
      const staged = await stageDeltas(store, [d]);
      staged[0]!.state.outbox[outboxKey(d.position)] = '{"risk":{"event_id":"x","score":0.1}}';
      staged[0]!.state.lastScore = { score: 0.42, band: 'medium', modelName: 'm', modelVersion: '1.0.0', eventTime: day(1), riskEventId: 'r1' };
      staged[0]!.state.shadowScore = { score: 0.2, band: 'low', modelName: 'm', modelVersion: '1.1.0', eventTime: day(1), riskEventId: 'r2' };
      await commitStaged(store, staged);
      const [state, missing] = await store.get(['i', 'nobody']);
      assert.deepEqual(state!.shadowScore, { score: 0.2, band: 'low', modelName: 'm', modelVersion: '1.1.0', eventTime: day(1), riskEventId: 'r2' });
      assert.deepEqual(state!.lastScore, { score: 0.42, band: 'medium', modelName: 'm', modelVersion: '1.0.0', eventTime: day(1), riskEventId: 'r1' });
      assert.deepEqual(state!.outbox, { 'p0@7': '{"risk":{"event_id":"x","score":0.1}}' });
      assert.equal(missing, null);
      // A redelivery sees the position as applied and finds the stored decision beside it.
      const seen: string[] = [];
      await stageDeltas(store, [d], (st, delta, outcome) => seen.push(`${outcome}:${st.outbox[outboxKey(delta.position)]}`));
      assert.deepEqual(seen, ['duplicate:{"risk":{"event_id":"x","score":0.1}}']);
    }));

  test(`${name}: outbox entries below the committed offset are trimmed at the next write`, () =>
    withStore(async (store) => {
      const d = (n: number) => at(ev('login', 'j', day(1, n), { device: 'web', success: true }), n);
      let staged = await stageDeltas(store, [d(1), d(2)]);
      staged[0]!.state.outbox['p0@1'] = 'a';
      staged[0]!.state.outbox['p0@2'] = 'b';
      await commitStaged(store, staged);
      staged = await stageDeltas(store, [d(3)]);
      staged[0]!.state.outbox['p0@3'] = 'c';
      await commitStaged(store, staged, new Map([['p0', 2], ['other', 100]]));
      assert.deepEqual((await store.get(['j']))[0]!.outbox, { 'p0@2': 'b', 'p0@3': 'c' });
    }));

  test(`${name}: dropOutbox deletes committed entries at once, keeps the version, and a later write neither fences nor brings them back`, () =>
    withStore(async (store) => {
      const d = (n: number) => at(ev('login', 'm', day(1, n), { device: 'web', success: true }), n);
      let staged = await stageDeltas(store, [d(1), d(2)]);
      staged[0]!.state.outbox['p0@1'] = 'a';
      staged[0]!.state.outbox['p0@2'] = 'b';
      await commitStaged(store, staged);
      // Entries that are not there and customers the store does not know are skipped.
      await store.dropOutbox([{ customerId: 'm', keys: ['p0@1', 'p0@9'] }, { customerId: 'nobody', keys: ['p0@1'] }, { customerId: 'm', keys: [] }]);
      assert.deepEqual((await store.get(['m']))[0]!.outbox, { 'p0@2': 'b' });
      assert.deepEqual((await store.get(['nobody']))[0], null, 'no customer created');
      // What the next batch loads (a cached copy too) has lost the entry; the write is not fenced.
      staged = await stageDeltas(store, [d(3)]);
      assert.deepEqual({ ...staged[0]!.state.outbox }, { 'p0@2': 'b' });
      staged[0]!.state.outbox['p0@3'] = 'c';
      await commitStaged(store, staged);
      assert.deepEqual((await store.get(['m']))[0]!.outbox, { 'p0@2': 'b', 'p0@3': 'c' });
      await store.dropOutbox([{ customerId: 'm', keys: ['p0@2', 'p0@3'] }]);
      const [loaded] = await store.load(['m']);
      assert.deepEqual(loaded!.state.outbox, {});
      assert.equal(loaded!.version, 2, 'two writes; the deletes moved no version');
      assert.equal(spec.evaluate(loaded!.state, day(2))[spec.columns.findIndex((c) => c.name === 'logins_7d')], 3, 'the state itself is untouched');
    }));

  test(`${name}: a write is fenced on the version loaded (two writers: exactly one wins)`, () =>
    withStore(async (store) => {
      await store.apply([at(ev('login', 'k', day(1), { device: 'web', success: true }), 0)]);
      const a = await stageDeltas(store, [at(ev('login', 'k', day(2), { device: 'web', success: true }), 1)]);
      const b = await stageDeltas(store, [at(ev('login', 'k', day(3), { device: 'web', success: true }), 1)]);
      await commitStaged(store, a);
      await assert.rejects(commitStaged(store, b), (err: ChurnflowError) => err.code === 'CF_STATE_FENCED' && err.retriable);
      const [state] = await store.get(['k']);
      assert.equal(spec.evaluate(state!, day(4))[spec.columns.findIndex((c) => c.name === 'logins_7d')], 2, "only the winner's event counts");
      // The loser runs again from loading: its position is now a duplicate.
      const again = await stageDeltas(store, [at(ev('login', 'k', day(3), { device: 'web', success: true }), 1)]);
      assert.deepEqual(again[0]!.outcomes, ['duplicate']);
    }));

  test(`${name}: the same event_id at another position changes nothing (content duplicate)`, () =>
    withStore(async (store) => {
      const e = ev('login', 'l', day(1), { device: 'web', success: true }, 'evt-1');
      const res = await store.apply([at(e, 0), at(e, 1), at(ev('login', 'l', day(1, 13), { device: 'web', success: true }, 'evt-2'), 2)]);
      assert.deepEqual(res[0]!.outcomes, ['applied', 'duplicate_event', 'applied']);
      const later = await store.apply([at(e, 3, 'p1')]);
      assert.deepEqual(later[0]!.outcomes, ['duplicate_event'], 'seen again on another stream');
      const [state] = await store.get(['l']);
      assert.equal(spec.evaluate(state!, day(2))[spec.columns.findIndex((c) => c.name === 'logins_7d')], 2);
      assert.deepEqual(state!.positions, { p0: 2, p1: 3 }, 'the duplicate still moves its position');
    }));

  test(`${name}: content-duplicate memory is bounded by the horizon and the cap`, () =>
    withStore(async (store) => {
      const deltas = Array.from({ length: 100 }, (_, i) => at(ev('login', 'm', day(1) + i * 60_000, { device: 'web', success: true }, `e${i}`), i));
      await store.apply(deltas);
      const [state] = await store.get(['m']);
      const { horizonMs, maxIds } = store.rules.dedupe ?? DEFAULT_DEDUPE;
      assert.ok(state!.recentEvents.length <= maxIds);
      assert.ok(state!.recentEvents.every(([, t]) => t >= state!.maxEventTime - horizonMs));
      // Beyond the horizon an id is forgotten: the same event_id much later is applied again.
      const far = await store.apply([at(ev('login', 'm', day(1), { device: 'web', success: true }, 'e0'), 200)]);
      assert.deepEqual(far[0]!.outcomes, ['applied']);
    }));

  test(`${name}: scan pages through every customer`, () =>
    withStore(async (store) => {
      await store.apply(['s1', 's2', 's3', 's4', 's5'].map((c, i) => at(ev('login', c, day(1), { device: 'web', success: true }), i)));
      const ids: string[] = [];
      for await (const page of store.scan(2)) ids.push(...page.map((s) => s.customerId));
      assert.deepEqual(ids.filter((id) => id.startsWith('s')).sort(), ['s1', 's2', 's3', 's4', 's5']);
      const stats = await store.stats();
      assert.ok(stats.customers >= 5 && stats.bytes > 0);
    }));

  test(`${name}: scanIds pages through every customer id without loading state, unique or not`, () =>
    withStore(async (store) => {
      await store.apply(['t1', 't2', 't3', 't4', 't5', 't6', 't7'].map((c, i) => at(ev('login', c, day(1), { device: 'web', success: true }), i)));
      for (const unique of [true, false]) {
        const pages: string[][] = [];
        for await (const page of store.scanIds(3, { unique })) pages.push(page);
        assert.ok(pages.every((p) => p.length <= 3), `pages of at most 3: ${pages.map((p) => p.length).join(',')}`);
        const ids = pages.flat().filter((id) => id.startsWith('t'));
        assert.deepEqual([...new Set(ids)].sort(), ['t1', 't2', 't3', 't4', 't5', 't6', 't7'], `unique ${unique}`);
        if (unique) assert.equal(ids.length, 7);
      }
    }));
}
