// Stages a micro-batch on the state store (load the customers, run the shared transition on copies)
// and computes each event's feature row from the state right after it, so the features are those just
// after each event however the stream was batched. Nothing is written here: the new states are
// persisted with the batch's decisions (persist-decisions.ts). A redelivered event is not a step: its
// decision was stored with the state change it made, and is re-emitted as stored (so is an event applied
// anew whose decision was stored ahead of its state).
import { concatMap, type OperatorFunction } from 'rxjs';
import { reject, type Accepted, type Rejected, type Routed } from '../events/routed.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { storedDecisionAt, trailsStoredDecisions } from '../scoring/restore-emit-memory.js';
import { decodeDecision, encodeDecision } from '../scoring/stored-decision.js';
import { outboxKey, type StateDelta } from '../state/customer-state.js';
import { stageDeltas } from '../state/stage-deltas.js';
import type { StateStore } from '../state/state-store.js';
import type { AggregatedBatch, OutboxEntry, ReplayedDecision, ScoringStep } from './batch.js';

const BEFORE_SIGNUP = encodeDecision({ beforeSignup: true });

function beforeSignup(item: Accepted, eventTime: number): Rejected {
  return reject(item.record, 'dead-letter', 'BEFORE_SIGNUP', `event_time ${new Date(eventTime).toISOString()} is before the customer's signup`, item.event);
}

export async function aggregateBatch(items: readonly Routed[], store: StateStore, spec: CompiledSpec): Promise<AggregatedBatch> {
  const accepted: Accepted[] = [];
  const acceptedOrder: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.tag === 'accepted') {
      accepted.push(item);
      acceptedOrder.push(i);
    }
  }
  const refused = new Map<Accepted, Rejected>();
  const refusals: OutboxEntry[] = [];
  const replays: ReplayedDecision[] = [];
  const duplicates = { redelivered: 0, sameEventId: 0 };
  const deltas: StateDelta[] = accepted.map((a) => spec.deltaFor(a.event, a.record.position));
  // Deltas reach the observer grouped by customer; their index (the observer's fourth argument) puts
  // steps back in arrival order.
  const stepAt = new Array<ScoringStep | undefined>(deltas.length);
  // One buffer for the batch's feature rows (each step a view of its part): a Float64Array per event
  // was a separate off-heap allocation, a measurable share of the features stage. Rows live as long
  // as the batch.
  const width = spec.columns.length;
  const rows = new Float64Array(width * deltas.length);
  /** The customer being staged was read from Redis with decisions for records it has not applied (see storedDecisionAt below). */
  let ahead = false;

  const staged = await stageDeltas(
    store,
    deltas,
    (state, delta, outcome, k) => {
      const item = accepted[k]!;
      if (outcome === 'duplicate') {
        duplicates.redelivered++;
        // Re-emit what this position decided when it was applied. No entry: it decided nothing, or its
        // offset was committed (then nobody redelivers it but an explicit offset reset).
        const stored = state.outbox[outboxKey(delta.position)];
        if (stored === undefined) return;
        const decision = decodeDecision(stored);
        if (decision.beforeSignup) refused.set(item, beforeSignup(item, delta.eventTime));
        else replays.push({ item, order: acceptedOrder[k]!, decision });
        return;
      }
      if (outcome === 'duplicate_event') {
        duplicates.sameEventId++; // the same event_id again (a producer retry): nothing new
        return;
      }
      if (outcome === 'before_signup') {
        refused.set(item, beforeSignup(item, delta.eventTime));
        refusals.push({ customerId: delta.customerId, key: outboxKey(delta.position), payload: BEFORE_SIGNUP });
        return;
      }
      // +1 ms: the row includes the event that triggered it (windows read buckets that start before asOf).
      // A view made by the constructor, not subarray(): the same Float64Array over the same bytes,
      // without subarray's species lookup (once per event).
      const features = spec.evaluate(state, delta.eventTime + 1, new Float64Array(rows.buffer, k * width * Float64Array.BYTES_PER_ELEMENT, width));
      // Applied anew, yet decided before: its decision was stored ahead of the state (write-behind,
      // HotCachedStore.writeDecisions) and the engine stopped before the state was written. Re-emitted
      // as stored, and the emit rule's memory moves as it did (decide-risk.ts).
      const stored = ahead ? storedDecisionAt(state, delta.position) : undefined;
      if (stored !== undefined) replays.push({ item, order: acceptedOrder[k]!, decision: stored });
      stepAt[k] = { item, order: acceptedOrder[k]!, outcome, features, stored };
    },
    (loaded) => (ahead = trailsStoredDecisions(loaded.state, loaded.read === true)),
  );
  // Rejections, steps and replays in arrival order, so outputs do not depend on how the stream was batched.
  const rejected: Rejected[] = [];
  for (const i of items) {
    const r = i.tag === 'rejected' ? i : refused.size > 0 ? refused.get(i) : undefined;
    if (r !== undefined) rejected.push(r);
  }
  const steps: ScoringStep[] = [];
  for (const s of stepAt) if (s !== undefined) steps.push(s);
  replays.sort((a, b) => a.order - b.order);
  return { items, rejected, steps, replays, staged, refusals, duplicates };
}

export function applyToState(store: StateStore, spec: CompiledSpec): OperatorFunction<readonly Routed[], AggregatedBatch> {
  return concatMap((items) => aggregateBatch(items, store, spec));
}
