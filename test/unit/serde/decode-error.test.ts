// A decode failure is data (it becomes a dead letter), not a fault of the engine: its error carries
// the code and detail and no captured stack, which cost 7 % of the engine's CPU while every record of
// a topic was undecodable. The process-wide stack limit is left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityCodec, DecodeError } from '../../../src/serde/activity-codec.js';

test('a decode failure names its code and detail, captures no stack frames, and leaves Error.stackTraceLimit alone', () => {
  const before = Error.stackTraceLimit;
  let caught: unknown;
  try {
    new ActivityCodec().fromJsonText('{"event_id": "e1", "customer_id": ');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DecodeError);
  assert.equal(caught.code, 'DECODE_JSON');
  assert.match(caught.message, /^DECODE_JSON: /);
  assert.equal(caught.stack, `Error: ${caught.message}`, 'no "at ..." frames');
  assert.equal(Error.stackTraceLimit, before);
  // Other errors keep their stacks.
  assert.match(new Error('x').stack ?? '', /\n\s+at /);
});
