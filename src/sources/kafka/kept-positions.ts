// Where each partition's fetching resumes after a rebalance that leaves it with this member. kafkajs
// (eager protocol) starts every generation from the group's committed offsets, also for the
// partitions a member keeps; with write-behind the commit trails what was emitted by up to the write
// delay, so every rebalance made a member fetch, decode, apply and re-publish seconds of its own
// partitions' records again (a scale-out measured 92–105 s instead of 60–70 s when the first member
// kept two of three partitions). The records emitted before the rebalance are still this member's:
// they are in its stages, their states in its cache, their commit in its schedule. So a partition
// kept across a join resumes after the last record emitted under the same ownership, as a
// cooperative rebalance (or Kafka Streams committing on revocation) would leave it.
export interface KeptPosition {
  readonly topic: string;
  readonly partition: number;
  /** The offset to fetch next. */
  readonly offset: number;
}

export class KeptPositions {
  /** Per stream: the last offset emitted and the ownership epoch it was emitted under. */
  private readonly last = new Map<string, { topic: string; partition: number; offset: number; epoch: number }>();

  /** A record of this stream up to `offset` was handed to the stages under ownership `epoch`. */
  emitted(stream: string, topic: string, partition: number, offset: number, epoch: number | undefined): void {
    if (epoch === undefined) return;
    const cur = this.last.get(stream);
    if (cur === undefined || cur.epoch !== epoch || offset > cur.offset) this.last.set(stream, { topic, partition, offset, epoch });
  }

  /**
   * After a join (the assignment tracker updated): the positions to seek to, one per partition still
   * owned under the epoch its records were emitted in. Partitions lost (or lost and assigned again)
   * are forgotten: they start from the group's committed offset, where their owner left them.
   */
  afterJoin(epochOf: (stream: string) => number | undefined): KeptPosition[] {
    const seeks: KeptPosition[] = [];
    for (const [stream, p] of this.last) {
      if (epochOf(stream) !== p.epoch) this.last.delete(stream);
      else seeks.push({ topic: p.topic, partition: p.partition, offset: p.offset + 1 });
    }
    return seeks;
  }
}
