// A bounded Kafka replay: each partition starts at the first offset at or after `fromTime` and is done
// at the offsets of `toTime` (or at its end when the replay started). Tracks how far every partition
// got, for progress and for completing the stream once all are done.
import type { Admin } from 'kafkajs';
import { splitStream, streamOf } from './partition-watermarks.js';

export interface ReplayWindow {
  readonly fromTime: number;
  readonly toTime?: number;
}

interface Range {
  next: number;
  readonly start: number;
  readonly end: number;
}

export class ReplayBounds {
  private readonly ranges = new Map<string, Range>();

  /** Resolves the offsets of the window on every partition of the topics. */
  async resolve(admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp'>, topics: readonly string[], window: ReplayWindow): Promise<void> {
    for (const topic of topics) {
      const high = await admin.fetchTopicOffsets(topic);
      const starts = await admin.fetchTopicOffsetsByTimestamp(topic, window.fromTime);
      const ends = window.toTime === undefined ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, window.toTime);
      for (const h of high) {
        const startRaw = Number(starts.find((s) => s.partition === h.partition)?.offset ?? h.offset);
        // An offset of -1 means no record at or after the time: start at the end.
        const start = startRaw < 0 ? Number(h.high) : startRaw;
        const endRaw = ends ? Number(ends.find((e) => e.partition === h.partition)?.offset ?? h.high) : Number(h.high);
        const end = endRaw < 0 ? Number(h.high) : Math.min(endRaw, Number(h.high));
        this.ranges.set(streamOf(topic, h.partition), { next: start, start, end: Math.max(start, end) });
      }
    }
  }

  /** Where each partition starts. */
  starts(): { topic: string; partition: number; offset: number }[] {
    return [...this.ranges].map(([stream, r]) => {
      const [topic, partition] = splitStream(stream);
      return { topic, partition, offset: r.start };
    });
  }

  /** What to do with a record: emit it, skip it (before the start), or stop the partition (past its end). */
  admit(stream: string, offset: number): 'emit' | 'skip' | 'end' {
    const r = this.ranges.get(stream);
    if (!r) return 'emit';
    if (offset < r.start) return 'skip';
    if (offset >= r.end) return 'end';
    r.next = offset + 1;
    return 'emit';
  }

  done(): boolean {
    return [...this.ranges.values()].every((r) => r.next >= r.end);
  }

  get size(): number {
    return this.ranges.size;
  }

  progress(): { done: number; total: number } | undefined {
    if (this.ranges.size === 0) return undefined;
    let done = 0;
    let total = 0;
    for (const r of this.ranges.values()) {
      done += r.next - r.start;
      total += r.end - r.start;
    }
    return { done, total };
  }
}
