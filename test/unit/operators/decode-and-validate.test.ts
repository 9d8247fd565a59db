import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decodeRecords } from '../../../src/operators/decode-records.js';
import { validateEvents } from '../../../src/operators/validate-events.js';
import { DEFAULT_VALIDATION_RULES } from '../../../src/events/validate-event.js';
import { ActivityCodec } from '../../../src/serde/activity-codec.js';
import { fixedClock } from '../../../src/time/clock.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { T0, day, raw } from '../../helpers/events.js';

const codec = new ActivityCodec();
const good = { event_id: 'e1', customer_id: 'c1', event_time: day(1), kind: 'session', payload: { duration_seconds: 60, content_items: 1, content_id: 'm' } };

test('decode + validate route every kind of bad record to the dead letter with its code, the rest pass', async () => {
  const records = [
    raw(JSON.stringify(good), 0, 's', 'json'),
    raw('{"event_id": "e2", broken', 1, 's', 'json'),
    raw({ ...good, kind: 'teleport' }, 2),
    raw({ ...good, event_id: undefined }, 3),
    raw({ ...good, payload: { ...good.payload, duration_seconds: -5 } }, 4),
    raw({ ...good, kind: 'payment', payload: { status: 'SUCCEEDED', amount_cents: 1e12, discount_cents: 0, currency: 'USD' } }, 5),
    raw({ ...good, event_time: T0 + 5000 * DAY_MS }, 6),
    raw({ ...good, kind: 'profile', payload: { signup_time: day(3), plan: 'basic', payment_method: 'card', region: 'eu', age: 30, renewal_time: null } }, 7),
    raw({ ...good, customer_id: 42 }, 8),
    raw(codec.toAvroBuffer(codec.fromJsonObject(good)), 9, 's', 'avro'),
    raw(Buffer.from([1, 2, 3]), 10, 's', 'avro'),
  ];
  const out = await lastValueFrom(from(records).pipe(decodeRecords(codec), validateEvents(DEFAULT_VALIDATION_RULES, fixedClock(day(10))), toArray()));
  assert.deepEqual(
    out.map((o) => (o.tag === 'accepted' ? 'ok' : o.code)),
    ['ok', 'DECODE_JSON', 'UNKNOWN_KIND', 'MISSING_FIELD', 'OUT_OF_RANGE', 'OUT_OF_RANGE', 'FUTURE_TIME', 'BEFORE_SIGNUP', 'SCHEMA', 'ok', 'DECODE_AVRO'],
  );
  for (const o of out) if (o.tag === 'rejected') assert.equal(o.route, 'dead-letter');
  const range = out[4]!;
  assert.ok(range.tag === 'rejected' && /session\.duration_seconds = -5/.test(range.detail));
});
