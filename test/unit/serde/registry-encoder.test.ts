// The registry encoder's wire format without a registry: a lookup that answers with a schema id, and
// records small and large (past the encoder's scratch buffer, so it grows mid-stream). Each record must
// be the 5-byte header plus avsc's own encoding, in a buffer of its own (a later record must not change
// an earlier one: the producer holds them until the send), and decode back to what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeadLetterRecord } from '../../../src/events/wire-types.js';
import { ChurnflowError } from '../../../src/errors.js';
import type { RegistryClient } from '../../../src/serde/registry-client.js';
import { deadLetterEncoder } from '../../../src/serde/registry-encoder.js';
import { avroType } from '../../../src/serde/schemas.js';

const registry = { url: 'http://fake', lookup: async () => ({ id: 4242 }) } as unknown as RegistryClient;

const letter = (i: number, payloadBytes: number): DeadLetterRecord => ({
  dead_letter_id: `dl-${i}`,
  route: 'dead-letter',
  reason_code: 'UNKNOWN_SCHEMA_ID',
  reason_detail: `schema id ${i} is not in the registry`,
  source: 'kafka',
  source_topic: 'activity',
  source_partition: i % 3,
  source_offset: String(1000 + i),
  original_key: Buffer.from(`c${i}`),
  payload: Buffer.alloc(payloadBytes, i % 251),
  customer_id: `c${i}`,
  event_time: 1_700_000_000_000 + i,
  received_time: 1_700_000_000_500 + i,
  payload_bytes: payloadBytes,
  original_key_bytes: 2,
  truncated: false,
});

test('each record is the header plus its Avro body, in its own buffer, before and after the scratch grows', async () => {
  const encoder = deadLetterEncoder({ registry, topic: 'activity.dead', autoRegister: false });
  await encoder.prepare();
  const type = avroType('dead-letter');
  const sizes = [10, 300, 5_000, 40, 70_000, 1, 2_100, 90];
  const records = sizes.map((n, i) => letter(i, n));
  const out = records.map((r) => encoder.encode(r));
  out.forEach((buf, i) => {
    assert.equal(buf[0], 0, 'magic byte');
    assert.equal(buf.readUInt32BE(1), 4242, 'schema id');
    const body = type.toBuffer(records[i]);
    assert.equal(buf.length, 5 + body.length);
    assert.ok(buf.subarray(5).equals(body), `record ${i} (${sizes[i]} payload bytes)`);
    assert.deepEqual(type.fromBuffer(buf.subarray(5)), type.fromBuffer(body));
  });
});

test('a record the schema cannot take fails with CF_SINK_FAILED naming the field; the next record encodes', async () => {
  const encoder = deadLetterEncoder({ registry, topic: 'activity.dead', autoRegister: false });
  await encoder.prepare();
  assert.throws(() => encoder.encode({ ...letter(1, 10), received_time: 'now' as unknown as number }), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_SINK_FAILED' && /received_time/.test(err.message));
  const ok = encoder.encode(letter(2, 10));
  assert.ok(ok.subarray(5).equals(avroType('dead-letter').toBuffer(letter(2, 10))));
});
