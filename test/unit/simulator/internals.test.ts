import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addMonthsUtc, dayOfWeekUtc, localTimeInWindow, monthsUntilAfter } from '../../../src/simulator/calendar.js';
import { Prng, cumulative, pickWeighted } from '../../../src/simulator/prng.js';
import { RecordHeap } from '../../../src/simulator/record-heap.js';
import type { SimulatedRecord } from '../../../src/simulator/records.js';

test('prng: same seed/stream/index repeat, others differ, values in [0, 1)', () => {
  const take = (r: Prng) => Array.from({ length: 5 }, () => r.next());
  assert.deepEqual(take(new Prng(7, 1, 3)), take(new Prng(7, 1, 3)));
  assert.notDeepEqual(take(new Prng(7, 1, 3)), take(new Prng(7, 1, 4)));
  assert.notDeepEqual(take(new Prng(7, 1, 3)), take(new Prng(7, 2, 3)));
  assert.notDeepEqual(take(new Prng(7, 1, 3)), take(new Prng(2 ** 40 + 7, 1, 3)));
  const r = new Prng(-5, 0);
  let sum = 0;
  for (let i = 0; i < 20_000; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 20_000 - 0.5) < 0.01);
});

test('prng: poisson and weighted picks have the right means', () => {
  const r = new Prng(1, 0);
  let total = 0;
  for (let i = 0; i < 20_000; i++) total += r.poisson(2.5);
  assert.ok(Math.abs(total / 20_000 - 2.5) < 0.05);
  const cum = cumulative([1, 3]);
  let ones = 0;
  for (let i = 0; i < 20_000; i++) ones += pickWeighted(r, cum);
  assert.ok(Math.abs(ones / 20_000 - 0.75) < 0.015);
});

test('record heap pops by emitTime, ties in insertion order', () => {
  const heap = new RecordHeap();
  const r = new Prng(3, 0);
  const pushed: Array<{ t: number; i: number }> = [];
  for (let i = 0; i < 2000; i++) {
    const t = r.int(50);
    pushed.push({ t, i });
    heap.push({ type: 'bad', raw: String(i), defect: 'malformed_json', emitTime: t });
  }
  const expected = [...pushed].sort((a, b) => a.t - b.t || a.i - b.i).map((p) => String(p.i));
  const popped: SimulatedRecord[] = [];
  while (heap.size > 0) popped.push(heap.pop());
  assert.deepEqual(popped.map((p) => (p.type === 'bad' ? p.raw : '')), expected);
  assert.equal(heap.peekTime(), Infinity);
});

test('calendar: month arithmetic clamps to month ends; local times land in the window', () => {
  assert.equal(addMonthsUtc(Date.UTC(2025, 0, 31, 10), 1), Date.UTC(2025, 1, 28, 10));
  assert.equal(addMonthsUtc(Date.UTC(2024, 0, 31), 1), Date.UTC(2024, 1, 29));
  assert.equal(addMonthsUtc(Date.UTC(2024, 10, 15, 3, 4, 5), 14), Date.UTC(2026, 0, 15, 3, 4, 5));
  const anchor = Date.UTC(2023, 4, 20, 12);
  const n = monthsUntilAfter(anchor, Date.UTC(2025, 0, 1));
  assert.equal(addMonthsUtc(anchor, n), Date.UTC(2025, 0, 20, 12));
  assert.equal(dayOfWeekUtc(Date.UTC(2025, 0, 1)), 3); // a Wednesday
  const ws = Date.UTC(2025, 0, 1);
  // 20:00 local in UTC+8 is 12:00 UTC; 20:00 local in UTC-6 is 02:00 UTC (same window, wrapped).
  assert.equal(localTimeInWindow(ws, 20 * 3_600_000, 8 * 3_600_000), ws + 12 * 3_600_000);
  assert.equal(localTimeInWindow(ws, 20 * 3_600_000, -6 * 3_600_000), ws + 2 * 3_600_000);
});
