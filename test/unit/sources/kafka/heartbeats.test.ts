import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { prepareBatch } from '../../../../src/sources/kafka/batch-preparer.js';
import { acquireCredit } from '../../../../src/sources/kafka/credit-gate.js';
import { sleepHeartbeating, whileHeartbeating, type Heartbeats } from '../../../../src/sources/kafka/heartbeats.js';
import { FlowControl } from '../../../../src/sources/flow-control.js';
import { raw } from '../../../helpers/events.js';

const log = createLogger({ level: 'silent' });

/** Virtual time: sleep() advances it at once; heartbeats record when they ran. */
function virtualConsumer(intervalMs: number) {
  let now = 0;
  const beats: number[] = [];
  const hb: Heartbeats = {
    intervalMs,
    heartbeat: async () => void beats.push(now),
    sleep: async (ms, signal) => {
      await new Promise<void>((r) => setImmediate(r)); // a macrotask, so work awaited meanwhile can run
      if (!signal.aborted) now += ms; // a wait cut short by the work finishing takes no time
    },
  };
  return { hb, beats, now: () => now, advance: (ms: number) => (now += ms) };
}

/** The longest stretch of virtual time without a heartbeat. */
function longestSilence(beats: number[], end: number): number {
  let prev = 0;
  let worst = 0;
  for (const b of [...beats, end]) {
    worst = Math.max(worst, b - prev);
    prev = b;
  }
  return worst;
}

test('a 60 s registry outage: prepare is retried with backoff, and no wait goes longer than the heartbeat interval', async () => {
  const c = virtualConsumer(500);
  let calls = 0;
  const prepare = async () => {
    calls++;
    if (c.now() < 60_000) throw new ChurnflowError('CF_SOURCE_FAILED', 'schema registry unreachable (ECONNREFUSED)', { retriable: true });
  };
  const ok = await prepareBatch([raw({}, 0)], prepare, { heartbeats: c.hb, abandoned: () => false, log });
  assert.equal(ok, true);
  assert.ok(c.now() >= 60_000, `waited out the outage (${c.now()} ms)`);
  assert.ok(calls >= 8 && calls < 40, `backoff, not a busy loop (${calls} attempts)`);
  assert.ok(longestSilence(c.beats, c.now()) <= 500, `longest silence ${longestSilence(c.beats, c.now())} ms`);
});

test('a slow prepare (a flood of unknown schema ids) heartbeats while it runs and between slices', async () => {
  const c = virtualConsumer(1000);
  const sliceSizes: number[] = [];
  // Each call takes 4.5 s of virtual time: longer than several heartbeat intervals.
  const prepare = async (recs: readonly unknown[]) => {
    sliceSizes.push(recs.length);
    const until = c.now() + 4500;
    while (c.now() < until) await new Promise<void>((r) => setImmediate(r));
  };
  // The clock only moves through sleeps, so drive it: each sleep of the heartbeat loop advances it.
  const records = Array.from({ length: 1200 }, (_, i) => raw({}, i));
  const ok = await prepareBatch(records, prepare, { heartbeats: c.hb, abandoned: () => false, log, sliceSize: 500 });
  assert.equal(ok, true);
  assert.deepEqual(sliceSizes, [500, 500, 200]);
  assert.ok(c.beats.length >= 13, `${c.beats.length} heartbeats over ${c.now()} ms`);
  assert.ok(longestSilence(c.beats, c.now()) <= 1000);
});

test('a non-retriable prepare failure is thrown (the consumer crashes with it), not retried forever', async () => {
  const c = virtualConsumer(500);
  const refused = new ChurnflowError('CF_SOURCE_FAILED', 'registry answered 401', { retriable: false });
  await assert.rejects(prepareBatch([raw({}, 0)], async () => Promise.reject(refused), { heartbeats: c.hb, abandoned: () => false, log }), (e) => e === refused);
});

test('a batch given up during the backoff is abandoned at the next slice', async () => {
  const c = virtualConsumer(500);
  const ok = await prepareBatch([raw({}, 0)], async () => Promise.reject(new Error('ECONNREFUSED')), { heartbeats: c.hb, abandoned: () => c.now() > 3000, log });
  assert.equal(ok, false);
  assert.ok(c.now() <= 3500);
});

test('sleepHeartbeating sleeps in slices with a heartbeat after each', async () => {
  const c = virtualConsumer(400);
  assert.equal(await sleepHeartbeating(1000, c.hb, () => false), true);
  assert.deepEqual(c.beats, [400, 800, 1000]);
});

test('out of credits: paused, heartbeating, resumed when a credit comes back; abandoned on a rebalance', async () => {
  const flow = new FlowControl(1);
  assert.ok(flow.tryAcquire());
  const c = virtualConsumer(300);
  const events: string[] = [];
  const gate = { heartbeats: c.hb, abandoned: () => false, pause: () => events.push('pause'), resume: () => events.push('resume') };
  const waiting = acquireCredit(flow, gate);
  await new Promise((r) => setImmediate(r));
  flow.release(1);
  assert.equal(await waiting, true);
  assert.equal(flow.outstanding, 1);
  assert.deepEqual(events, ['pause', 'resume']);
  // a rebalance while waiting: give up, and the credit that arrives later is returned
  const gone = await acquireCredit(flow, { ...gate, abandoned: () => c.now() > 1000 });
  assert.equal(gone, false);
  flow.release(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(flow.outstanding, 0);
});

test('whileHeartbeating: work already settled returns its value (or error) without arming a timer or heartbeating', async () => {
  const c = virtualConsumer(500);
  let sleeps = 0;
  const hb: Heartbeats = {
    ...c.hb,
    sleep: async (ms, signal) => {
      sleeps++;
      await c.hb.sleep!(ms, signal);
    },
  };
  assert.equal(await whileHeartbeating(Promise.resolve(7), hb), 7);
  const done = (async () => 'ready')();
  await done;
  assert.equal(await whileHeartbeating(done, hb), 'ready');
  const failed = Promise.reject(new Error('no assignment'));
  failed.catch(() => {});
  await assert.rejects(whileHeartbeating(failed, hb), /no assignment/);
  assert.equal(sleeps, 0);
  assert.deepEqual(c.beats, []);
});

test('whileHeartbeating: work that takes 2.2 s heartbeats every interval and ends when it settles', async () => {
  const c = virtualConsumer(500);
  const work = (async () => {
    while (c.now() < 2200) await new Promise<void>((r) => setImmediate(r));
    return 'done';
  })();
  assert.equal(await whileHeartbeating(work, c.hb), 'done');
  assert.deepEqual(c.beats.slice(0, 4), [500, 1000, 1500, 2000]);
  assert.ok(c.beats.length <= 5 && c.now() <= 2500, `stops with the work: ${c.beats.length} beats, ${c.now()} ms`);
  assert.ok(longestSilence(c.beats, c.now()) <= 500);
});
