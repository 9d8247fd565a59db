// The state half of a batch, on any store: stage (load the customers, run the shared transition on
// private copies, let the caller observe every step) and commit (write the new states, with whatever
// the caller stored in them — decisions in the outbox, the last score — fenced on the loaded versions).
// Between the two the engine scores and decides, so a decision is stored in the same atomic write as
// the state change that produced it.
import { ChurnflowError } from '../errors.js';
import { applyDelta, DEFAULT_DEDUPE, enforceBudget, trimOutbox, type ApplyOutcome, type CustomerState, type StateDelta } from './customer-state.js';
import { createYieldPoint } from '../time/yield-point.js';
import { groupByCustomer, type ApplyResult, type LoadedCustomer, type StartObserver, type StateStore, type StepObserver } from './state-store.js';

export interface StagedCustomer {
  readonly loaded: LoadedCustomer;
  /** The state after this batch's deltas (loaded.state, changed in place). */
  readonly state: CustomerState;
  readonly deltas: readonly StateDelta[];
  readonly outcomes: readonly ApplyOutcome[];
}

export async function stageDeltas(store: StateStore, deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<StagedCustomer[]> {
  if (deltas.length === 0) return [];
  const groups = groupByCustomer(deltas);
  const loaded = await store.load([...groups.keys()]);
  const { layout, dedupe = DEFAULT_DEDUPE } = store.rules;
  let i = 0;
  const staged: StagedCustomer[] = [];
  const pause = createYieldPoint(); // the observer computes feature rows: let probes and heartbeats in between customers
  for (const group of groups.values()) {
    const turn = pause();
    if (turn !== undefined) await turn; // an await of nothing would still cost a microtask per customer
    const l = loaded[i++]!;
    const state = l.state;
    onStart?.(l);
    const { deltas: mine, at } = group;
    const outcomes: ApplyOutcome[] = [];
    for (let k = 0; k < mine.length; k++) {
      const d = mine[k]!;
      const outcome = applyDelta(state, d, layout, dedupe);
      observe?.(state, d, outcome, at[k]!);
      outcomes.push(outcome);
    }
    enforceBudget(state, layout, store.rules.maxBytesPerCustomer, store.rules.onBudgetExceeded);
    staged.push({ loaded: l, state, deltas: mine, outcomes });
  }
  return staged;
}

/**
 * Writes the staged states. Outbox entries of offsets below `committed` (per stream) are dropped first.
 * A customer whose version moved since it was loaded (another instance wrote it) fails the whole call
 * with CF_STATE_FENCED, retriable: running the batch again re-stages it from the new state, where the
 * other writer's positions are duplicates whose stored decisions are re-emitted. Customers written
 * before the refusal stay written; a rerun finds their positions applied and their decisions stored.
 */
export async function commitStaged(store: StateStore, staged: readonly StagedCustomer[], committed: ReadonlyMap<string, number> = new Map()): Promise<void> {
  // A customer whose every delta was a redelivery did not change: nothing to write (its trim can wait).
  const writes = staged.filter((s) => s.outcomes.some((o) => o !== 'duplicate'));
  if (writes.length === 0) return;
  if (committed.size > 0) for (const s of writes) trimOutbox(s.state, committed);
  const fenced = await store.write(writes.map((s) => ({ loaded: s.loaded, state: s.state })));
  if (fenced.length > 0) throw fencedError(fenced);
}

/** CF_STATE_FENCED, retriable: these customers changed since they were loaded (another instance wrote them). */
export function fencedError(fenced: readonly string[]): ChurnflowError {
  return new ChurnflowError('CF_STATE_FENCED', `${fenced.length} customer(s) changed since they were loaded (another instance wrote them, e.g. ${fenced[0]}); the batch runs again`, {
    retriable: true,
    details: { customers: fenced.slice(0, 10) },
  });
}

/** Stage and commit in one go, for paths that store no decisions (snapshots, state loads, tests). */
export async function applyDeltas(store: StateStore, deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
  const staged = await stageDeltas(store, deltas, observe, onStart);
  await commitStaged(store, staged);
  return staged.map((s) => ({ customerId: s.state.customerId, deltas: s.deltas, outcomes: s.outcomes }));
}
