// Last stage of a batch: commit the source positions of everything in it (accepted, dead-lettered and
// late alike) and return the flow-control credits, only after all of its outputs were acknowledged.
// Confirmed commits are recorded, so outbox entries below them can be trimmed (committed-offsets.ts).
import { concatMap, type OperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import type { FlowControl } from '../sources/flow-control.js';
import type { RecordSource } from '../sources/record-source.js';
import type { AggregatedBatch } from './batch.js';

export function acknowledge<B extends AggregatedBatch>(source: RecordSource, flow: FlowControl, committed?: CommittedOffsets): OperatorFunction<B, B> {
  return concatMap(async (batch) => {
    const records = batch.items.map((i) => i.record);
    const confirmed = await source.commit(records);
    if (committed) {
      for (const r of records) {
        // A source that tells which streams it committed (Kafka: not those refused after a rebalance) is believed; others commit all.
        if (confirmed === undefined || confirmed.has(r.position.stream)) committed.confirm(r.position.stream, r.position.offset + 1);
      }
    }
    flow.release(batch.items.length);
    return batch;
  });
}
