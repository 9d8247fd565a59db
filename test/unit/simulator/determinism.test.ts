import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordToNdjson, simulate } from '../../../src/simulator/index.js';
import { DAY, collect, hashRecords } from './sim-helpers.js';

const SMALL = { customers: 200, days: 40 } as const;

test('the same options give the same sequence; a different seed gives a different one', () => {
  const withNoise = { ...SMALL, badRecords: { rate: 0.02 }, lateEvents: { rate: 0.05, maxDelayMs: 2 * 3_600_000 } };
  const a = hashRecords(simulate(withNoise));
  const b = hashRecords(simulate(withNoise));
  assert.equal(a, b);
  assert.notEqual(hashRecords(simulate({ ...withNoise, seed: 8 })), a);
});

test('records come out in emitTime order and event ids are unique', () => {
  const records = collect({ ...SMALL, lateEvents: { rate: 0.1, maxDelayMs: 3 * DAY } });
  const ids = new Set<string>();
  let prev = -Infinity;
  for (const r of records) {
    assert.ok(r.emitTime >= prev, `emitTime went back from ${prev} to ${r.emitTime}`);
    prev = r.emitTime;
    if (r.type === 'event') {
      assert.ok(!ids.has(r.event.event_id), `duplicate id ${r.event.event_id}`);
      ids.add(r.event.event_id);
    }
  }
  assert.ok(ids.size > 5000);
});

test('late arrivals and bad records do not change the underlying valid events', () => {
  const plain = collect(SMALL).map((r) => recordToNdjson(r)).sort();
  const noisy = collect({ ...SMALL, badRecords: { rate: 0.05 }, lateEvents: { rate: 0.2, maxDelayMs: DAY } });
  const valid = noisy.filter((r) => r.type === 'event').map((r) => recordToNdjson(r)).sort();
  assert.deepEqual(valid, plain);
});

test('generation is lazy: the first records of a huge run arrive without generating it all', () => {
  const it = simulate({ customers: 20_000, days: 3650 });
  const first = [];
  for (const r of it) {
    first.push(r);
    if (first.length === 100) break;
  }
  assert.equal(first.length, 100);
});
