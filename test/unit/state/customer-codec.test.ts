import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../../src/errors.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../../src/simulator/index.js';
import { readFileSync } from 'node:fs';
import { decodeCustomer, encodeCustomer, STATE_FORMAT_VERSION } from '../../../src/state/codec/customer-codec.js';
import { layoutInfo } from '../../../src/state/codec/layout-fingerprint.js';
import { decodeStoredHash } from '../../../src/state/redis-store.js';
import { decodeLegacyHash, encodeLegacyHash, isLegacyHash } from '../../../src/state/codec/legacy-hash.js';
import { emptyState, type CustomerState } from '../../../src/state/customer-state.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import { simulatedStreamDeltas } from '../../helpers/simulated-deltas.js';
import { EDGE_NUMBERS, layoutOf, randomState, rng } from '../../helpers/random-states.js';

test('round-trip: 400 random states (edge doubles, negative and huge day indices and offsets, every slot kind) decode to the very same state', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const state = randomState(rng(seed), `cust-${seed}-ü`);
    const bytes = encodeCustomer(state);
    assert.equal(bytes[0], STATE_FORMAT_VERSION);
    // deepStrictEqual compares numbers with Object.is: -0 and every bit of a double must survive.
    assert.deepStrictEqual(decodeCustomer(state.customerId, bytes), state, `seed ${seed}`);
    // Without the outbox, the rest is unchanged and the outbox comes back empty.
    assert.deepStrictEqual(decodeCustomer(state.customerId, encodeCustomer(state, { outbox: false })), { ...state, outbox: {} }, `seed ${seed} without outbox`);
    // Named by the layout's fingerprint instead of its slot ids: shorter, same state back.
    const layout = layoutOf(state, rng(seed));
    const named = encodeCustomer(state, { layout });
    assert.deepStrictEqual(decodeCustomer(state.customerId, named, layout), state, `seed ${seed} with the layout`);
    // Format 1 (the engines before), still read.
    assert.deepStrictEqual(decodeCustomer(state.customerId, encodeCustomer(state, { formatVersion: 1 }), layout), state, `seed ${seed} format 1`);
  }
});

test('format 2 names the layout by its fingerprint; a reader with another layout (or none) refuses it with CF_STATE_LAYOUT; a state with a slot outside the layout lists its slots', () => {
  const state = randomState(rng(11), 'c11');
  const layout = layoutOf(state, rng(1));
  const bytes = encodeCustomer(state, { layout });
  assert.ok(bytes.length < encodeCustomer(state).length, 'the fingerprint is shorter than the slot ids');
  const other = new Map([...layout].reverse());
  assert.notEqual(layoutInfo(other).fingerprint, layoutInfo(layout).fingerprint, 'the order of the slots is part of the layout');
  for (const reader of [other, undefined]) {
    assert.throws(
      () => decodeCustomer('c11', bytes, reader),
      (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_LAYOUT' && !err.retriable && /customer c11/.test(err.message) && /replaying the activity topic from Kafka/.test(err.message),
    );
  }
  // A layout that lacks one of the state's slots: the slot ids are written, any reader decodes them.
  const lacking = new Map([...layout].filter(([slot]) => slot !== Object.keys(state.buckets[Object.keys(state.buckets)[0]!] ?? state.archive)[0]));
  assert.deepStrictEqual(decodeCustomer('c11', encodeCustomer(state, { layout: lacking }), other), state);
});

test('format 1 as written by the engines before format 2 (committed fixture of real bytes): read back to the same state, directly and from its Redis hash', () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);
  const fixture = JSON.parse(readFileSync(new URL('../../../../test/fixtures/state/customer-v1.json', import.meta.url), 'utf8')) as {
    customers: { state: CustomerState; encoded: string; redisHash: Record<string, string> }[];
  };
  assert.equal(fixture.customers.length, 4);
  for (const { state, encoded, redisHash } of fixture.customers) {
    const bytes = Buffer.from(encoded, 'base64');
    assert.equal(bytes[0], 1);
    assert.deepStrictEqual(decodeCustomer(state.customerId, bytes, spec.layout.merges), state);
    // The format-1 encoder kept for the bench and the migration tests is the one that wrote these bytes.
    assert.ok(encodeCustomer(state, { formatVersion: 1 }).equals(bytes), `${state.customerId}: format 1 bytes reproduced`);
    const hash = new Map(Object.entries(redisHash).map(([f, v]) => [f, Buffer.from(v, 'base64')]));
    assert.deepStrictEqual(decodeStoredHash(state.customerId, hash, spec.layout.merges), state);
    // The same state in format 2 with the spec's layout: shorter.
    assert.ok(encodeCustomer(state, { layout: spec.layout.merges }).length < bytes.length);
  }
});

test('round-trip: the empty state, and each edge number in every position a number can take', () => {
  assert.deepStrictEqual(decodeCustomer('e', encodeCustomer(emptyState('e'))), emptyState('e'));
  for (const v of EDGE_NUMBERS) {
    const s = emptyState('x');
    s.maxEventTime = v;
    s.positions['t/0'] = v;
    s.archive = { a: v, l: [v, v] };
    s.buckets['-3'] = { a: v, l: [v, v] };
    s.buckets['0'] = { a: v, l: [v, -v] };
    s.recentEvents.push([2 ** 53 - 1, v], [0, 0]);
    s.lastScore = { score: v, band: 'high', modelName: 'm', modelVersion: '1', eventTime: v, riskEventId: 'ab' };
    assert.deepStrictEqual(decodeCustomer('x', encodeCustomer(s)), s, `value ${v}`);
  }
});

test('a newer format version, a truncated body and trailing bytes are refused with CF_STATE_FORMAT naming the rebuild (replay from Kafka)', () => {
  const state = randomState(rng(7), 'c7');
  const bytes = encodeCustomer(state);
  const refused = (b: Buffer, what: RegExp) =>
    assert.throws(
      () => decodeCustomer('c7', b),
      (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_FORMAT' && !err.retriable && what.test(err.message) && /customer c7/.test(err.message) && /replaying the activity topic from Kafka/.test(err.message),
    );
  const newer = Buffer.from(bytes);
  newer[0] = STATE_FORMAT_VERSION + 1;
  refused(newer, /format version 3, this engine reads versions 1 and 2/);
  refused(Buffer.from('{"m":"1"}'), /format version 123/); // JSON text is not the binary format
  refused(bytes.subarray(0, bytes.length - 3), /truncated/);
  refused(Buffer.concat([bytes, Buffer.from([0])]), /bytes left/);
  refused(Buffer.alloc(0), /truncated/);
});

test('a state the format cannot hold exactly is refused at encode, not stored wrong', () => {
  const s = emptyState('bad');
  s.recentEvents.push([2 ** 53, 0]);
  assert.throws(() => encodeCustomer(s), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_FORMAT' && /53-bit/.test(err.message));
  const t = emptyState('bad');
  t.buckets['1.5'] = {};
  assert.throws(() => encodeCustomer(t), /not a day index/);
});

test('the JSON hash layout (the format before) reads back as the same state; the binary layout is not taken for it', () => {
  for (let seed = 1; seed <= 100; seed++) {
    // JSON cannot hold -0 or the shadow's explicit null the way the binary form does: states as the old engine wrote them.
    const state = JSON.parse(JSON.stringify(randomState(rng(seed), `j${seed}`))) as CustomerState;
    if (state.shadowScore === null) delete state.shadowScore;
    const hash = encodeLegacyHash(state);
    assert.ok(isLegacyHash(new Map(Object.entries(hash))));
    assert.deepStrictEqual(decodeLegacyHash(state.customerId, Object.entries(hash)), state, `seed ${seed}`);
  }
  assert.equal(isLegacyHash(new Map([['b', 1], ['v', 1]])), false);
  assert.throws(() => decodeLegacyHash('c', [['p', '{not json']]), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_FORMAT' && /field p is not JSON/.test(err.message));
});

test('simulated customers after 120 days: decoded states give the same feature rows, at a fraction of the JSON size', async () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);
  const sim = resolveSimulatorOptions({ customers: 60, days: 120, seed: 3 });
  const store = new MemoryStateStore({ layout: spec.layout });
  const deltas = simulatedStreamDeltas(spec, sim);
  for (let i = 0; i < deltas.length; i += 512) await store.apply(deltas.slice(i, i + 512));
  const asOf = simulationEndTime(sim);
  const binary: number[] = [];
  const v1: number[] = [];
  const json: number[] = [];
  for await (const page of store.scan()) {
    for (const state of page) {
      const bytes = encodeCustomer(state, { layout: spec.layout.merges });
      const back = decodeCustomer(state.customerId, bytes, spec.layout.merges);
      v1.push(encodeCustomer(state, { formatVersion: 1 }).length);
      assert.deepStrictEqual(back, state);
      for (const t of [asOf, asOf - 30 * DAY_MS, state.maxEventTime + 1]) assert.deepStrictEqual(spec.evaluate(back, t), spec.evaluate(state, t), `${state.customerId} at ${t}`);
      binary.push(bytes.length);
      json.push(Buffer.byteLength(JSON.stringify(state)));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  assert.equal(binary.length, 60);
  assert.ok(median(binary) * 3 < median(json), `binary median ${median(binary)} B vs JSON ${median(json)} B`);
  // Format 2 against format 1 on the same states: no slot dictionary, columns and values by reference.
  assert.ok(median(binary) < median(v1) * 0.85, `format 2 median ${median(binary)} B vs format 1 ${median(v1)} B`);
  const stats = await store.stats();
  assert.equal(stats.bytes, binary.reduce((a, b) => a + b, 0), 'the memory store counts the binary encoding');
  // Beyond statsSampleSize: every k-th customer (k = ceil(60 / 7) = 9, in the store's order) is encoded, their mean × 60.
  const sampled = new MemoryStateStore({ layout: spec.layout, statsSampleSize: 7 });
  const states: CustomerState[] = [];
  for await (const page of store.scan()) states.push(...page);
  assert.deepEqual(await sampled.write(states.map((state) => ({ loaded: { state, version: 0 }, state }))), []);
  const every9th = states.filter((_, i) => i % 9 === 0).map((s) => encodeCustomer(s, { layout: spec.layout.merges }).length);
  assert.equal(every9th.length, 7);
  assert.deepEqual(await sampled.stats(), { customers: 60, bytes: Math.round((every9th.reduce((a, b) => a + b, 0) / 7) * 60) });
});
