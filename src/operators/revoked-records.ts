// Records of a partition revoked from this instance after they were emitted (a rebalance moved it while
// they waited in the pipeline) are left to the partition's new owner, which processes them from the
// last commit: this instance neither applies nor commits them. Applying them anyway raced the new owner
// on the same customers: each fenced write sent one instance or the other to a reload and a retry, and
// the old owner's commits could move the group's offsets of a partition it no longer owned.
//
// Per batch: its current items are taken when it starts (and again if it runs again), the credits of
// the dropped ones go back to the flow control once, and right before the batch writes anything a
// revocation that came meanwhile makes it run again without them (CF_PARTITION_REVOKED, retried at
// once). Only a batch already writing when the revocation came finishes as it is; its writes stay
// fenced, and the commit schedule never commits the revoked partitions (commit-schedule.ts).
import { ChurnflowError } from '../errors.js';
import type { RawRecord } from '../events/activity-event.js';
import type { Routed } from '../events/routed.js';
import type { FlowControl } from '../sources/flow-control.js';

export class RevokedRecords {
  constructor(
    private readonly isCurrent: ((record: RawRecord) => boolean) | undefined,
    private readonly flow: FlowControl,
    /** Records dropped (first seen revoked), for the metric. */
    private readonly onDropped?: (records: number) => void,
  ) {}

  /** The guard of one micro-batch. */
  forBatch(items: readonly Routed[]): BatchOwnership {
    return new BatchOwnership(items, this.isCurrent, (n) => {
      this.flow.release(n);
      this.onDropped?.(n);
    });
  }
}

export class BatchOwnership {
  /** Items dropped so far (their credits returned): a revocation only ever adds to them. */
  private dropped = 0;

  constructor(
    private readonly items: readonly Routed[],
    private readonly isCurrent: ((record: RawRecord) => boolean) | undefined,
    private readonly release: (n: number) => void,
  ) {}

  /** The batch's items still this instance's to process, at the start of each run of the batch. */
  current(): readonly Routed[] {
    const isCurrent = this.isCurrent;
    if (isCurrent === undefined || this.items.every((i) => isCurrent(i.record))) return this.items;
    const kept = this.items.filter((i) => isCurrent(i.record));
    const dropped = this.items.length - kept.length;
    if (dropped > this.dropped) {
      this.release(dropped - this.dropped);
      this.dropped = dropped;
    }
    return kept;
  }

  /** Before the batch writes: throws (retriable) if a revocation since its start took any of `items`. */
  assertCurrent(items: readonly Routed[]): void {
    const isCurrent = this.isCurrent;
    if (isCurrent === undefined) return;
    const revoked = items.reduce((n, i) => (isCurrent(i.record) ? n : n + 1), 0);
    if (revoked > 0) {
      throw new ChurnflowError('CF_PARTITION_REVOKED', `${revoked} record(s) of this batch belong to partitions revoked while it ran; it runs again without them`, { retriable: true, details: { revoked } });
    }
  }
}
