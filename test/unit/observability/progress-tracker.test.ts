import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressTracker } from '../../../src/observability/progress-tracker.js';
import { ManualClock } from '../../../src/time/clock.js';

const setup = (stallAfterMs = 1000) => {
  const clock = new ManualClock(1_000_000);
  return { clock, t: new ProgressTracker({ stallAfterMs, clock }) };
};

test('idle with zero lag stays ready however long nothing happens', () => {
  const { clock, t } = setup();
  t.lag('a/0', 0);
  clock.advance(3_600_000);
  assert.deepEqual(t.verdict(), { stalled: false });
});

test('lag and no acknowledged batch for longer than stallAfterMs: stalled, with a reason naming the key', () => {
  const { clock, t } = setup();
  t.lag('a/0', 40);
  t.lag('a/1', 2);
  clock.advance(1000);
  assert.equal(t.verdict().stalled, false, 'at the limit: not yet');
  clock.advance(1);
  const v = t.verdict();
  assert.ok(v.stalled);
  assert.equal(v.lag, 42);
  assert.equal(v.sinceProgressMs, 1001);
  assert.match(v.reason, /http\.readiness\.stallAfterMs = 1000/);
});

test('an acknowledged batch is progress: the clock restarts', () => {
  const { clock, t } = setup();
  t.lag('a/0', 10);
  clock.advance(900);
  t.received(5);
  t.acknowledged(5);
  clock.advance(900);
  assert.equal(t.verdict().stalled, false);
  clock.advance(200);
  assert.equal(t.verdict().stalled, true);
});

test('records in flight count as waiting even at zero lag (a fetch took everything, then Redis went away)', () => {
  const { clock, t } = setup();
  t.lag('a/0', 0);
  t.received(128);
  clock.advance(1500);
  const v = t.verdict();
  assert.ok(v.stalled);
  assert.equal(v.inFlight, 128);
  t.acknowledged(128);
  assert.equal(t.verdict().stalled, false);
  clock.advance(10_000);
  assert.equal(t.verdict().stalled, false, 'all acknowledged, nothing waiting: idle');
});

test('work arriving after a long idle period gets the full stallAfterMs', () => {
  const { clock, t } = setup();
  clock.advance(60_000);
  t.lag('a/0', 3);
  assert.equal(t.verdict().stalled, false);
  clock.advance(999);
  assert.equal(t.verdict().stalled, false);
  clock.advance(2);
  assert.equal(t.verdict().stalled, true);
});

test('a partition lag is replaced, not added, by its next report; a rebalance forgets all of them', () => {
  const { clock, t } = setup();
  t.lag('a/0', 10);
  t.lag('a/0', 0);
  clock.advance(5000);
  assert.equal(t.verdict().stalled, false);
  t.lag('a/1', 7);
  clock.advance(1001);
  assert.equal(t.verdict().stalled, true);
  t.forgetLag();
  assert.equal(t.verdict().stalled, false, 'revoked partitions no longer count');
});
