// The per-customer budget's size estimate (estimateStateBytes) keeps its sum over the day buckets with
// the bucket container, following applyDelta and expiry, instead of a pass over every day of every
// staged customer per batch. It must equal the full pass on any state, whatever happened to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { ActivityCodec } from '../../../src/serde/activity-codec.js';
import { resolveSimulatorOptions, simulate } from '../../../src/simulator/index.js';
import { Prng } from '../../../src/simulator/prng.js';
import { applyDelta, checkOutState, cloneState, emptyState, enforceBudget, estimateStateBytes, keepState, rollBackState, type CheckedOutState, type CustomerState } from '../../../src/state/customer-state.js';
import type { SlotValues } from '../../../src/state/slots.js';
import { day, ev, profile } from '../../helpers/events.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);

/** The full pass: the same state with a container of its own, which no sum was kept for. */
const fullPass = (state: CustomerState): number => estimateStateBytes({ ...state, buckets: { ...state.buckets } });

test('the kept bucket sum equals the full pass through batches, copies, dropped batches, late events, expiry and budget shedding', () => {
  const codec = new ActivityCodec();
  const sim = resolveSimulatorOptions({ customers: 30, days: 200, seed: 5, lateEvents: { rate: 0.1, maxDelayMs: 20 * 86_400_000 } });
  const rng = new Prng(11, 3);
  const states = new Map<string, CustomerState>();
  let offset = 0;
  let checked = 0;
  let kept = 0;
  const out = new Map<CustomerState, CheckedOutState>();
  for (const r of simulate(sim)) {
    if (r.type !== 'event') continue;
    const e = codec.fromJsonObject(r.event);
    let state = states.get(e.customerId) ?? emptyState(e.customerId);
    // A batch boundary: the store ends the state's checkout — kept, or now and then rolled back (a
    // dropped batch) — and checks it out again, or a reader shares it (cloneState).
    const k = rng.int(6);
    if (k === 0) {
      const held = out.get(state);
      if (held !== undefined) {
        if (rng.int(4) === 0) rollBackState(state, held);
        else keepState(state);
      }
      out.set(state, checkOutState(state));
    } else if (k === 1) {
      const copy = cloneState(state);
      if (rng.int(4) !== 0) state = copy;
    }
    applyDelta(state, spec.deltaFor(e, { stream: 's', offset: offset++ }), spec.layout);
    if (rng.int(30) === 0) enforceBudget(state, spec.layout, 1024 + rng.int(6000));
    const want = fullPass(state);
    assert.equal(estimateStateBytes(state), want, `${e.customerId} after ${e.eventId}`);
    states.set(e.customerId, state);
    checked++;
    if (want > 2000) kept++;
  }
  assert.ok(checked > 5000 && kept > 2000, `only ${checked} states checked, ${kept} of a size worth keeping`);
});

test('a second estimate of a changed state reads only the changed day, not every day', () => {
  let state = emptyState('a');
  let offset = 0;
  applyDelta(state, spec.deltaFor(profile('a', day(0)), { stream: 's', offset: offset++ }), spec.layout);
  for (let d = 1; d <= 60; d++) applyDelta(state, spec.deltaFor(ev('login', 'a', day(d), { device: 'web', success: true }), { stream: 's', offset: offset++ }), spec.layout);
  // Day 5's bucket counts how often its keys are listed: a full pass lists them.
  let listed = 0;
  const five = state.buckets[String(Math.floor(day(5) / 86_400_000))]!;
  state.buckets[String(Math.floor(day(5) / 86_400_000))] = new Proxy<SlotValues>(five, {
    ownKeys: (target) => {
      listed++;
      return Reflect.ownKeys(target);
    },
  });
  const first = estimateStateBytes(state);
  assert.equal(listed, 1);
  checkOutState(state); // the next batch checks the state out: it keeps its container, and its sum
  applyDelta(state, spec.deltaFor(ev('login', 'a', day(61), { device: 'web', success: true }), { stream: 's', offset: offset++ }), spec.layout);
  const second = estimateStateBytes(state);
  assert.equal(listed, 1, 'the estimate after a batch passed over every day again');
  assert.ok(second > first);
  assert.equal(second, fullPass(state));
  assert.equal(listed, 2); // the reference pass
});
