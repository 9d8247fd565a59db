// A stream's frontier after each offset that moved it, oldest first, for commits to persist
// (watermark.ts frontierAt). Kept in two number arrays from a head index: one checkpoint per event that
// moves the frontier — most events of a stream in time order — so no object per event, O(1) to drop
// the oldest, and a binary search to find an offset. Commits that trail processing (write-behind holds
// them up to 10 s) leave tens of thousands of checkpoints per stream; the array of objects it replaces
// shifted one out per event past its bound (O(n) each: a third of the engine's CPU on the peer bench)
// and scanned from the start per commit.

export class FrontierCheckpoints {
  private readonly offsets: number[] = [];
  private readonly frontiers: number[] = [];
  private head = 0;

  get size(): number {
    return this.offsets.length - this.head;
  }

  /** The frontier moved to `frontier` at `offset`. An offset at or below the last one (a redelivery) raises the checkpoints from it on instead. */
  push(offset: number, frontier: number): void {
    const last = this.offsets.length - 1;
    if (last >= this.head && offset <= this.offsets[last]!) {
      for (let j = last; j >= this.head && this.offsets[j]! >= offset; j--) if (this.frontiers[j]! < frontier) this.frontiers[j] = frontier;
      return;
    }
    this.offsets.push(offset);
    this.frontiers.push(frontier);
  }

  /** Drops the oldest checkpoint; returns its frontier. */
  shift(): number | undefined {
    if (this.size === 0) return undefined;
    const f = this.frontiers[this.head]!;
    this.head++;
    this.compact();
    return f;
  }

  /**
   * The frontier of the last checkpoint at or before `offset` (undefined if none), dropping those before
   * it; `onDropped` gets the frontier of the last one dropped (the new "before the first" frontier).
   */
  at(offset: number, onDropped: (frontier: number) => void): number | undefined {
    let lo = this.head;
    let hi = this.offsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const frontier = this.frontiers[found]!;
    // Keep the one found (it stays the answer until a later checkpoint is passed); what precedes it is history.
    if (found > this.head) {
      onDropped(this.frontiers[found - 1]!);
      this.head = found;
      this.compact(); // moves the indices: read before
    }
    return frontier;
  }

  clear(): void {
    this.offsets.length = 0;
    this.frontiers.length = 0;
    this.head = 0;
  }

  /** Gives the dropped prefix back once it is at least half the arrays (amortised O(1) per checkpoint). */
  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.offsets.length) return;
    this.offsets.splice(0, this.head);
    this.frontiers.splice(0, this.head);
    this.head = 0;
  }
}
