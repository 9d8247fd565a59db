import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VALIDATION_RULES, validateEvent } from '../../../src/events/validate-event.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { day, ev, profile } from '../../helpers/events.js';

const now = day(10);
const rules = DEFAULT_VALIDATION_RULES;

test('ids longer than validation.maxIdLength are FIELD_TOO_LONG; the detail names field, length and limit, never the value', () => {
  const hugeId = 'c'.repeat(600 * 1024);
  const v = validateEvent(ev('login', hugeId, day(1), { device: 'web', success: true }), rules, now);
  assert.deepEqual(v, { code: 'FIELD_TOO_LONG', detail: `customer_id is ${600 * 1024} characters long; validation.maxIdLength allows 256` });
  const e = validateEvent(ev('login', 'c1', day(1), { device: 'web', success: true }, 'e'.repeat(257)), rules, now);
  assert.equal(e?.code, 'FIELD_TOO_LONG');
  assert.match(e!.detail, /^event_id is 257 characters long/);
  assert.equal(validateEvent(ev('login', 'c'.repeat(256), day(1), { device: 'web', success: true }, 'e'.repeat(256)), rules, now), null, 'the limit itself is allowed');
});

test('string payload fields longer than validation.maxStringLength are FIELD_TOO_LONG, whatever their kind', () => {
  const v = validateEvent(profile('c1', day(1), { region: 'r'.repeat(64 * 1024) }), rules, now);
  assert.deepEqual(v, { code: 'FIELD_TOO_LONG', detail: 'profile.region is 65536 characters long; validation.maxStringLength allows 1024' });
  assert.equal(validateEvent(profile('c1', day(1), { region: 'r'.repeat(1024) }), rules, now), null);
  const tighter = { ...rules, maxStringLength: 8, maxIdLength: 4 };
  assert.equal(validateEvent(ev('session', 'c1', day(1), { duration_seconds: 5, content_items: 1, content_id: 'movie-1234' }), tighter, now)?.code, 'FIELD_TOO_LONG');
  assert.equal(validateEvent(ev('session', 'cust1', day(1), { duration_seconds: 5, content_items: 1, content_id: 'm' }), tighter, now)?.code, 'FIELD_TOO_LONG');
});

test('the limits are config keys with defaults; a bad value names the key', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.validation.maxIdLength, 256);
  assert.equal(c.validation.maxStringLength, 1024);
  assert.throws(() => loadConfig({ env: {}, overrides: { validation: { maxIdLength: 0 } } }), /validation\.maxIdLength/);
});
