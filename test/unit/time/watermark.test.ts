import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { Routed } from '../../../src/events/routed.js';
import { routeLateEvents } from '../../../src/operators/route-late-events.js';
import { ManualClock, fixedClock } from '../../../src/time/clock.js';
import { WatermarkTracker } from '../../../src/time/watermark.js';
import { ev, raw } from '../../helpers/events.js';

const HOUR = 3_600_000;
const MIN = 60_000;
const NOW = Date.UTC(2026, 11, 4, 12);
const accepted = (t: number, offset: number, stream = 'p0'): Routed => ({ tag: 'accepted', record: raw({}, offset, stream), event: ev('login', 'c', t) });
const verdicts = (out: Routed[]) => out.map((o) => (o.tag === 'rejected' ? o.code : 'ok'));

test('one event stamped now + 23 h does not make later real-time events late (the skew bound)', async () => {
  const items = [accepted(NOW - MIN, 0), accepted(NOW + 23 * HOUR, 1), accepted(NOW, 2), accepted(NOW + MIN, 3), accepted(NOW - 50 * MIN, 4)];
  const guarded = { allowedLatenessMs: HOUR, maxSkewMs: 5 * MIN, clock: fixedClock(NOW) };
  const out = await lastValueFrom(from(items).pipe(routeLateEvents(guarded, new WatermarkTracker(guarded)), toArray()));
  assert.deepEqual(verdicts(out), ['ok', 'ok', 'ok', 'ok', 'ok']);
  // The fault this guards against: without the bound, the outlier makes everything after it late.
  const unguarded = await lastValueFrom(from(items).pipe(routeLateEvents({ allowedLatenessMs: HOUR }), toArray()));
  assert.deepEqual(verdicts(unguarded), ['ok', 'ok', 'LATE_EVENT', 'LATE_EVENT', 'LATE_EVENT']);
});

test('the skew bound follows processing time: the frontier catches up as the clock moves', () => {
  const clock = new ManualClock(NOW);
  const w = new WatermarkTracker({ allowedLatenessMs: HOUR, maxSkewMs: 5 * MIN, clock });
  w.observe('p0', NOW + 3 * HOUR);
  assert.equal(w.watermark('p0'), NOW + 5 * MIN - HOUR);
  clock.advance(2 * HOUR);
  w.observe('p0', NOW + 3 * HOUR);
  assert.equal(w.watermark('p0'), NOW + 2 * HOUR + 5 * MIN - HOUR);
  // still a genuinely late event is late
  assert.equal(w.observe('p0', NOW), true);
});

test('an idle partition stops holding back the overall watermark; overall never goes back', () => {
  const clock = new ManualClock(NOW);
  const w = new WatermarkTracker({ allowedLatenessMs: 0, idleTimeoutMs: 10 * MIN, clock });
  w.observe('p0', NOW - 2 * HOUR);
  w.observe('p1', NOW - HOUR);
  assert.equal(w.overall(), NOW - 2 * HOUR);
  clock.advance(9 * MIN);
  w.observe('p1', NOW - 30 * MIN);
  assert.equal(w.overall(), NOW - 2 * HOUR, 'p0 is not idle yet');
  clock.advance(2 * MIN);
  w.observe('p1', NOW - 20 * MIN);
  assert.equal(w.overall(), NOW - 20 * MIN, 'p0 idle for 11 min: it no longer counts');
  // p0 wakes up behind: its own events are judged by its own watermark, the overall one stays
  assert.equal(w.observe('p0', NOW - 119 * MIN), false);
  assert.equal(w.overall(), NOW - 20 * MIN);
});

test('a removed (revoked) partition no longer holds back the overall watermark', () => {
  const w = new WatermarkTracker({ allowedLatenessMs: 0 });
  w.observe('t/0', 1000);
  w.observe('t/1', 5000);
  assert.equal(w.overall(), 1000);
  w.remove('t/0');
  assert.deepEqual(w.streamNames(), ['t/1']);
  assert.equal(w.overall(), 5000);
});

test('a run seeded with the frontier persisted at a commit judges the rest exactly as an uninterrupted run', () => {
  // Pseudo-random event times with lateness mixed in, one stream; restart after every possible commit point.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const times = Array.from({ length: 300 }, (_, i) => 1_000_000 + i * 1000 - Math.floor(rnd() * 40_000));
  const options = { allowedLatenessMs: 20_000 };
  const full = new WatermarkTracker(options);
  const expected = times.map((t, offset) => full.observe('t/0', t, offset));
  assert.ok(expected.some(Boolean) && expected.some((l) => !l), 'the sequence has late and on-time events');
  for (const commitAfter of [0, 1, 17, 150, 298]) {
    const before = new WatermarkTracker(options);
    for (let o = 0; o <= commitAfter + 25 && o < times.length; o++) before.observe('t/0', times[o]!, o); // ran ahead of the commit
    const persisted = before.frontierAt('t/0', commitAfter)!;
    const after = new WatermarkTracker(options);
    after.seed('t/0', persisted);
    const got = times.slice(commitAfter + 1).map((t, i) => after.observe('t/0', t, commitAfter + 1 + i));
    assert.deepEqual(got, expected.slice(commitAfter + 1), `restart after offset ${commitAfter}`);
  }
});

test('frontierAt answers for offsets after the last checkpoint and after a seed; it needs a clock for the rules', () => {
  const w = new WatermarkTracker({ allowedLatenessMs: 0 });
  w.seed('s', 500);
  w.observe('s', 400, 10);
  assert.equal(w.frontierAt('s', 10), 500);
  w.observe('s', 900, 11);
  assert.equal(w.frontierAt('s', 10), 500);
  assert.equal(w.frontierAt('s', 11), 900);
  assert.equal(w.frontierAt('s', 50), 900);
  assert.equal(w.frontierAt('nope', 1), undefined);
  assert.throws(() => new WatermarkTracker({ allowedLatenessMs: 0, maxSkewMs: 1 }), /need a clock/);
});
