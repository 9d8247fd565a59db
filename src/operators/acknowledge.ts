// Last stage of a batch: commit the source positions of everything in it (accepted, dead-lettered and
// late alike) and return the flow-control credits, only after all of its outputs were acknowledged.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { FlowControl } from '../sources/flow-control.js';
import type { RecordSource } from '../sources/record-source.js';
import type { AggregatedBatch } from './batch.js';

export function acknowledge<B extends AggregatedBatch>(source: RecordSource, flow: FlowControl): OperatorFunction<B, B> {
  return concatMap(async (batch) => {
    await source.commit(batch.items.map((i) => i.record));
    flow.release(batch.items.length);
    return batch;
  });
}
