// Stores each customer's last emitted score after its risk event is acknowledged, so the "did the
// score change" rule continues across restarts.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { StateStore } from '../state/state-store.js';
import type { DecidedBatch } from './batch.js';

export function rememberScores<B extends DecidedBatch>(store: StateStore): OperatorFunction<B, B> {
  return concatMap(async (batch) => {
    if (batch.lastScores.length > 0) await store.recordScores(batch.lastScores);
    return batch;
  });
}
