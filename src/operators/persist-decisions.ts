// Persists a decided batch's state changes together with the decisions they produced: each customer's
// new state, its outbox entries (the risk and shadow events of its events, refusals) and its last
// published score (the emit rule's memory) go to the store in one fenced write per customer, BEFORE any output is sent. So an
// event's decision exists exactly once, with the state change that made it; a redelivery re-emits it.
// A fenced write (another instance wrote the customer since it was loaded) fails the batch with a
// retriable error, and the batch runs again from loading.
// With write-behind (a commit interval on the hot cache, commit-schedule.ts), a customer for whom the
// batch decided nothing — no risk or shadow event, no refusal, no new last score — is not written here:
// nothing of it goes out before the commit, and the commit writes it first. A decided customer has only
// its new outbox entries written here (fenced, HotCachedStore.writeDecisions): the decisions are durable
// before any output, the state waits like the others; a restart re-applies the records after the
// stored state and re-emits their stored decisions, with the emit memory they left.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import { commitStaged, fencedError } from '../state/stage-deltas.js';
import type { WriteBehindStore } from '../state/hot-cache.js';
import type { Clock } from '../time/clock.js';
import type { StateStore } from '../state/state-store.js';
import type { DecidedBatch } from './batch.js';

/** Undecided customers may wait (the write-behind store, and the clock that dates them). */
export interface DeferUndecided {
  readonly store: WriteBehindStore;
  readonly clock: Clock;
}

export async function persistBatch<B extends DecidedBatch>(batch: B, store: StateStore, committed?: CommittedOffsets, writeBehind?: DeferUndecided): Promise<B> {
  const byCustomer = new Map(batch.staged.map((s) => [s.state.customerId, s.state]));
  const decided = writeBehind ? new Set<string>() : undefined;
  for (const e of batch.outbox) {
    byCustomer.get(e.customerId)!.outbox[e.key] = e.payload;
    decided?.add(e.customerId);
  }
  for (const { customerId, lastScore } of batch.lastScores) {
    byCustomer.get(customerId)!.lastScore = lastScore;
    decided?.add(customerId);
  }
  for (const { customerId, lastScore } of batch.shadowScores ?? []) {
    byCustomer.get(customerId)!.shadowScore = lastScore;
    decided?.add(customerId);
  }
  if (writeBehind === undefined || decided === undefined) {
    await commitStaged(store, batch.staged, committed?.snapshot());
    return batch;
  }
  const decidedNow = batch.staged.filter((s) => decided.has(s.state.customerId));
  const later = batch.staged.filter((s) => !decided.has(s.state.customerId));
  const at = writeBehind.clock.now();
  const positions = committed?.snapshot();
  // Decided customers: their decisions are stored now, fenced, and their states wait like the others
  // (a restart re-applies their records and re-emits those decisions as stored, apply-to-state.ts).
  const { rest, fenced } = await writeBehind.store.writeDecisions(decidedNow, at, positions);
  if (fenced.length > 0) throw fencedError(fenced);
  // Those the store does not take (loaded before a revocation) are written now, as without write-behind.
  for (const s of writeBehind.store.defer(later, at)) rest.push(s);
  await commitStaged(store, rest, positions);
  return batch;
}

/** `writeBehind`: given when undecided customers may stay unwritten for a while (commit-schedule.ts). */
export function persistDecisions<B extends DecidedBatch>(store: StateStore, committed?: CommittedOffsets, writeBehind?: DeferUndecided): OperatorFunction<B, B> {
  return concatMap((batch) => persistBatch(batch, store, committed, writeBehind));
}
