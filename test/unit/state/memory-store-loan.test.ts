// The memory store checks its stored state out to the batch that changes it (checkOutState) and rolls
// it back if the batch is dropped: a batch that is not written leaves the stored state, its reads (get,
// stats, during the batch and after it) and the next load exactly as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { commitStaged, stageDeltas } from '../../../src/state/stage-deltas.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import { day, ev, profile } from '../../helpers/events.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const login = (customer: string, d: number, offset: number) => spec.deltaFor(ev('login', customer, day(d), { device: 'web', success: true }), { stream: 'p0', offset });
const logins7d = spec.columns.findIndex((c) => c.name === 'logins_7d');

test('a staged batch that is never written changes nothing the store reads: get, stats, the next load', async () => {
  const store = new MemoryStateStore({ layout: spec.layout });
  const first = [spec.deltaFor(profile('a', day(0)), { stream: 'p0', offset: 0 }), login('a', 1, 1), login('a', 2, 2)];
  await commitStaged(store, await stageDeltas(store, first));
  // Features read once, through a reader's copy (get); the dropped batch below attaches window totals to the checked-out state.
  assert.equal(spec.evaluate((await store.get(['a']))[0]!, day(3))[logins7d], 2);
  const [before] = await store.get(['a']);
  const statsBefore = await store.stats();

  // Staged (the stored state checked out), changed on several days, then dropped: a failed batch.
  const dropped = await stageDeltas(store, [login('a', 2, 3), login('a', 3, 4), login('a', 9, 5)]);
  assert.equal(spec.evaluate(dropped[0]!.state, day(4))[logins7d], 4); // days 1, 2, 2, 3
  assert.deepEqual(await store.stats(), statsBefore);
  const [during] = await store.get(['a']);
  assert.deepEqual(during, before);
  assert.equal(spec.evaluate(during!, day(3))[logins7d], 2);

  // The next load starts from the stored state, and its write goes through (same version).
  const rerun = await stageDeltas(store, [login('a', 3, 3)]);
  assert.deepEqual(rerun[0]!.outcomes, ['applied']);
  assert.equal(spec.evaluate(rerun[0]!.state, day(4))[logins7d], 3);
  await commitStaged(store, rerun);
  const [after] = await store.get(['a']);
  assert.equal(spec.evaluate(after!, day(4))[logins7d], 3);
  assert.equal(spec.evaluate(after!, day(10))[logins7d], 0, 'the dropped batch\'s day 9 is not there');
  assert.deepEqual(after!.positions, { p0: 3 });
});
