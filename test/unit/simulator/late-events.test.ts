import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect } from './sim-helpers.js';

const HOUR = 3_600_000;

test('a share of events arrives late, up to maxDelayMs, some beyond an hour of allowed lateness', () => {
  const records = collect({ customers: 200, days: 30, lateEvents: { rate: 0.1, maxDelayMs: 4 * HOUR } });
  let events = 0;
  let late = 0;
  let beyondHour = 0;
  let prev = -Infinity;
  for (const r of records) {
    assert.ok(r.emitTime >= prev);
    prev = r.emitTime;
    if (r.type !== 'event') continue;
    events++;
    const delay = r.emitTime - r.event.event_time;
    assert.ok(delay >= 0 && delay <= 4 * HOUR, `delay ${delay}`);
    if (delay > 0) late++;
    if (delay > HOUR) beyondHour++;
  }
  assert.ok(Math.abs(late / events - 0.1) < 0.01, `late share ${late / events}`);
  assert.ok(beyondHour > 0.5 * late && beyondHour < late, `${beyondHour} of ${late} beyond an hour`);
});

test('late events can arrive days later and after the simulated period, still in emitTime order', () => {
  const days = 20;
  const end = Date.UTC(2025, 0, 1) + days * 86_400_000;
  const records = collect({ customers: 100, days, lateEvents: { rate: 0.2, maxDelayMs: 5 * 86_400_000 } });
  let prev = -Infinity;
  for (const r of records) {
    assert.ok(r.emitTime >= prev);
    prev = r.emitTime;
  }
  assert.ok(records.some((r) => r.type === 'event' && r.emitTime - r.event.event_time > 2 * 86_400_000));
  assert.ok(prev > end, 'some arrive after the end');
});

test('without the option every event arrives at its event time', () => {
  for (const r of collect({ customers: 50, days: 10 })) {
    if (r.type === 'event') assert.equal(r.emitTime, r.event.event_time);
  }
});
