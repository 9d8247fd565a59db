import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS } from '../../../src/events/activity-event.js';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { createEngineMetrics } from '../../../src/observability/metrics.js';
import { encodeCustomer } from '../../../src/state/codec/customer-codec.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import { refreshStateGauges, watchStateGauges } from '../../../src/state/state-gauges.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const t0 = Date.UTC(2025, 0, 1);
const login = (customerId: string, day: number, offset: number) =>
  spec.deltaFor({ eventId: `e-${customerId}-${offset}`, customerId, eventTime: t0 + day * DAY_MS, kind: 'login', payload: { device: 'web', success: true } }, { stream: 'activity/0', offset });

async function gauge(metrics: ReturnType<typeof createEngineMetrics>, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values[0]?.value ?? Number.NaN;
}

test('memory store: the state gauges follow the customers and their encoded bytes', async () => {
  const metrics = createEngineMetrics({ defaultMetrics: false, instance: 't' });
  const store = new MemoryStateStore({ layout: spec.layout });
  assert.deepEqual(await refreshStateGauges(() => store.stats(), metrics), { customers: 0, bytes: 0 });
  assert.equal(await gauge(metrics, 'churnflow_state_customers'), 0);

  await store.apply([login('a', 0, 0), login('b', 0, 1), login('c', 0, 2)]);
  await refreshStateGauges(() => store.stats(), metrics);
  const states = (await store.get(['a', 'b', 'c'])).map((s) => encodeCustomer(s!, { layout: spec.layout.merges }).length);
  assert.equal(await gauge(metrics, 'churnflow_state_customers'), 3);
  const perCustomer = await gauge(metrics, 'churnflow_state_bytes_per_customer');
  assert.equal(perCustomer, states.reduce((x, y) => x + y, 0) / 3);

  // More days of activity for one customer: more buckets, more bytes per customer.
  let offset = 3;
  for (let day = 1; day < 30; day++) await store.apply([login('a', day, offset++)]);
  await refreshStateGauges(() => store.stats(), metrics);
  assert.equal(await gauge(metrics, 'churnflow_state_customers'), 3);
  // Each new day bucket costs at least its day-gap byte.
  assert.ok((await gauge(metrics, 'churnflow_state_bytes_per_customer')) >= perCustomer + 29 / 3, 'the bytes grew with the buckets');
});

test('the watcher refreshes on its timer, reports errors and stops', async () => {
  const metrics = createEngineMetrics({ defaultMetrics: false, instance: 't' });
  let calls = 0;
  const errors: unknown[] = [];
  const watch = watchStateGauges(
    async () => {
      calls++;
      if (calls === 2) throw new Error('redis away');
      return { customers: calls * 10, bytes: calls * 1000 };
    },
    metrics,
    { intervalMs: 20, firstAfterMs: 1, onError: (err) => errors.push(err) },
  );
  for (let i = 0; i < 100 && calls < 3; i++) await new Promise((r) => setTimeout(r, 10));
  watch.stop();
  const stoppedAt = calls;
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(stoppedAt >= 3, `refreshed ${stoppedAt} times`);
  assert.equal(calls, stoppedAt, 'no refresh after stop');
  assert.equal(errors.length, 1);
  assert.equal(await gauge(metrics, 'churnflow_state_customers'), stoppedAt * 10);
  assert.equal(await gauge(metrics, 'churnflow_state_bytes_per_customer'), 100);
});

test('a refresh in flight when the watcher stops (the store closing under it) fails without an error report', async () => {
  const metrics = createEngineMetrics({ defaultMetrics: false, instance: 't' });
  const errors: unknown[] = [];
  let fail: (err: Error) => void = () => {};
  let started = false;
  const watch = watchStateGauges(
    () => {
      started = true;
      return new Promise((_, reject) => (fail = reject));
    },
    metrics,
    { intervalMs: 1000, firstAfterMs: 1, onError: (err) => errors.push(err) },
  );
  for (let i = 0; i < 100 && !started; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(started);
  watch.stop();
  fail(new Error('Connection is closed.'));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(errors, []);
});
