// The midnight drift sample at scale: ids picked before any state is read (rate, owner, cap as a
// bottom-k of the sampling hash), states loaded in bounded chunks, and — with no cap binding and every
// customer owned — the very rows the old whole-store sample produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a, observationSample } from '../../../src/monitoring/drift/observation-sample.js';
import { SampleSelection } from '../../../src/monitoring/drift/sample-selection.js';
import { takeMidnightSample } from '../../../src/operators/monitor-drift.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import type { CustomerState } from '../../../src/state/customer-state.js';
import { day, ev, profile } from '../../helpers/events.js';
import { churnSpec } from './simulated-observations.js';

const ids = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('selection: the lowest hashes within the rate, owned only, whatever the order and repeats of the ids', () => {
  const all = ids(20_000);
  const owns = (id: string) => Number(id.slice(1)) % 3 === 1;
  const expected = all
    .filter((id) => fnv1a(id) / 2 ** 32 < 0.3 && owns(id))
    .sort((a, b) => fnv1a(a) - fnv1a(b))
    .slice(0, 250)
    .sort();
  const a = new SampleSelection({ rate: 0.3, maxCustomers: 250, owns });
  a.offer(all);
  const b = new SampleSelection({ rate: 0.3, maxCustomers: 250, owns });
  const shuffled = [...all].reverse();
  for (let i = 0; i < shuffled.length; i += 77) b.offer([...shuffled.slice(i, i + 77), ...shuffled.slice(i, i + 5)]); // pages, some ids twice
  assert.deepEqual(a.ids(), expected);
  assert.deepEqual(b.ids(), expected);
  assert.equal(a.offered, 20_000);
  assert.ok(a.eligible > 250, `${a.eligible} eligible before the cap`);
});

test('selection: no cap binding → exactly the rate rule of observationSample', () => {
  const all = ids(5000);
  const s = new SampleSelection({ rate: 0.1, maxCustomers: 10_000 });
  s.offer(all);
  assert.deepEqual(s.ids(), all.filter((id) => fnv1a(id) / 2 ** 32 < 0.1).sort());
  assert.throws(() => new SampleSelection({ rate: 0, maxCustomers: 1 }), /rate/);
  assert.throws(() => new SampleSelection({ rate: 1, maxCustomers: 0 }), /maxCustomers/);
});

async function storeWith(customers: number): Promise<MemoryStateStore> {
  const spec = churnSpec();
  const store = new MemoryStateStore({ layout: spec.layout });
  const events = ids(customers).flatMap((id, i) => [profile(id, day(0)), ev('login', id, day(1 + (i % 3)), { device: 'web', success: true })]);
  await store.apply(events.map((e, i) => spec.deltaFor(e, { stream: 's', offset: i })));
  return store;
}

test('takeMidnightSample: ids first, no whole-store scan, chunked loads, and the rows of the old sample', async () => {
  const spec = churnSpec();
  const store = await storeWith(300);
  const everyone: CustomerState[] = [];
  for await (const page of store.scan()) everyone.push(...page);
  const T = day(5, 0);
  const old = observationSample(spec, everyone, T, { sampleRate: 0.5 });

  const gets: number[] = [];
  const spy = {
    scanIds: (page?: number, o?: { unique?: boolean }) => store.scanIds(page, o),
    get: (wanted: readonly string[]) => {
      gets.push(wanted.length);
      return store.get(wanted);
    },
    scan: () => {
      throw new Error('the sample must not load every state');
    },
  };
  const sample = await takeMidnightSample(spy, spec, T, { rate: 0.5, bounds: { loadChunk: 40, scanPage: 64 } });
  const order = (s: { customerIds: string[]; rows: Float64Array[] }) => s.customerIds.map((id, i) => [id, [...s.rows[i]!]] as const).sort(([a], [b]) => (a < b ? -1 : 1));
  assert.deepEqual(order(sample), order(old));
  assert.equal(sample.offered, 300);
  assert.ok(gets.every((n) => n <= 40) && gets.reduce((a, b) => a + b, 0) === old.customerIds.length, `chunks ${gets.join(',')}`);
});

test('takeMidnightSample: an instance samples only the customers it owns; the fleet together samples each once', async () => {
  const spec = churnSpec();
  const store = await storeWith(200);
  const T = day(5, 0);
  const whole = await takeMidnightSample(store, spec, T, { rate: 1 });
  const parts = await Promise.all([0, 1, 2].map((k) => takeMidnightSample(store, spec, T, { rate: 1, bounds: { owns: (id) => fnv1a(`own:${id}`) % 3 === k } })));
  const union = parts.flatMap((p) => p.customerIds).sort();
  assert.deepEqual(union, [...whole.customerIds].sort());
  assert.ok(parts.every((p) => p.customerIds.length > 30 && p.customerIds.length < 110), parts.map((p) => p.customerIds.length).join(','));
  const capped = await takeMidnightSample(store, spec, T, { rate: 1, bounds: { maxCustomers: 25 } });
  assert.equal(capped.customerIds.length, 25);
  assert.equal(capped.eligible, 200);
});
