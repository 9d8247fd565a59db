// Applies a micro-batch to the state store (one call, effectively once per source position) and
// computes each event's feature row by replaying the customer's deltas on the returned pre-image,
// so the features are those just after each event however the stream was batched.
import { concatMap, type OperatorFunction } from 'rxjs';
import { reject, type Accepted, type Rejected, type Routed } from '../events/routed.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { CustomerState, StateDelta } from '../state/customer-state.js';
import type { StateStore } from '../state/state-store.js';
import type { AggregatedBatch, ScoringStep } from './batch.js';

export async function aggregateBatch(items: readonly Routed[], store: StateStore, spec: CompiledSpec): Promise<AggregatedBatch> {
  const accepted = items.filter((i): i is Accepted => i.tag === 'accepted');
  const refused = new Map<Accepted, Rejected>();
  const deltas: StateDelta[] = accepted.map((a) => spec.deltaFor(a.event, a.record.position));
  const acceptedByDelta = new Map<StateDelta, Accepted>(deltas.map((d, i) => [d, accepted[i]!]));
  const stepByDelta = new Map<StateDelta, ScoringStep>();
  // Per customer: the feature row of its state as it stands, as of that state's latest event.
  const current = new Map<string, Float64Array | null>();
  const rowAsOfLatest = (state: Readonly<CustomerState>): Float64Array | null =>
    state.maxEventTime === 0 && Object.keys(state.buckets).length === 0 ? null : spec.evaluate(state, state.maxEventTime + 1);

  await store.apply(
    deltas,
    (state, delta, outcome) => {
      const item = acceptedByDelta.get(delta)!;
      if (outcome === 'before_signup') {
        refused.set(item, reject(item.record, 'dead-letter', 'BEFORE_SIGNUP', `event_time ${new Date(delta.eventTime).toISOString()} is before the customer's signup`, item.event));
        return;
      }
      const before = current.get(delta.customerId) ?? null;
      // +1 ms: the row includes the event that triggered it (windows read buckets that start before asOf).
      // A duplicate sees today's state, which already holds it (and maybe later events): best effort.
      const features = spec.evaluate(state, delta.eventTime + 1);
      stepByDelta.set(delta, { item, outcome, features, before });
      current.set(delta.customerId, delta.eventTime >= state.maxEventTime ? features : rowAsOfLatest(state));
    },
    (state) => current.set(state.customerId, rowAsOfLatest(state)),
  );
  // Rejections and steps in arrival order, so outputs do not depend on how the stream was batched.
  const rejected = items.flatMap((i): Rejected[] => (i.tag === 'rejected' ? [i] : refused.has(i) ? [refused.get(i)!] : []));
  const steps = deltas.flatMap((d) => {
    const s = stepByDelta.get(d);
    return s ? [s] : [];
  });
  return { items, rejected, steps };
}

export function applyToState(store: StateStore, spec: CompiledSpec): OperatorFunction<readonly Routed[], AggregatedBatch> {
  return concatMap((items) => aggregateBatch(items, store, spec));
}
