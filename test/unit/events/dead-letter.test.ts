// Dead-letter envelopes stay writable whatever the record: the 400 KB key was copied three times
// (value, header, message key) and made its own dead letter exceed the broker's 1 MB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DEAD_LETTER_LIMITS, limitDeadLetter, toDeadLetter, withoutBytes } from '../../../src/events/dead-letter.js';
import { reject } from '../../../src/events/routed.js';
import { deadLetterHeaders, deadLetterKey } from '../../../src/sinks/dead-letter-routing.js';
import { avroType } from '../../../src/serde/schemas.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { ev } from '../../helpers/events.js';

const hugeKey = Buffer.alloc(400 * 1024, 0x6b);
const record = (value: unknown, key: Buffer | null = null) => ({ position: { stream: 'kafka:activity/2', offset: 17 }, format: 'confluent-avro' as const, value, key, topic: 'activity', partition: 2, receivedAt: 5 });

/** Bytes the envelope puts on the wire: Avro value + message key + headers. */
function wireBytes(d: ReturnType<typeof toDeadLetter>): number {
  const headers = Object.entries(deadLetterHeaders(d)).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v as string | Buffer), 0);
  return avroType('dead-letter').toBuffer(d).length + Buffer.byteLength(deadLetterKey(d)) + headers;
}

test('a 400 KB key is kept once, cut to maxKeyBytes, with its original size; not in a header nor as the message key', () => {
  const full = toDeadLetter(reject(record(Buffer.from([0, 0, 0, 0, 9, 1]), hugeKey), 'dead-letter', 'UNKNOWN_SCHEMA_ID', 'schema id 9 is not in the registry'));
  assert.equal(full.original_key_bytes, 400 * 1024);
  assert.equal(full.truncated, false, 'toDeadLetter keeps everything; the sink limits it');
  const d = limitDeadLetter(full, DEFAULT_DEAD_LETTER_LIMITS);
  assert.equal(d.original_key!.length, 1024);
  assert.deepEqual(d.original_key, hugeKey.subarray(0, 1024));
  assert.equal(d.original_key_bytes, 400 * 1024);
  assert.equal(d.truncated, true);
  assert.deepEqual(d.payload, full.payload, 'a small payload is untouched');
  assert.equal(deadLetterHeaders(d)['churnflow-original-key'], undefined);
  assert.equal(deadLetterKey(d), d.dead_letter_id, 'no customer id: keyed by its own id');
  assert.ok(wireBytes(d) < 4 * 1024, `${wireBytes(d)} bytes on the wire`);
});

test('a 600 KB customer id: payload cut to maxPayloadBytes with its original size, the id not repeated', () => {
  const id = 'c'.repeat(600 * 1024);
  const json = JSON.stringify({ event_id: 'e1', customer_id: id, event_time: 1, kind: 'login', payload: { device: 'web', success: true } });
  const event = ev('login', id, 1, { device: 'web', success: true }, 'e1');
  const full = toDeadLetter(reject(record(Buffer.from(json)), 'dead-letter', 'FIELD_TOO_LONG', `customer_id is ${id.length} characters long; validation.maxIdLength allows 256`, event));
  const d = limitDeadLetter(full, DEFAULT_DEAD_LETTER_LIMITS);
  assert.equal(d.payload.length, 65_536);
  assert.equal(d.payload_bytes, Buffer.byteLength(json));
  assert.deepEqual(d.payload, Buffer.from(json).subarray(0, 65_536), 'the head of the original bytes');
  assert.equal(d.customer_id, null);
  assert.equal(d.truncated, true);
  assert.ok(avroType('dead-letter').isValid(d));
  assert.ok(wireBytes(d) < 70 * 1024, `${wireBytes(d)} bytes on the wire`);
});

test('envelopes within the limits are unchanged; withoutBytes keeps reason and position only', () => {
  const event = ev('login', 'c1', 1, { device: 'web', success: true }, 'e1');
  const d = toDeadLetter(reject(record(Buffer.from('{"x":1}'), Buffer.from('c1')), 'dead-letter', 'OUT_OF_RANGE', 'x', event));
  assert.equal(limitDeadLetter(d, DEFAULT_DEAD_LETTER_LIMITS), d);
  assert.equal(d.payload_bytes, 7);
  assert.equal(deadLetterKey(d), 'c1');
  const bare = withoutBytes(d);
  assert.deepEqual([bare.payload.length, bare.original_key, bare.customer_id, bare.truncated, bare.payload_bytes, bare.reason_code, bare.source], [0, null, null, true, 7, 'OUT_OF_RANGE', 'kafka:activity/2@17']);
});

test('a parse error quoting megabytes of input is cut in reason_detail', () => {
  const d = toDeadLetter(reject(record('x'), 'dead-letter', 'DECODE_JSON', `Unexpected token in ${'y'.repeat(100_000)}`));
  assert.ok(d.reason_detail.length <= 1025);
});

test('sinks.deadLetter limits are config keys with safe defaults', () => {
  const c = loadConfig({ env: {} });
  assert.deepEqual({ ...c.sinks.deadLetter }, { ...DEFAULT_DEAD_LETTER_LIMITS });
  assert.throws(() => loadConfig({ env: {}, overrides: { sinks: { deadLetter: { maxPayloadBytes: -1 } } } }), /sinks\.deadLetter\.maxPayloadBytes/);
});
