// WindowTotals.distinct() counts the zero bits of the OR of its levels and looks the estimate up in a
// table taken from estimateDistinct: it must give estimateDistinct's answer for the OR of the days in
// range, for every number of set bits and for any split of the days over the levels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { WindowTotals } from '../../../src/features/window-totals.js';
import { emptyState } from '../../../src/state/customer-state.js';
import { BITSET_BITS, BITSET_WORDS, estimateDistinct, type SlotMerge } from '../../../src/state/slots.js';
import { rng } from '../../helpers/rng.js';

const A = 20_000; // the anchor day: rows as of A × DAY_MS read the days before A
const slots = new Map<string, SlotMerge>([['d', 'bits']]);

function withBits(count: number): number[] {
  const words = new Array<number>(BITSET_WORDS).fill(0);
  for (let bit = 0; bit < count; bit++) words[bit >>> 5] = (words[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
  return words;
}

test('distinct() equals estimateDistinct for every number of set bits (0 to 256)', () => {
  const totals = new WindowTotals(slots, [3, 10]);
  const i = totals.index('d');
  for (let set = 0; set <= BITSET_BITS; set++) {
    const state = emptyState('c');
    const words = withBits(set);
    if (set > 0) state.buckets[A - 1] = { d: words };
    totals.load(state, A * DAY_MS);
    assert.equal(totals.distinct(i, 0), estimateDistinct(words), `${set} bits set`);
    assert.equal(totals.distinct(i, totals.allTime), estimateDistinct(words), `${set} bits set, all levels`);
  }
});

test('distinct() over any range of levels equals estimateDistinct of the OR of the days in it', () => {
  const next = rng(42);
  const edges = [3, 10];
  const totals = new WindowTotals(slots, edges);
  const i = totals.index('d');
  const levelOf = (day: number) => (day >= A - 3 ? 0 : day >= A - 10 ? 1 : 2);
  for (let round = 0; round < 200; round++) {
    const state = emptyState('c');
    const byLevel = [0, 1, 2].map(() => new Array<number>(BITSET_WORDS).fill(0));
    const present = [false, false, false];
    for (let day = A - 25; day < A; day++) {
      if (next() < 0.5) continue;
      const words = Array.from({ length: BITSET_WORDS }, () => (next() < 0.3 ? Math.floor(next() * 2 ** 32) >>> 0 : 0));
      state.buckets[day] = { d: words };
      const level = levelOf(day);
      present[level] = true;
      byLevel[level] = byLevel[level]!.map((x, w) => (x | words[w]!) >>> 0);
    }
    if (next() < 0.5) {
      const words = withBits(Math.floor(next() * 40));
      state.archive = { d: words };
      present[2] = true;
      byLevel[2] = byLevel[2]!.map((x, w) => (x | words[w]!) >>> 0);
    }
    totals.load(state, A * DAY_MS);
    for (let from = 0; from <= 2; from++) {
      for (let upTo = from; upTo <= 2; upTo++) {
        const union = new Array<number>(BITSET_WORDS).fill(0);
        for (let k = from; k <= upTo; k++) if (present[k]) for (let w = 0; w < BITSET_WORDS; w++) union[w] = (union[w]! | byLevel[k]![w]!) >>> 0;
        assert.equal(totals.distinct(i, upTo, from), estimateDistinct(union), `round ${round}, levels ${from}..${upTo}`);
      }
    }
  }
});
