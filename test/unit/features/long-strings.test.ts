// An oversized string field must never evict a customer's windows (the per-customer byte budget
// sheds day buckets when a 'last' slot holds a huge value), nor change any feature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampString, compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import type { ActivityEvent } from '../../../src/events/activity-event.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import { day, ev, profile } from '../../helpers/events.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);

async function featuresAfter(events: readonly ActivityEvent[]): Promise<{ features: Float64Array; evicted: number }> {
  let evicted = 0;
  const store = new MemoryStateStore({ layout: spec.layout, maxBytesPerCustomer: 65_536, onBudgetExceeded: () => evicted++ });
  await store.apply(events.map((e, i) => spec.deltaFor(e, { stream: 't', offset: i })));
  const [state] = await store.get(['c']);
  return { features: spec.evaluate(state!, day(41)), evicted };
}

const history = (region: string): ActivityEvent[] => [
  profile('c', day(0)),
  ...Array.from({ length: 40 }, (_, d) => ev('login', 'c', day(d), { device: 'web', success: true })),
  ...Array.from({ length: 40 }, (_, d) => ev('session', 'c', day(d, 13), { duration_seconds: 600, content_items: 2, content_id: `m${d % 7}` })),
  profile('c', day(40), { region }),
];

test('a 100 KB region string neither evicts the windows nor changes a feature (it is "other", like any unknown region)', async () => {
  const huge = await featuresAfter(history('x'.repeat(100 * 1024)));
  const unknown = await featuresAfter(history('atlantis'));
  assert.equal(huge.evicted, 0, 'the byte budget was never exceeded');
  assert.deepEqual([...huge.features], [...unknown.features]);
  const logins30 = spec.columns.findIndex((c) => c.name === 'logins_30d');
  assert.equal(huge.features[logins30], 28, 'the 30-day window still holds its logins (days 12..39)');
});

test('slot ops keep the head of a long string: longer than every category, so it cannot become one', () => {
  const longest = Math.max(...DEFAULT_CHURN_SPEC.features.flatMap((f) => ('categories' in f && f.categories ? f.categories.map((c: string) => c.length) : [])));
  const ops = spec.opsFor(profile('c', day(1), { region: 'y'.repeat(10_000) }));
  const strings = ops.flatMap((o) => (Array.isArray(o.value) && typeof o.value[1] === 'string' ? [o.value[1] as string] : []));
  assert.ok(strings.length > 0);
  for (const s of strings) assert.ok(s.length <= Math.max(64, longest) + 1 && (s.length > longest || s === 'standard' || s === 'card'), s);
  assert.equal(clampString('ab\u{1F600}', 3), 'ab', 'never half a surrogate pair');
  assert.equal(clampString('abc', 3), 'abc');
});
