import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVITY_KINDS } from '../../../src/events/wire-types.js';
import { BAD_RECORD_DEFECTS, resolveSimulatorOptions, simulationEndTime, type BadRecordDefect } from '../../../src/simulator/index.js';
import { DAY, collect, firstProfiles, hashRecords, validEvents } from './sim-helpers.js';

const OPTIONS = { customers: 200, days: 30, seed: 3, badRecords: { rate: 0.02 } };
const records = collect(OPTIONS);
const end = simulationEndTime(resolveSimulatorOptions(OPTIONS));
const bad = records.flatMap((r) => (r.type === 'bad' ? [r] : []));
const valid = validEvents(records);
const signups = firstProfiles(valid);

test('bad records come at about the configured rate, every defect kind roughly evenly', () => {
  const rate = bad.length / valid.length;
  assert.ok(Math.abs(rate - 0.02) < 0.004, `rate ${rate}`);
  const counts = new Map<BadRecordDefect, number>();
  for (const r of bad) counts.set(r.defect, (counts.get(r.defect) ?? 0) + 1);
  for (const d of BAD_RECORD_DEFECTS) {
    const n = counts.get(d) ?? 0;
    assert.ok(Math.abs(n - bad.length / BAD_RECORD_DEFECTS.length) <= 1, `${d}: ${n} of ${bad.length}`);
  }
});

test('every defect kind shows up even at a low rate', () => {
  const few = collect({ customers: 400, days: 30, badRecords: { rate: 0.001 } }).filter((r) => r.type === 'bad');
  assert.ok(few.length >= BAD_RECORD_DEFECTS.length, `${few.length} bad records`);
  assert.deepEqual(new Set(few.map((r) => r.type === 'bad' && r.defect)), new Set(BAD_RECORD_DEFECTS));
});

test('each bad record really has the defect it reports', () => {
  for (const r of bad) {
    if (r.defect === 'malformed_json') {
      assert.throws(() => JSON.parse(r.raw), SyntaxError);
      continue;
    }
    const o = JSON.parse(r.raw) as Record<string, unknown>;
    const payload = o['payload'] as Record<string, unknown>;
    const why = `${r.defect}: ${r.raw}`;
    switch (r.defect) {
      case 'missing_field':
        assert.ok(['event_id', 'customer_id', 'event_time', 'payload'].some((f) => !(f in o)), why);
        break;
      case 'unknown_kind':
        assert.ok(typeof o['kind'] === 'string' && !(ACTIVITY_KINDS as readonly string[]).includes(o['kind']), why);
        break;
      case 'negative_duration':
        assert.equal(o['kind'], 'session', why);
        assert.ok((payload['duration_seconds'] as number) < 0, why);
        break;
      case 'absurd_amount':
        assert.equal(o['kind'], 'payment', why);
        assert.ok((payload['amount_cents'] as number) >= 1e12, why);
        break;
      case 'future_time':
        assert.ok((o['event_time'] as number) > end + 365 * DAY, why);
        break;
      case 'before_signup': {
        const signup = signups.get(o['customer_id'] as string)?.signup_time;
        assert.ok(signup !== undefined && (o['event_time'] as number) < signup, why);
        break;
      }
      case 'wrong_type':
        assert.ok(
          typeof o['event_time'] === 'string' || typeof o['customer_id'] === 'number' || typeof o['payload'] === 'string',
          why,
        );
        break;
    }
    // Apart from its one defect a bad record is an ordinary-looking line.
    if (r.defect !== 'missing_field' && r.defect !== 'wrong_type') {
      assert.match(String(o['event_id']), /^c\d{6}-b\d+$/, why);
      assert.equal(typeof o['event_time'], 'number', why);
    }
  }
});

test('bad records are deterministic per seed and absent without the option', () => {
  assert.equal(hashRecords(collect(OPTIONS)), hashRecords(records));
  assert.equal(collect({ customers: 50, days: 10 }).filter((r) => r.type === 'bad').length, 0);
  assert.equal(collect({ customers: 50, days: 10, badRecords: { rate: 0 } }).filter((r) => r.type === 'bad').length, 0);
});
