// The offsets this engine knows to be committed, per source stream: an outbox entry below them belongs
// to a record nobody will redeliver (a consumer resumes at the committed offset), so it can be dropped:
// right after the commit (src/state/outbox-trimmer.ts), or at its customer's next write. Only confirmed commits count; a refused one (after a
// rebalance) leaves the last confirmed offset in place. A stream revoked and later reassigned keeps
// its last confirmed offset: the group's committed offset only moves forward — every member commits
// only the partitions it owns (RecordSource.isCurrent) — so trimming below it stays safe.
export class CommittedOffsets {
  private readonly next = new Map<string, number>();

  /** Records that every offset below `nextOffset` of `stream` is committed. */
  confirm(stream: string, nextOffset: number): void {
    if (nextOffset > (this.next.get(stream) ?? -1)) this.next.set(stream, nextOffset);
  }

  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.next);
  }
}
