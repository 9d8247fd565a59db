// The offsets this engine knows to be committed, per source stream: an outbox entry below them belongs
// to a record nobody will redeliver (a consumer resumes at the committed offset), so it can be dropped:
// right after the commit (src/state/outbox-trimmer.ts), or at its customer's next write. Only confirmed commits count; a refused one (after a
// rebalance) leaves the last confirmed offset in place. A stream revoked while the commit schedule
// still held records of it is forgotten (forget()); otherwise it keeps its last confirmed offset,
// below which trimming stays safe: the group's committed offset only moves forward.
export class CommittedOffsets {
  private readonly next = new Map<string, number>();

  /** Records that every offset below `nextOffset` of `stream` is committed. */
  confirm(stream: string, nextOffset: number): void {
    if (nextOffset > (this.next.get(stream) ?? -1)) this.next.set(stream, nextOffset);
  }

  /**
   * A stream this engine no longer owns: its offsets are the new owner's to move. Forgotten, its outbox
   * entries are no longer trimmed here, and customers waiting for a commit of it stop waiting
   * (trim-committed.ts) instead of being walked at every commit for good.
   */
  forget(stream: string): void {
    this.next.delete(stream);
  }

  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.next);
  }
}
