import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { Routed } from '../../../src/events/routed.js';
import { routeLateEvents } from '../../../src/operators/route-late-events.js';
import { ReplayClock } from '../../../src/time/replay-clock.js';
import { WatermarkTracker } from '../../../src/time/watermark.js';
import { ev, raw } from '../../helpers/events.js';

const HOUR = 3_600_000;
const MIN = 60_000;
const T = Date.UTC(2025, 5, 1);

test('one outlier does not drag the replay clock ahead; a real jump in time (two events) does', () => {
  const clock = new ReplayClock({ maxSkewMs: 5 * MIN });
  clock.observe(T);
  clock.observe(T + 23 * HOUR); // a lone outlier
  assert.equal(clock.now(), T + 5 * MIN);
  clock.observe(T + 1000);
  assert.equal(clock.now(), T + 5 * MIN);
  clock.observe(T + 10 * HOUR); // a gap in the data...
  clock.observe(T + 10 * HOUR + 1000); // ...followed by more data at the new time
  assert.equal(clock.now(), T + 10 * HOUR + 1000);
  // without the bound (the old rule) the outlier would have been "now"
  const old = new ReplayClock();
  old.observe(T);
  old.observe(T + 23 * HOUR);
  assert.equal(old.now(), T + 23 * HOUR);
});

test('a replay with an outlier routes the same events late for any batching, and none of the real-time ones', async () => {
  const times = [T, T + 1000, T + 23 * HOUR, T + 2000, T + 3000, T - 2 * HOUR, T + 4000];
  const run = async () => {
    // As in `churnflow replay`: the clock advances as records decode, then the watermark judges them.
    const clock = new ReplayClock({ maxSkewMs: 5 * MIN });
    const rule = { allowedLatenessMs: HOUR, maxSkewMs: 5 * MIN, clock };
    const items = times.map((t, i): Routed => {
      clock.observe(t);
      return { tag: 'accepted', record: raw({}, i, 'file'), event: ev('login', 'c', t) };
    });
    const out = await lastValueFrom(from(items).pipe(routeLateEvents(rule, new WatermarkTracker(rule)), toArray()));
    return { verdicts: out.map((o) => (o.tag === 'rejected' ? o.code : 'ok')), now: clock.now() };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.deepEqual(a.verdicts, ['ok', 'ok', 'ok', 'ok', 'ok', 'LATE_EVENT', 'ok']);
  assert.ok(a.now < T + 10 * MIN, `the clock stayed with the data (${a.now - T} ms past T)`);
});
