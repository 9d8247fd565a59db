import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bitIndexFor, estimateDistinct, mergeOp, mergeSlotValues, type SlotValues } from '../../../src/state/slots.js';

test('merges: add, max, min, last (later wins, ties keep first), bits', () => {
  const t: SlotValues = {};
  mergeOp(t, { slot: 'a', merge: 'add', value: 2 });
  mergeOp(t, { slot: 'a', merge: 'add', value: 3 });
  mergeOp(t, { slot: 'x', merge: 'max', value: 3 });
  mergeOp(t, { slot: 'x', merge: 'max', value: 1 });
  mergeOp(t, { slot: 'n', merge: 'min', value: 3 });
  mergeOp(t, { slot: 'n', merge: 'min', value: 1 });
  mergeOp(t, { slot: 'l', merge: 'last', value: [10, 'b'] });
  mergeOp(t, { slot: 'l', merge: 'last', value: [5, 'a'] });
  mergeOp(t, { slot: 'l', merge: 'last', value: [10, 'c'] });
  mergeOp(t, { slot: 'd', merge: 'bits', value: 33 });
  assert.deepEqual(t, { a: 5, x: 3, n: 1, l: [10, 'b'], d: [0, 2, 0, 0, 0, 0, 0, 0] });
});

test('merging is order-independent for a bucket folded into the archive', () => {
  const merges = new Map([['a', 'add'], ['l', 'last'], ['d', 'bits']] as const);
  const a: SlotValues = { a: 1, l: [1, 'x'], d: [1, 0, 0, 0, 0, 0, 0, 0] };
  const b: SlotValues = { a: 2, l: [2, 'y'], d: [2, 0, 0, 0, 0, 0, 0, 0] };
  const ab: SlotValues = {};
  mergeSlotValues(ab, a, merges);
  mergeSlotValues(ab, b, merges);
  const ba: SlotValues = {};
  mergeSlotValues(ba, b, merges);
  mergeSlotValues(ba, a, merges);
  assert.deepEqual(ab, ba);
  assert.deepEqual(ab, { a: 3, l: [2, 'y'], d: [3, 0, 0, 0, 0, 0, 0, 0] });
});

test('distinct estimate is exact for a few items and close for many', () => {
  const words = new Array<number>(8).fill(0);
  const add = (v: string) => {
    const bit = bitIndexFor(v);
    words[bit >>> 5] = (words[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
  };
  for (const v of ['a', 'b', 'c']) add(v);
  assert.equal(estimateDistinct(words), 3);
  for (let i = 0; i < 100; i++) add(`item-${i}`);
  const est = estimateDistinct(words);
  assert.ok(est > 85 && est < 120, `estimate ${est} for 103`);
});
