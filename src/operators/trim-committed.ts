// After a batch's commit: delete the outbox entries its customers hold below the confirmed committed
// offsets (src/state/outbox-trimmer.ts), in the background. The entries are the decisions of this batch
// and of earlier ones still held; redeliveries (customers the batch did not write) are trimmed alike.
import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import type { OutboxTrimmer } from '../state/outbox-trimmer.js';
import type { DecidedBatch } from './batch.js';

export function trimCommitted<B extends DecidedBatch>(trimmer: OutboxTrimmer, committed: CommittedOffsets): MonoTypeOperatorFunction<B> {
  return tap((batch) => {
    if (batch.staged.length > 0) trimmer.trim(statesOf(batch), committed.snapshot());
  });
}

function* statesOf(batch: DecidedBatch): Iterable<DecidedBatch['staged'][number]['state']> {
  for (const s of batch.staged) yield s.state;
}
