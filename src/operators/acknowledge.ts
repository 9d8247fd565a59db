// Last stage of a batch: hand the source positions of everything in it (accepted, dead-lettered and
// late alike) to the commit schedule, only after all of its outputs were acknowledged, and return the
// flow-control credits. The schedule commits now or at its interval, after the states are written
// (commit-schedule.ts); confirmed commits are recorded, so outbox entries below them can be trimmed.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { FlowControl } from '../sources/flow-control.js';
import type { AggregatedBatch } from './batch.js';
import type { CommitSchedule } from './commit-schedule.js';

export function acknowledge<B extends AggregatedBatch>(schedule: CommitSchedule, flow: FlowControl, onAcknowledged?: (records: number) => void): OperatorFunction<B, B> {
  return concatMap(async (batch) => {
    await schedule.processed(batch.items.map((i) => i.record));
    flow.release(batch.items.length);
    onAcknowledged?.(batch.items.length);
    return batch;
  });
}
