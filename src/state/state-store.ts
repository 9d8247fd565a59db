// The port every state store implements (memory for the embedded modes, Redis in production).
// test/contract/state-store.contract.ts is the one suite both must pass.
import type { ApplyOutcome, CustomerState, LastScore, StateDelta } from './customer-state.js';

/**
 * Called once per delta, right after it was applied (or recognised as a duplicate / refused), with the
 * customer's state at that point. The state is only valid during the call: read it, do not keep it.
 */
export type StepObserver = (state: Readonly<CustomerState>, delta: StateDelta, outcome: ApplyOutcome) => void;

/** Called once per customer of a batch with its state before the first delta (same validity rule as StepObserver). */
export type StartObserver = (state: Readonly<CustomerState>) => void;

export interface ApplyResult {
  readonly customerId: string;
  /** This customer's deltas, in the order given. */
  readonly deltas: readonly StateDelta[];
  /** Per delta: applied, a redelivery of an applied position (duplicate), or refused (before_signup). */
  readonly outcomes: readonly ApplyOutcome[];
}

export interface StoreStats {
  readonly customers: number;
  /** Serialized bytes of all customer state, where the store can tell. */
  readonly bytes: number;
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Applies deltas atomically per customer and effectively once (by source position); per-customer
   * order is kept. `observe` sees the state after each delta, whatever store holds it.
   */
  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]>;
  get(customerIds: readonly string[]): Promise<(CustomerState | null)[]>;
  /** Remembers the last emitted score per customer, so "score changed" survives restarts. */
  recordScores(scores: readonly { customerId: string; lastScore: LastScore }[]): Promise<void>;
  // (lastScore is the customer's latest emitted risk, kept beside its state for lookups; emission
  // decisions never read it — they compare scores of exact states, see operators/apply-to-state.ts.)
  /** Every customer, in pages, for batch scoring and snapshots. */
  scan(pageSize?: number): AsyncIterable<CustomerState[]>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/** Groups deltas by customer, keeping the order of first appearance and per-customer order. */
export function groupByCustomer(deltas: readonly StateDelta[]): Map<string, StateDelta[]> {
  const groups = new Map<string, StateDelta[]>();
  for (const d of deltas) {
    const g = groups.get(d.customerId);
    if (g) g.push(d);
    else groups.set(d.customerId, [d]);
  }
  return groups;
}
