import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftMonitor } from '../../../src/monitoring/drift-monitor.js';
import { fnv1a, observationSample } from '../../../src/monitoring/drift/observation-sample.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import type { CustomerState } from '../../../src/state/customer-state.js';
import { day, ev, profile } from '../../helpers/events.js';
import { bundledManifest, churnColumns, DAY } from './fixtures.js';
import { churnSpec } from './simulated-observations.js';

async function states(): Promise<CustomerState[]> {
  const spec = churnSpec();
  const store = new MemoryStateStore({ layout: spec.layout });
  const events = [
    profile('old', day(0)),
    ev('login', 'old', day(1), { device: 'web', success: true }),
    ev('login', 'old', day(5), { device: 'web', success: true }), // on the observation day: not counted
    profile('new', day(5), { signup_time: day(5) }), // signs up after the observation time
    profile('odd', day(0), { plan: 'family' }),
  ];
  await store.apply(events.map((e, i) => spec.deltaFor(e, { stream: 's', offset: i })));
  const out: CustomerState[] = [];
  for await (const page of store.scan()) out.push(...page);
  return out;
}

test('observation rows: as of T (buckets before T only), customers signed up before T, raw categories', async () => {
  const spec = churnSpec();
  const T = day(5, 0);
  const s = observationSample(spec, await states(), T);
  assert.deepEqual(s.customerIds.sort(), ['odd', 'old']);
  const i = s.customerIds.indexOf('old');
  const logins7d = spec.columns.findIndex((c) => c.name === 'logins_7d');
  assert.equal(s.rows[i]![logins7d], 1, 'the login on day 5 is after T');
  assert.deepEqual(s.eventTimes, [T, T]);
  assert.equal(s.categories[s.customerIds.indexOf('odd')]!['plan'], 'family');
});

test('sampling by id hash is stable; customers gone before T (labelled) are left out', async () => {
  const spec = churnSpec();
  const all = await states();
  const rate = 0.5;
  const picked = observationSample(spec, all, day(5, 0), { sampleRate: rate }).customerIds;
  assert.deepEqual(picked, ['odd', 'old'].filter((id) => fnv1a(id) / 2 ** 32 < rate));
  const m = new DriftMonitor(churnColumns(), bundledManifest());
  m.observeLabels([{ customerId: 'old', eventTime: day(3) }]);
  assert.equal(m.isGone('old', day(4)), true);
  assert.equal(m.isGone('old', day(2)), false);
  assert.deepEqual(observationSample(spec, all, day(5, 0), { isGone: (id, t) => m.isGone(id, t) }).customerIds, ['odd']);
  // labels are forgotten after labelMemoryDays
  const short = new DriftMonitor(churnColumns(), bundledManifest(), { labelMemoryDays: 10 });
  short.observeLabels([{ customerId: 'old', eventTime: day(3) }]);
  short.advance(day(3) + 11 * DAY);
  assert.equal(short.isGone('old', day(20)), false);
});
