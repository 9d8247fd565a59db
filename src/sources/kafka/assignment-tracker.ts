// Which partitions this member owns, from kafkajs' GROUP_JOIN events. A partition that is no longer
// assigned is reported revoked (so its watermark, lag gauge and drift state go); a newly assigned one
// gets the event-time frontier its last owner committed with the offset, before its first record.
// Each partition this member takes over gets a new ownership epoch, kept while it stays assigned: a
// record emitted under an epoch that is gone (revoked, maybe assigned again since) is no longer this
// member's to commit (kafka-source.ts isCurrent).
import type { IMemberAssignment } from 'kafkajs';
import { streamOf, type PartitionWatermarks } from './partition-watermarks.js';

export interface AssignmentTrackerOptions {
  /** Committed frontiers of a topic's partitions (the group's offset metadata). */
  readonly fetchCommittedFrontiers: (topic: string) => Promise<Map<number, number>>;
  readonly watermarks?: PartitionWatermarks;
  readonly onRevoked?: (streams: readonly string[]) => void;
}

export class AssignmentTracker {
  private owned = new Set<string>();
  /** Per owned stream, the epoch it was assigned in (not renewed while it stays assigned across joins). */
  private readonly epochs = new Map<string, number>();
  private lastEpoch = 0;
  /** Per topic, the frontiers being restored for the partitions assigned by the last join. */
  private seeding = new Map<string, Promise<void>>();
  private pendingSeed = new Set<string>();

  constructor(private readonly options: AssignmentTrackerOptions) {}

  /** A GROUP_JOIN: the member's whole new assignment. Returns the revoked streams. */
  joined(assignment: IMemberAssignment): string[] {
    const next = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const p of partitions) next.add(streamOf(topic, p));
    const revoked = [...this.owned].filter((s) => !next.has(s));
    for (const s of next) {
      if (this.owned.has(s)) continue;
      this.pendingSeed.add(s);
      this.epochs.set(s, ++this.lastEpoch);
    }
    for (const s of revoked) {
      this.pendingSeed.delete(s);
      this.epochs.delete(s);
    }
    this.owned = next;
    this.seeding = new Map();
    for (const s of revoked) this.options.watermarks?.remove(s);
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
    return revoked;
  }

  /** Everything is revoked (the consumer left the group). */
  left(): void {
    this.joined({});
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(streamOf(topic, partition));
  }

  /** The ownership epoch of a stream this member owns now; undefined if it does not own it. */
  epochOf(stream: string): number | undefined {
    return this.epochs.get(stream);
  }

  /** Resolves once the partition's committed frontier (if any) is in the tracker; call before emitting its records. */
  async ready(topic: string, partition: number): Promise<void> {
    const stream = streamOf(topic, partition);
    if (!this.pendingSeed.has(stream) || !this.options.watermarks) return;
    let seeding = this.seeding.get(topic);
    if (!seeding) {
      seeding = this.options.fetchCommittedFrontiers(topic).then((frontiers) => {
        for (const [p, frontier] of frontiers) {
          const s = streamOf(topic, p);
          if (this.pendingSeed.delete(s)) this.options.watermarks!.seed(s, frontier);
        }
        // Partitions without a persisted frontier start from their records, as before.
        for (const s of [...this.pendingSeed]) if (s.startsWith(`${topic}/`)) this.pendingSeed.delete(s);
      });
      seeding.catch(() => this.seeding.delete(topic)); // failed: the next batch asks again
      this.seeding.set(topic, seeding);
    }
    await seeding;
  }
}
