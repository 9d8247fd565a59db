// A state written under one feature spec's layout, read by an engine with another spec: the registered
// layout (resolved by fingerprint) maps its slots by id, exactly as a format-1 state's slot list does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../../src/errors.js';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import type { FeatureSpecInput } from '../../../src/features/spec.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../../src/simulator/index.js';
import { decodeCustomer, encodeCustomer } from '../../../src/state/codec/customer-codec.js';
import { layoutInfo, layoutText, parseLayoutText, type LayoutSlots } from '../../../src/state/codec/layout-fingerprint.js';
import type { CustomerState } from '../../../src/state/customer-state.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';
import { simulatedStreamDeltas } from '../../helpers/simulated-deltas.js';

/**
 * Spec B: spec A without discount_cents_90d, with a new window feature (refunds_90d), its window
 * features first and in reverse order (derived features must follow what they refer to).
 */
function changedSpec(a: FeatureSpecInput): FeatureSpecInput {
  const kept = a.features.filter((f) => f.name !== 'discount_cents_90d');
  const windows = kept.filter((f) => f.type === 'window');
  windows.push({ name: 'refunds_90d', type: 'window', event: 'payment', agg: 'count', where: { field: 'status', in: ['REFUNDED'] }, windowDays: 90 });
  return { ...a, version: '2', features: [...windows.reverse(), ...kept.filter((f) => f.type !== 'window')] };
}

async function simulatedStates(spec: ReturnType<typeof compileSpec>, customers: number, days: number): Promise<{ states: CustomerState[]; asOf: number }> {
  const sim = resolveSimulatorOptions({ customers, days, seed: 5 });
  const store = new MemoryStateStore({ layout: spec.layout });
  const deltas = simulatedStreamDeltas(spec, sim);
  for (let i = 0; i < deltas.length; i += 512) await store.apply(deltas.slice(i, i + 512));
  const states: CustomerState[] = [];
  for await (const page of store.scan()) states.push(...page);
  return { states, asOf: simulationEndTime(sim) };
}

test('a state written under layout A decodes under layout B (a slot added, one removed, reordered) through the registered layout A, exactly as its format-1 slot list does', async () => {
  const specA = compileSpec(DEFAULT_CHURN_SPEC);
  const specB = compileSpec(changedSpec(DEFAULT_CHURN_SPEC));
  const a = specA.layout.merges;
  const b = specB.layout.merges;
  const infoA = layoutInfo(a);
  const infoB = layoutInfo(b);
  assert.notEqual(infoA.fingerprint, infoB.fingerprint);
  const added = [...b.keys()].filter((s) => !a.has(s));
  const removed = [...a.keys()].filter((s) => !b.has(s));
  assert.equal(added.length, 1, 'B adds one slot');
  assert.equal(removed.length, 1, 'B removes one slot');
  const common = [...b.keys()].filter((s) => a.has(s));
  assert.notDeepEqual(common, [...a.keys()].filter((s) => b.has(s)), 'B orders the common slots differently');

  // The registry holds layout A as text; the resolver gives it back from that text, as the store does.
  const registered = parseLayoutText(infoA.fingerprint, layoutText(a));
  const resolve = (f: number): LayoutSlots | undefined => (f === infoA.fingerprint ? registered : undefined);

  const { states, asOf } = await simulatedStates(specA, 40, 100);
  assert.equal(states.length, 40);
  let withRemoved = 0;
  for (const state of states) {
    const bytes = encodeCustomer(state, { outbox: false, layout: a });
    const underB = decodeCustomer(state.customerId, bytes, b, resolve);
    const viaV1 = decodeCustomer(state.customerId, encodeCustomer(state, { outbox: false, formatVersion: 1 }), b);
    assert.deepStrictEqual(underB, viaV1, `${state.customerId}: registered layout and format-1 slot list map the same way`);
    // Common slots keep their values, the removed slot is gone, the new one is empty.
    for (const [day, values] of Object.entries(state.buckets)) {
      for (const slot of common) assert.deepStrictEqual(underB.buckets[day]![slot], values[slot], `${state.customerId} day ${day} slot ${slot}`);
      for (const slot of [...removed, ...added]) assert.equal(slot in underB.buckets[day]!, false);
      if (removed.some((s) => s in values)) withRemoved++;
    }
    for (const slot of common) assert.deepStrictEqual(underB.archive[slot], state.archive[slot]);
    for (const slot of [...removed, ...added]) assert.equal(slot in underB.archive, false);
    // Spec B's features of the decoded state are those of the original (B's features never read the removed slot).
    for (const t of [asOf, asOf - 30 * 86_400_000]) assert.deepStrictEqual(specB.evaluate(underB, t), specB.evaluate(state, t), `${state.customerId} at ${t}`);
    // Written back under B it names B's fingerprint (no slot list) and B reads it without the registry.
    const rewritten = encodeCustomer(underB, { outbox: false, layout: b });
    assert.ok(rewritten.length < encodeCustomer(underB, { outbox: false }).length, 'B fingerprint, not a slot list');
    assert.deepStrictEqual(decodeCustomer(state.customerId, rewritten, b), underB);
  }
  assert.ok(withRemoved > 0, 'some states held the removed slot');

  // A fingerprint nobody registered (the layout key deleted): CF_STATE_LAYOUT naming the rebuild.
  const bytes = encodeCustomer(states[0]!, { outbox: false, layout: a });
  assert.throws(
    () => decodeCustomer('c0', bytes, b, () => undefined),
    (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_LAYOUT' && /not registered/.test(err.message) && /replaying the activity topic from Kafka/.test(err.message),
  );
});

test('a registered layout text that is not a layout, or not the fingerprint\'s, is refused with CF_STATE_FORMAT', () => {
  const a = compileSpec(DEFAULT_CHURN_SPEC).layout.merges;
  const f = layoutInfo(a).fingerprint;
  assert.deepStrictEqual(parseLayoutText(f, layoutText(a)), a);
  for (const [text, why] of [
    ['{', /not JSON/],
    ['[["s1","sum"]]', /not a list of \[slot id, merge\] pairs/],
    [JSON.stringify([...a].reverse()), /has fingerprint/],
  ] as const) {
    assert.throws(() => parseLayoutText(f, text), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_FORMAT' && why.test(err.message), text);
  }
});
