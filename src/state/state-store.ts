// The port every state store implements (memory for the embedded modes, Redis in production).
// test/contract/state-store.contract.ts is the one suite both must pass.
//
// A batch goes through a store in two steps (src/state/stage-deltas.ts): `load` reads the customers'
// states with a version each, the shared TypeScript transition (applyDelta) runs on those copies, the
// engine scores and decides, and `write` stores each new state together with the decisions it produced
// — atomically per customer, and only if the customer's version is still the one loaded (a fence:
// two instances racing on a partition after a rebalance cannot both win). The transition exists once,
// in TypeScript; stores only keep states.
import type { ApplyOutcome, CustomerState, DedupeOptions, StateDelta, StateLayout } from './customer-state.js';

/**
 * Called once per delta, right after it was applied (or recognised as a duplicate / refused), with the
 * customer's state at that point. The state is only valid during the call: read it, do not keep it.
 */
/** `index`: the delta's place in the deltas handed to the store (observers put per-event results back in order by it). */
export type StepObserver = (state: Readonly<CustomerState>, delta: StateDelta, outcome: ApplyOutcome, index: number) => void;

/** Called once per customer of a batch, as loaded, before its first delta (its state: same validity rule as StepObserver). */
export type StartObserver = (loaded: LoadedCustomer) => void;

export interface ApplyResult {
  readonly customerId: string;
  /** This customer's deltas, in the order given. */
  readonly deltas: readonly StateDelta[];
  /** Per delta: applied, a redelivery (duplicate), a content duplicate, or refused (before_signup). */
  readonly outcomes: readonly ApplyOutcome[];
}

export interface StoreStats {
  readonly customers: number;
  /** Bytes of all customer state, where the store can tell (Redis: MEMORY USAGE; memory: serialized JSON). */
  readonly bytes: number;
}

/** The rules every store applies the same way (they are part of the state's meaning, not the store's). */
export interface StateRules {
  readonly layout: StateLayout;
  /** Per-customer budget; a state above it sheds its oldest buckets into the archive (counted). */
  readonly maxBytesPerCustomer?: number;
  readonly onBudgetExceeded?: (customerId: string, bytes: number) => void;
  /** Content-duplicate horizon (default DEFAULT_DEDUPE). */
  readonly dedupe?: DedupeOptions;
}

/** A customer's state as loaded: a private copy the caller may change, and the version it was at. */
export interface LoadedCustomer {
  readonly state: CustomerState;
  /** 0 for a customer the store does not know; each successful write moves it by one. */
  readonly version: number;
  /** Store-private data about the stored form (e.g. the Redis hash as read), handed back to write(). */
  readonly stored?: unknown;
  /**
   * True when the state was read from Redis (not handed over by the hot cache): only such a state can
   * trail decisions stored ahead of it (HotCachedStore.writeDecisions).
   */
  readonly read?: boolean;
}

export interface CustomerWrite {
  readonly loaded: LoadedCustomer;
  /** The new state (typically loaded.state after the transition). */
  readonly state: CustomerState;
}

/** Outbox entries of one customer to delete (StateStore.dropOutbox): keys as in CustomerState.outbox. */
export interface OutboxDrop {
  readonly customerId: string;
  readonly keys: readonly string[];
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  readonly rules: StateRules;
  /** Copies of the customers' states, in the order asked (an unknown customer: empty state, version 0). */
  load(customerIds: readonly string[]): Promise<LoadedCustomer[]>;
  /**
   * Stores each state only if its customer is still at the loaded version (atomic per customer).
   * Resolves with the ids whose fence failed (another writer got there first); their writes did nothing.
   * The store may keep the written state objects: the caller must not change them afterwards.
   */
  write(writes: readonly CustomerWrite[]): Promise<readonly string[]>;
  /**
   * Deletes these outbox entries where they still exist, for entries of committed offsets only (see
   * src/state/outbox-trimmer.ts): a consumer resumes at the committed offset, so nobody asks for them
   * again. Not fenced and the version stays: a concurrent writer holding a copy with the entries either
   * leaves them as they are in the store (unchanged fields are not sent) or deletes them itself.
   * A customer or entry that is not there is skipped.
   */
  dropOutbox(drops: readonly OutboxDrop[]): Promise<void>;
  /** load → applyDelta → write, for paths that store no decisions (snapshots, state loads). See stage-deltas.ts. */
  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]>;
  get(customerIds: readonly string[]): Promise<(CustomerState | null)[]>;
  /** Every customer, in pages, for batch scoring and snapshots. */
  scan(pageSize?: number): AsyncIterable<CustomerState[]>;
  /**
   * Every customer id, in pages of at most pageSize, without reading any state (drift sampling picks
   * ids first, then loads only those). `unique: false` lets an id repeat (Redis: a SCAN during a rehash)
   * and keeps memory O(pageSize) however many customers there are; by default each id comes once.
   */
  scanIds(pageSize?: number, options?: { readonly unique?: boolean }): AsyncIterable<string[]>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/** One customer's deltas of a batch, in order, with their indices in the batch. */
export interface CustomerGroup {
  readonly deltas: StateDelta[];
  readonly at: number[];
}

/** Groups deltas by customer, keeping the order of first appearance and per-customer order. */
export function groupByCustomer(deltas: readonly StateDelta[]): Map<string, CustomerGroup> {
  const groups = new Map<string, CustomerGroup>();
  for (let i = 0; i < deltas.length; i++) {
    const d = deltas[i]!;
    const g = groups.get(d.customerId);
    if (g) {
      g.deltas.push(d);
      g.at.push(i);
    } else groups.set(d.customerId, { deltas: [d], at: [i] });
  }
  return groups;
}
