// The profile table of bench/engine-cpu: self time goes to the area of the sampled function, or, for a
// native frame (no script URL) or a frame in Node's own modules, to the nearest caller of ours; idle
// and "(program)" samples are not busy time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileAreas, type CpuProfile } from '../../../bench/cpu-profile-areas.js';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url }, children });

// root → encodeCustomer (codec) → write (node:buffer) → writeBuffer (native)
//      → sendRequest (kafkajs) ;  idle ;  GC ;  a timer callback from node: only
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 5, 6, 7, 8, 9]),
    frame(2, 'encodeCustomer', 'file:///repo/dist/src/state/codec/customer-codec.js', [3]),
    frame(3, 'write', 'node:buffer', [4]),
    frame(4, 'writeBuffer', ''),
    frame(5, 'sendRequest', 'file:///repo/node_modules/kafkajs/src/network/connection.js'),
    frame(6, '(idle)', ''),
    frame(7, '(garbage collector)', ''),
    frame(8, 'listOnTimeout', 'node:internal/timers'),
    frame(9, 'applyDelta', 'file:///repo/dist/src/state/customer-state.js'),
  ],
  samples: [2, 4, 4, 5, 6, 6, 6, 7, 8, 9],
  timeDeltas: [1000, 1000, 1000, 2000, 5000, 5000, 5000, 1000, 1000, 3000],
};

test('self time by area: native and node: frames count for the nearest caller of ours; idle is not busy', () => {
  const { busyMs, areas } = profileAreas(profile);
  assert.equal(busyMs, 10, 'idle samples (15 ms) are not busy time');
  const ms = Object.fromEntries(areas.map((a) => [a.area, a.ms]));
  assert.equal(ms['state: codec (binary encode/decode)'], 3, "the codec's own sample and the two Buffer writes it called");
  assert.equal(ms['kafkajs other (network, requests, consumer runner, producer)'], 2);
  assert.equal(ms['state: transition (applyDelta, stage, clone)'], 3);
  assert.equal(ms.GC, 1);
  assert.equal(ms['node internals (event loop, timers, sockets: no caller of ours)'], 1);
  assert.equal(areas[0]!.ms >= areas[areas.length - 1]!.ms, true, 'largest first');
  assert.ok(Math.abs(areas.reduce((s, a) => s + a.share, 0) - 1) < 1e-9, 'shares of busy time add up to 1');
});
