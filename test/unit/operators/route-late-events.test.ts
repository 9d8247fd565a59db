import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { Routed } from '../../../src/events/routed.js';
import { routeLateEvents } from '../../../src/operators/route-late-events.js';
import { WatermarkTracker } from '../../../src/time/watermark.js';
import { ev, raw } from '../../helpers/events.js';

const accepted = (t: number, offset: number, stream = 's'): Routed => ({ tag: 'accepted', record: raw({}, offset, stream), event: ev('login', 'c', t) });

test('events behind the watermark by more than the allowed lateness go to the late route', async () => {
  const items = [accepted(1000, 0), accepted(5000, 1), accepted(4100, 2), accepted(3999, 3), accepted(6000, 4)];
  const out = await lastValueFrom(from(items).pipe(routeLateEvents({ allowedLatenessMs: 1000 }), toArray()));
  assert.deepEqual(out.map((o) => (o.tag === 'rejected' ? `${o.route}:${o.code}` : 'ok')), ['ok', 'ok', 'ok', 'late:LATE_EVENT', 'ok']);
  const late = out[3]!;
  assert.ok(late.tag === 'rejected' && late.event?.eventTime === 3999 && /allowed lateness 1000 ms/.test(late.detail));
});

test('watermarks are per stream: a lagging partition is not judged by a fast one', async () => {
  const items = [accepted(10_000, 0, 'p0'), accepted(1000, 0, 'p1'), accepted(1500, 1, 'p1')];
  const out = await lastValueFrom(from(items).pipe(routeLateEvents({ allowedLatenessMs: 100 }), toArray()));
  assert.ok(out.every((o) => o.tag === 'accepted'));
});

test('rejections from earlier stages pass through; the shared tracker exposes the overall watermark', async () => {
  const tracker = new WatermarkTracker({ allowedLatenessMs: 100 });
  const rejected: Routed = { tag: 'rejected', record: raw({}, 9), route: 'dead-letter', code: 'X', detail: 'y' };
  const out = await lastValueFrom(from([accepted(500, 0, 'a'), rejected, accepted(900, 0, 'b')]).pipe(routeLateEvents({ allowedLatenessMs: 100 }, tracker), toArray()));
  assert.equal(out[1], rejected);
  assert.equal(tracker.overall(), 400);
});
