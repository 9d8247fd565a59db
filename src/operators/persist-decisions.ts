// Persists a decided batch's state changes together with the decisions they produced: each customer's
// new state, its outbox entries (the risk and shadow events of its events, refusals) and its last
// published score (the emit rule's memory) go to the store in one fenced write per customer, BEFORE any output is sent. So an
// event's decision exists exactly once, with the state change that made it; a redelivery re-emits it.
// A fenced write (another instance wrote the customer since it was loaded) fails the batch with a
// retriable error, and the batch runs again from loading.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import { commitStaged } from '../state/stage-deltas.js';
import type { StateStore } from '../state/state-store.js';
import type { DecidedBatch } from './batch.js';

export async function persistBatch<B extends DecidedBatch>(batch: B, store: StateStore, committed?: CommittedOffsets): Promise<B> {
  const byCustomer = new Map(batch.staged.map((s) => [s.state.customerId, s.state]));
  for (const e of batch.outbox) byCustomer.get(e.customerId)!.outbox[e.key] = e.payload;
  for (const { customerId, lastScore } of batch.lastScores) byCustomer.get(customerId)!.lastScore = lastScore;
  for (const { customerId, lastScore } of batch.shadowScores ?? []) byCustomer.get(customerId)!.shadowScore = lastScore;
  await commitStaged(store, batch.staged, committed?.snapshot());
  return batch;
}

export function persistDecisions<B extends DecidedBatch>(store: StateStore, committed?: CommittedOffsets): OperatorFunction<B, B> {
  return concatMap((batch) => persistBatch(batch, store, committed));
}
