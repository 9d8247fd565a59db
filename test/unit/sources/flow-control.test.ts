import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastValueFrom, toArray } from 'rxjs';
import { FlowControl } from '../../../src/sources/flow-control.js';
import { iterateUnderFlowControl } from '../../../src/sources/record-source.js';
import { raw } from '../../helpers/events.js';

test('a source cannot run more than maxInFlight records ahead of acknowledgement', async () => {
  const flow = new FlowControl(3);
  let emitted = 0;
  const seen: number[] = [];
  const done = lastValueFrom(
    iterateUnderFlowControl(
      function* () {
        for (let i = 0; i < 10; i++) {
          emitted++;
          yield raw({}, i);
        }
      },
      flow,
      () => false,
    ).pipe(toArray()),
  );
  await new Promise((r) => setTimeout(r, 10));
  seen.push(flow.outstanding);
  assert.ok(emitted <= 4, `generator ran ${emitted} ahead`);
  for (let i = 0; i < 10; i++) {
    flow.release(1);
    await new Promise((r) => setImmediate(r));
    seen.push(flow.outstanding);
  }
  const out = await done;
  assert.equal(out.length, 10);
  assert.ok(seen.every((n) => n <= 3));
});

test('stop() ends the stream after the record in hand', async () => {
  let stopped = false;
  const out = await lastValueFrom(
    iterateUnderFlowControl(
      function* () {
        for (let i = 0; i < 100; i++) {
          if (i === 5) stopped = true;
          yield raw({}, i);
        }
      },
      new FlowControl(1000),
      () => stopped,
    ).pipe(toArray()),
  );
  assert.equal(out.length, 5);
});

test('invalid maxInFlight is refused', () => {
  assert.throws(() => new FlowControl(0), /positive integer/);
});
